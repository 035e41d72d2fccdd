-- Stores a completed outcome, only while the caller's token holds the key in flight at `now`
-- (compare-and-set, ADR 0017).
-- KEYS[1]: the entry. ARGV: now_ms, token, deadline_ms, px_ms, fingerprint, body.
-- Returns 1 when stored, 0 when the reservation was lost (nothing written).
local entry = redis.call('HMGET', KEYS[1], 'state', 'token', 'deadline')
if entry[1] ~= 'in_flight' or entry[2] ~= ARGV[2] or tonumber(entry[3]) <= tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'completed', 'deadline', ARGV[3], 'fingerprint', ARGV[5],
  'body', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
