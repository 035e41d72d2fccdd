-- Templates and their version history (SPEC §5.3): the newest version is copied on the
-- template row so sends read one row; older versions are kept for the history.

CREATE TABLE templates (
    id         TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    locale     TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    title      TEXT,
    body       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CONSTRAINT templates_pkey PRIMARY KEY (id),
    -- `POST /api/v1/templates` answers 409 TEMPLATE_EXISTS from this constraint; it also serves
    -- the send path's exact lookup and the search order.
    CONSTRAINT templates_key_locale_channel_key UNIQUE (key, locale, channel),
    CONSTRAINT templates_version_check CHECK (version >= 1)
) STRICT;

CREATE TABLE template_versions (
    template_id TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    title       TEXT,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    CONSTRAINT template_versions_pkey PRIMARY KEY (template_id, version),
    -- Deleting a template deletes its history with it.
    CONSTRAINT template_versions_template_id_fkey FOREIGN KEY (template_id)
        REFERENCES templates (id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
