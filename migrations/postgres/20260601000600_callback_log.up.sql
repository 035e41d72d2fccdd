-- The webhook-ids of vendor callbacks already taken (SPEC §5.5): a replay within the signature
-- tolerance is answered 200 and changes nothing. In the database so every replica sees them.

CREATE TABLE callback_log (
    vendor     TEXT COLLATE "C" NOT NULL,
    webhook_id TEXT COLLATE "C" NOT NULL,
    -- The record is live while now < keep_until; expired rows count as absent and are purged
    -- by the relay.
    keep_until TIMESTAMPTZ      NOT NULL,
    CONSTRAINT callback_log_pkey PRIMARY KEY (vendor, webhook_id)
);

CREATE INDEX callback_log_keep_until_idx ON callback_log (keep_until);
