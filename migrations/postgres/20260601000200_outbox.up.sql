-- The transactional outbox (SPEC §4): written in the same transaction as the deliveries it
-- announces (which also runs `pg_notify('nh_outbox', '')` to wake the relays), published by
-- the relay, deleted in batches after a retention period.
--
-- No foreign key to deliveries: rows are short-lived, purged in bulk, and carry everything the
-- relay publishes, so the relay never joins.
CREATE TABLE outbox (
    id               TEXT COLLATE "C" NOT NULL,
    delivery_id      TEXT COLLATE "C" NOT NULL,
    notification_id  TEXT COLLATE "C" NOT NULL,
    channel          TEXT        NOT NULL,
    priority         TEXT        NOT NULL,
    -- The delivery's try number the publication leads to (queue header `attempt`).
    attempt          BIGINT      NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    publish_attempts BIGINT      NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    -- NULL until published; published rows wait for the purge.
    published_at     TIMESTAMPTZ,
    -- Claims take rows with FOR UPDATE SKIP LOCKED (replicas never wait on each other) and
    -- lease them until here, so a relay that dies mid-batch only delays its rows.
    leased_until     TIMESTAMPTZ,
    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_publish_attempts_check CHECK (publish_attempts >= 0)
);

-- The relay's claim (unpublished, oldest first) and the backlog gauge: only unpublished rows.
CREATE INDEX outbox_unpublished_created_at_id_idx ON outbox (created_at, id) WHERE published_at IS NULL;
-- The purge: published rows by publication time.
CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL;
