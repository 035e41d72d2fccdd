-- The transactional outbox (SPEC §4): written in the same transaction as the deliveries it
-- announces, published by the relay, deleted in batches after a retention period.
--
-- No foreign key to deliveries: rows are short-lived, purged in bulk, and carry everything the
-- relay publishes, so the relay never joins.
CREATE TABLE outbox (
    id               TEXT    NOT NULL,
    delivery_id      TEXT    NOT NULL,
    notification_id  TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    priority         TEXT    NOT NULL,
    -- The delivery's try number the publication leads to (queue header `attempt`).
    attempt          INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    publish_attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    -- NULL until published; published rows wait for the purge.
    published_at     INTEGER,
    -- SQLite has no SKIP LOCKED: a claim hides rows by leasing them instead, so a relay that
    -- dies mid-batch only delays its rows until the lease ends.
    leased_until     INTEGER,
    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_publish_attempts_check CHECK (publish_attempts >= 0)
) STRICT;

-- The relay's claim (unpublished, due, oldest first), the backlog gauge and the purge.
CREATE INDEX outbox_published_at_next_attempt_at_created_at_idx
    ON outbox (published_at, next_attempt_at, created_at);
