-- The audit trail and bulk DLQ jobs (SPEC §5.6): both live in the database so every replica
-- sees them and they survive restarts.

CREATE TABLE audit_log (
    id      TEXT COLLATE "C" NOT NULL,
    at      TIMESTAMPTZ NOT NULL,
    actor   TEXT        NOT NULL,
    action  TEXT        NOT NULL,
    target  TEXT,
    -- Filter and counts differ per action and are only shown, never queried.
    filter  JSONB,
    counts  JSONB,
    outcome TEXT        NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (id)
);

-- Newest first over (at, id), optionally for one action.
CREATE INDEX audit_log_at_id_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_action_at_id_idx ON audit_log (action, at DESC, id DESC);

-- An audit trail that can be edited is not one: refuse changes at the lowest level.
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log entries are never changed or deleted';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

CREATE TABLE bulk_jobs (
    id                  TEXT COLLATE "C" NOT NULL,
    action              TEXT        NOT NULL,
    -- The DLQ filter as columns (the runner re-queries the DLQ with it on every step).
    filter_channel      TEXT,
    filter_from         TIMESTAMPTZ,
    filter_to           TIMESTAMPTZ,
    filter_error_class  TEXT,
    reason              TEXT,
    actor               TEXT        NOT NULL,
    state               TEXT        NOT NULL,
    total_count         BIGINT      NOT NULL,
    processed_count     BIGINT      NOT NULL,
    success_count       BIGINT      NOT NULL,
    failure_count       BIGINT      NOT NULL,
    first_error         TEXT,
    -- The resume point (exhausted_at, id) of the last item handled. Each item's change and the
    -- cursor move are one transaction guarded by the old cursor, so no item is done twice.
    cursor_exhausted_at TIMESTAMPTZ,
    cursor_id           TEXT COLLATE "C",
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    lease_until         TIMESTAMPTZ,
    CONSTRAINT bulk_jobs_pkey PRIMARY KEY (id),
    CONSTRAINT bulk_jobs_cursor_check CHECK ((cursor_exhausted_at IS NULL) = (cursor_id IS NULL)),
    CONSTRAINT bulk_jobs_counts_check CHECK (
        total_count >= 0 AND processed_count >= 0 AND success_count >= 0 AND failure_count >= 0
    )
);

-- Runners look for RUNNING jobs whose lease is free or over.
CREATE INDEX bulk_jobs_running_id_idx ON bulk_jobs (id) WHERE state = 'RUNNING';
