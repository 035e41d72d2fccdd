-- Notifications, their deliveries and every dispatch try (SPEC §3, §4, §5.1).
--
-- Conventions for every SQLite table (ADR 0012, ADR 0013):
-- * Timestamps are INTEGER microseconds since the Unix epoch (UTC): comparisons and cursors are
--   exact integer comparisons, with no text-format or time-zone surprises, and the precision is
--   the same as PostgreSQL's timestamptz.
-- * Ids are TEXT in their prefixed form (`ntf_01J…`): readable in a shell, and the ULID text
--   sorts like the ULID, so `ORDER BY id` is creation order.
-- * Enums are stored as their wire names (`PENDING`), the same strings the API shows.
-- * STRICT tables, so a value of the wrong type is refused instead of silently stored.
-- * Constraint names are part of the contract (the adapter and the PostgreSQL schema use the
--   same ones); SQLite reports them in CHECK failures.

CREATE TABLE notifications (
    id              TEXT    NOT NULL,
    recipient_id    TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    priority        TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    -- The caller's metadata object, echoed back verbatim; never queried, so JSON text.
    metadata        TEXT,
    expires_at      INTEGER,
    -- Channels the resolver skipped at accept time ([{channel, reason}]); only ever read whole.
    skipped         TEXT    NOT NULL DEFAULT '[]',
    -- The idempotency key lives on the notification itself: the store is the authority behind
    -- any cache, and one UNIQUE constraint makes "same key twice" impossible even if the
    -- in-process or Redis reservation was lost. NULL when accepted without a key.
    scope           TEXT,
    idempotency_key TEXT,
    fingerprint     TEXT,
    CONSTRAINT notifications_pkey PRIMARY KEY (id),
    CONSTRAINT notifications_scope_idempotency_key_key UNIQUE (scope, idempotency_key),
    -- A key is all three columns or none, so a duplicate can always answer with the fingerprint.
    CONSTRAINT notifications_key_complete_check CHECK (
        (scope IS NULL) = (idempotency_key IS NULL) AND (idempotency_key IS NULL) = (fingerprint IS NULL)
    )
) STRICT;

-- `GET /api/v1/notifications` is newest first over (created_at, id), with or without a recipient.
CREATE INDEX notifications_created_at_id_idx ON notifications (created_at DESC, id DESC);
CREATE INDEX notifications_recipient_id_created_at_id_idx
    ON notifications (recipient_id, created_at DESC, id DESC);

CREATE TABLE deliveries (
    id                TEXT    NOT NULL,
    notification_id   TEXT    NOT NULL,
    -- Kept after the recipient is erased (the target is masked then), so no foreign key.
    recipient_id      TEXT    NOT NULL,
    channel           TEXT    NOT NULL,
    -- The target as channel-specific columns rather than one opaque text, so erasure can be
    -- checked by a constraint: after it only `target_masked` holds anything.
    -- EMAIL / PHONE / SLACK use target_address; DEVICE target_device_id + target_token;
    -- INBOX nothing; ERASED target_masked.
    target_kind       TEXT    NOT NULL,
    target_address    TEXT,
    target_device_id  TEXT,
    target_token      TEXT,
    target_masked     TEXT,
    priority          TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    -- Dispatch tries since creation or the last replay (the compare-and-set guard, ADR 0011).
    tries             INTEGER NOT NULL,
    not_before        INTEGER NOT NULL,
    lease_until       INTEGER,
    defer_reason      TEXT,
    fallback_for      TEXT,
    title             TEXT,
    body              TEXT    NOT NULL,
    lms               INTEGER NOT NULL,
    vendor_message_id TEXT,
    last_error_class  TEXT,
    exhausted_at      INTEGER,
    discard_reason    TEXT,
    queued_at         INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    CONSTRAINT deliveries_pkey PRIMARY KEY (id),
    CONSTRAINT deliveries_notification_id_fkey FOREIGN KEY (notification_id) REFERENCES notifications (id),
    -- The state machine's statuses; a typo in an UPDATE must fail, not park a delivery forever.
    CONSTRAINT deliveries_status_check CHECK (
        status IN ('PENDING', 'DISPATCHING', 'SENT', 'DELIVERED', 'EXHAUSTED', 'DISCARDED', 'CANCELLED')
    ),
    CONSTRAINT deliveries_tries_check CHECK (tries >= 0),
    CONSTRAINT deliveries_lms_check CHECK (lms IN (0, 1)),
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
) STRICT;

-- A notification's deliveries, in id (= creation) order.
CREATE INDEX deliveries_notification_id_idx ON deliveries (notification_id, id);
-- The due scheduler: PENDING rows whose not_before has come.
CREATE INDEX deliveries_status_not_before_idx ON deliveries (status, not_before);
-- The lease reaper: DISPATCHING rows whose lease ran out.
CREATE INDEX deliveries_status_lease_until_idx ON deliveries (status, lease_until);
-- The DLQ: EXHAUSTED rows oldest first over (exhausted_at, id), and its counts and stats.
CREATE INDEX deliveries_status_exhausted_at_id_idx ON deliveries (status, exhausted_at, id);
-- Erasure masks every delivery of a recipient.
CREATE INDEX deliveries_recipient_id_idx ON deliveries (recipient_id);
-- Vendor callbacks that only know the vendor's message id.
CREATE INDEX deliveries_vendor_message_id_idx ON deliveries (vendor_message_id)
    WHERE vendor_message_id IS NOT NULL;

-- One row per dispatch try rather than a JSON array on the delivery: tries are appended by
-- the hot path (one INSERT, no read-modify-write of a growing document) and stay queryable
-- for operators (by outcome, error class, vendor code).
CREATE TABLE delivery_tries (
    delivery_id TEXT    NOT NULL,
    -- 1-based position in the delivery's history; never reused, since tries are never deleted.
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    error_class TEXT,
    vendor_code TEXT,
    detail      TEXT,
    latency_ms  INTEGER,
    CONSTRAINT delivery_tries_pkey PRIMARY KEY (delivery_id, seq),
    CONSTRAINT delivery_tries_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES deliveries (id),
    CONSTRAINT delivery_tries_seq_check CHECK (seq >= 1)
) STRICT, WITHOUT ROWID;
