-- Reverses 20260601000500 (the triggers go with their table).
DROP TABLE bulk_jobs;
DROP TABLE audit_log;
DROP FUNCTION audit_log_refuse_change();
