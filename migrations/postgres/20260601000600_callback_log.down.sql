-- Reverses 20260601000600.
DROP TABLE callback_log;
