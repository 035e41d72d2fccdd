-- Deletes an in-flight reservation, only if the caller's token holds it (compare-and-delete,
-- ADR 0017). KEYS[1]: the entry. ARGV[1]: token. Returns 1 when deleted, else 0.
local entry = redis.call('HMGET', KEYS[1], 'state', 'token')
if entry[1] == 'in_flight' and entry[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
