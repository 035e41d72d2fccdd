-- Reverses 20260601000100: children first, because of the foreign keys.
DROP TABLE delivery_tries;
DROP TABLE deliveries;
DROP TABLE notifications;
