-- Reverses 20260601000700. Unsettled claims then read as records of taken ids until they expire
-- (at most the claim lease).
ALTER TABLE callback_log DROP COLUMN settled;
