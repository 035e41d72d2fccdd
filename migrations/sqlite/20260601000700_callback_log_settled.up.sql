-- A webhook-id is first claimed (unsettled, for a short lease) and only settled, and kept for
-- the replay window, once its callback was applied: a crash between claim and apply then leaves
-- a claim that expires by itself, instead of a record that answers the vendor's retries as
-- replays while the report is lost (ADR 0020).
--
-- DEFAULT 1: rows written before this migration were recorded by the old "record, then apply"
-- code; treating them as settled keeps answering their replays as before.
ALTER TABLE callback_log ADD COLUMN settled INTEGER NOT NULL DEFAULT 1
    CONSTRAINT callback_log_settled_check CHECK (settled IN (0, 1));
