-- Recipients, their contacts, preferences and push devices (SPEC §3, §5.2, §5.4).

CREATE TABLE recipients (
    id          TEXT COLLATE "C" NOT NULL,
    locale      TEXT        NOT NULL,
    timezone    TEXT        NOT NULL,
    -- The full preference document as the API stores it; NULL means the defaults. Only ever
    -- read and replaced whole.
    preferences JSONB,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT recipients_pkey PRIMARY KEY (id)
);

-- Addresses in their own rows so erasure is a plain cascade and nothing personal is left in a
-- document on the recipient row.
CREATE TABLE recipient_contacts (
    recipient_id TEXT COLLATE "C" NOT NULL,
    channel      TEXT   NOT NULL,
    -- NULL exactly for PUSH and IN_APP, which take no address.
    address      TEXT,
    -- The order the caller listed the channels in, given back as it was.
    position     BIGINT NOT NULL,
    CONSTRAINT recipient_contacts_pkey PRIMARY KEY (recipient_id, channel),
    CONSTRAINT recipient_contacts_recipient_id_fkey FOREIGN KEY (recipient_id)
        REFERENCES recipients (id) ON DELETE CASCADE
);

-- No foreign key to recipients: the use case checks the recipient exists, and erasure deletes
-- a recipient's devices explicitly.
CREATE TABLE devices (
    id            TEXT COLLATE "C" NOT NULL,
    recipient_id  TEXT COLLATE "C" NOT NULL,
    platform      TEXT        NOT NULL,
    token         TEXT        NOT NULL,
    active        BOOLEAN     NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT devices_pkey PRIMARY KEY (id),
    -- A token belongs to one recipient at a time: registering it elsewhere moves it.
    CONSTRAINT devices_token_key UNIQUE (token)
);

-- A recipient's devices, oldest registration first (listing and the ten-active limit).
CREATE INDEX devices_recipient_id_registered_at_idx ON devices (recipient_id, registered_at, id);
