-- Reverses 20260601000400.
DROP TABLE template_versions;
DROP TABLE templates;
