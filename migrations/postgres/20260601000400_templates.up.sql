-- Templates and their version history (SPEC §5.3): the newest version is copied on the
-- template row so sends read one row; older versions are kept for the history.

CREATE TABLE templates (
    id         TEXT COLLATE "C" NOT NULL,
    -- Byte order for the search order (key, locale, channel), as the domain sorts strings.
    key        TEXT COLLATE "C" NOT NULL,
    locale     TEXT COLLATE "C" NOT NULL,
    channel    TEXT        NOT NULL,
    title      TEXT,
    body       TEXT        NOT NULL,
    version    BIGINT      NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT templates_pkey PRIMARY KEY (id),
    -- `POST /api/v1/templates` answers 409 TEMPLATE_EXISTS from this constraint (ON CONFLICT ON
    -- CONSTRAINT); it also serves the send path's exact lookup and the search order.
    CONSTRAINT templates_key_locale_channel_key UNIQUE (key, locale, channel),
    CONSTRAINT templates_version_check CHECK (version >= 1)
);

CREATE TABLE template_versions (
    template_id TEXT COLLATE "C" NOT NULL,
    version     BIGINT      NOT NULL,
    title       TEXT,
    body        TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT template_versions_pkey PRIMARY KEY (template_id, version),
    -- Deleting a template deletes its history with it.
    CONSTRAINT template_versions_template_id_fkey FOREIGN KEY (template_id)
        REFERENCES templates (id) ON DELETE CASCADE
);
