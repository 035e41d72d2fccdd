-- Reverses 20260601000300.
DROP TABLE devices;
DROP TABLE recipient_contacts;
DROP TABLE recipients;
