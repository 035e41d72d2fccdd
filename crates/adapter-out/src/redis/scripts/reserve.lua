-- Reserves an idempotency key unless it is held or completed at `now` (ADR 0017).
-- KEYS[1]: the entry, a hash {state, token, deadline, fingerprint[, body]}.
-- ARGV: now_ms, deadline_ms, px_ms, token, fingerprint.
-- Returns {'reserved'}, {'in_flight', fingerprint, ''} or {'completed', fingerprint, body}.
-- The deadline decides expiry; PX only lets the server drop the entry once it is useless.
local entry = redis.call('HMGET', KEYS[1], 'state', 'deadline', 'fingerprint', 'body')
if entry[1] and tonumber(entry[2]) > tonumber(ARGV[1]) then
  return {entry[1], entry[3], entry[4] or ''}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'in_flight', 'token', ARGV[4], 'deadline', ARGV[2],
  'fingerprint', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'reserved'}
