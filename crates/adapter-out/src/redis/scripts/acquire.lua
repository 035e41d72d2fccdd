-- Takes one token from every bucket of a request, or none (ADR 0017). The arithmetic is the
-- domain's integer token bucket (hub_domain::rate_limit, `take_all`), step for step: a level is
-- in scaled units (one token = period_ms units, capacity units refill per ms, full =
-- capacity * period_ms <= 2^53), so every value below is an integer that a double holds exactly.
--
-- KEYS[i]: the bucket of the request's i-th channel, a hash {level, updated_at}; absent = full.
-- ARGV[1]: now (ms since the epoch, the caller's clock); ARGV[2]: expiry margin (ms);
-- ARGV[2i+1], ARGV[2i+2]: capacity and period_ms of bucket i.
-- Returns {'denied', binding index (0-based), retry_after_ms}
--      or {'allowed', tightest index (0-based), tokens left there, ms until it is full}.

local now = tonumber(ARGV[1])
local margin = tonumber(ARGV[2])

-- floor(a / b) for integers 0 <= a <= 2^53, b >= 1: fmod is exact, and so is dividing the
-- exact multiple a - r by b.
local function floor_div(a, b)
  return (a - math.fmod(a, b)) / b
end

local function ceil_div(a, b)
  local q = floor_div(a, b)
  if q * b < a then
    q = q + 1
  end
  return q
end

local function int(x)
  return string.format('%.0f', x)
end

local levels, stamps, capacities, periods = {}, {}, {}, {}
local binding, longest = 0, 0
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[2 * i + 1])
  local period = tonumber(ARGV[2 * i + 2])
  local full = capacity * period
  local level, updated_at = full, now
  local stored = redis.call('HMGET', KEYS[i], 'level', 'updated_at')
  if stored[1] and stored[2] then
    level, updated_at = tonumber(stored[1]), tonumber(stored[2])
  end
  -- Refill (BucketState::refilled): cut down to full; a clock going backwards refills nothing
  -- and keeps the later updated_at.
  if level > full then
    level = full
  end
  if now > updated_at then
    local elapsed = math.min(now - updated_at, period)
    level = level + math.min(full - level, elapsed * capacity)
    updated_at = now
  end
  levels[i], stamps[i], capacities[i], periods[i] = level, updated_at, capacity, period
  -- The binding bucket waits longest for one token; the first of equals.
  if level < period then
    local wait = ceil_div(period - level, capacity)
    if wait > longest then
      binding, longest = i, wait
    end
  end
end

if binding > 0 then
  return {'denied', int(binding - 1), int(longest)}
end

local tightest, left, reset = 0, 0, 0
for i = 1, #KEYS do
  local level = levels[i] - periods[i]
  redis.call('HSET', KEYS[i], 'level', int(level), 'updated_at', int(stamps[i]))
  -- A bucket untouched for one period is full, the same as absent: let the server drop it then
  -- (plus a margin for clocks of replicas running apart).
  redis.call('PEXPIRE', KEYS[i], int(periods[i] + margin))
  local tokens = floor_div(level, periods[i])
  if tightest == 0 or tokens < left then
    tightest, left = i, tokens
    reset = ceil_div(capacities[i] * periods[i] - level, capacities[i])
  end
end
return {'allowed', int(tightest - 1), int(left), int(reset)}
