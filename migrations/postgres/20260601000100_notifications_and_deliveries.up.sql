-- Notifications, their deliveries and every dispatch try (SPEC §3, §4, §5.1).
--
-- The same tables, columns and constraint names as migrations/sqlite (ADR 0016), in PostgreSQL
-- types:
-- * Instants are TIMESTAMPTZ (microsecond precision, like the SQLite integer microseconds).
-- * Ids are TEXT in their prefixed form (`ntf_01J…`) with COLLATE "C": byte order, so the ULID
--   text sorts like the ULID whatever the database's default collation. The same for every
--   text column the adapter orders or pages by.
-- * Enums are their wire names (`PENDING`); counts are BIGINT; flags BOOLEAN.
-- * Documents the adapter never queries inside are JSON(B).

CREATE TABLE notifications (
    id              TEXT COLLATE "C" NOT NULL,
    recipient_id    TEXT COLLATE "C" NOT NULL,
    kind            TEXT        NOT NULL,
    priority        TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    -- The caller's metadata object, echoed back. JSON rather than JSONB: stored as given (JSONB
    -- refuses `\u0000` in strings), and never queried.
    metadata        JSON,
    expires_at      TIMESTAMPTZ,
    -- Channels the resolver skipped at accept time ([{channel, reason}]); only ever read whole.
    skipped         JSONB       NOT NULL DEFAULT '[]',
    -- The idempotency key lives on the notification itself: the unique constraint is the
    -- authority behind any cache (accept uses ON CONFLICT ON CONSTRAINT on it). NULL when
    -- accepted without a key (NULLs never conflict).
    scope           TEXT,
    idempotency_key TEXT,
    fingerprint     TEXT,
    CONSTRAINT notifications_pkey PRIMARY KEY (id),
    CONSTRAINT notifications_scope_idempotency_key_key UNIQUE (scope, idempotency_key),
    -- A key is all three columns or none, so a duplicate can always answer with the fingerprint.
    CONSTRAINT notifications_key_complete_check CHECK (
        (scope IS NULL) = (idempotency_key IS NULL) AND (idempotency_key IS NULL) = (fingerprint IS NULL)
    )
);

-- `GET /api/v1/notifications` is newest first over (created_at, id), with or without a recipient.
CREATE INDEX notifications_created_at_id_idx ON notifications (created_at DESC, id DESC);
CREATE INDEX notifications_recipient_id_created_at_id_idx
    ON notifications (recipient_id, created_at DESC, id DESC);

CREATE TABLE deliveries (
    id                TEXT COLLATE "C" NOT NULL,
    notification_id   TEXT COLLATE "C" NOT NULL,
    -- Kept after the recipient is erased (the target is masked then), so no foreign key.
    recipient_id      TEXT COLLATE "C" NOT NULL,
    channel           TEXT        NOT NULL,
    -- The target as channel-specific columns, so erasure can be checked by a constraint.
    -- EMAIL / PHONE / SLACK use target_address; DEVICE target_device_id + target_token;
    -- INBOX nothing; ERASED target_masked.
    target_kind       TEXT        NOT NULL,
    target_address    TEXT,
    target_device_id  TEXT,
    target_token      TEXT,
    target_masked     TEXT,
    priority          TEXT        NOT NULL,
    status            TEXT        NOT NULL,
    -- Dispatch tries since creation or the last replay (the compare-and-set guard, ADR 0011).
    tries             BIGINT      NOT NULL,
    not_before        TIMESTAMPTZ NOT NULL,
    lease_until       TIMESTAMPTZ,
    defer_reason      TEXT,
    fallback_for      TEXT,
    title             TEXT,
    body              TEXT        NOT NULL,
    lms               BOOLEAN     NOT NULL,
    vendor_message_id TEXT,
    last_error_class  TEXT,
    exhausted_at      TIMESTAMPTZ,
    discard_reason    TEXT,
    queued_at         TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    CONSTRAINT deliveries_pkey PRIMARY KEY (id),
    CONSTRAINT deliveries_notification_id_fkey FOREIGN KEY (notification_id) REFERENCES notifications (id),
    -- The state machine's statuses; a typo in an UPDATE must fail, not park a delivery forever.
    CONSTRAINT deliveries_status_check CHECK (
        status IN ('PENDING', 'DISPATCHING', 'SENT', 'DELIVERED', 'EXHAUSTED', 'DISCARDED', 'CANCELLED')
    ),
    CONSTRAINT deliveries_tries_check CHECK (tries >= 0),
    CONSTRAINT deliveries_target_check CHECK (
        (target_kind IN ('EMAIL', 'PHONE', 'SLACK') AND target_address IS NOT NULL
            AND target_device_id IS NULL AND target_token IS NULL AND target_masked IS NULL)
        OR (target_kind = 'DEVICE' AND target_device_id IS NOT NULL AND target_token IS NOT NULL
            AND target_address IS NULL AND target_masked IS NULL)
        OR (target_kind = 'INBOX' AND target_address IS NULL AND target_device_id IS NULL
            AND target_token IS NULL AND target_masked IS NULL)
        OR (target_kind = 'ERASED' AND target_masked IS NOT NULL AND target_address IS NULL
            AND target_device_id IS NULL AND target_token IS NULL)
    )
);

-- A notification's deliveries, in id (= creation) order.
CREATE INDEX deliveries_notification_id_idx ON deliveries (notification_id, id);
-- The due scheduler: PENDING rows whose not_before has come (partial: the other statuses are
-- most of the table and never scheduled).
CREATE INDEX deliveries_pending_not_before_idx ON deliveries (not_before, id) WHERE status = 'PENDING';
-- The lease reaper: DISPATCHING rows whose lease ran out.
CREATE INDEX deliveries_dispatching_lease_until_idx ON deliveries (lease_until, id)
    WHERE status = 'DISPATCHING';
-- The DLQ: EXHAUSTED rows oldest first over (exhausted_at, id), and its counts and stats.
CREATE INDEX deliveries_exhausted_exhausted_at_id_idx ON deliveries (exhausted_at, id)
    WHERE status = 'EXHAUSTED';
-- Erasure masks every delivery of a recipient.
CREATE INDEX deliveries_recipient_id_idx ON deliveries (recipient_id);
-- Vendor callbacks that only know the vendor's message id.
CREATE INDEX deliveries_vendor_message_id_idx ON deliveries (vendor_message_id)
    WHERE vendor_message_id IS NOT NULL;

-- One row per dispatch try: appended by the hot path, queryable by operators.
CREATE TABLE delivery_tries (
    delivery_id TEXT COLLATE "C" NOT NULL,
    -- 1-based position in the delivery's history; never reused, since tries are never deleted.
    seq         BIGINT      NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    outcome     TEXT        NOT NULL,
    error_class TEXT,
    vendor_code TEXT,
    detail      TEXT,
    latency_ms  BIGINT,
    CONSTRAINT delivery_tries_pkey PRIMARY KEY (delivery_id, seq),
    CONSTRAINT delivery_tries_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES deliveries (id),
    CONSTRAINT delivery_tries_seq_check CHECK (seq >= 1)
);
