-- GCRA for one volley key, atomically, on the Redis server's clock.
-- KEYS[1]  the key's theoretical arrival time (TAT): microseconds since the Unix epoch
-- KEYS[2]  the key's cooldown end: microseconds since the Unix epoch
-- ARGV[1]  the emission interval T: microseconds per token
-- ARGV[2]  the burst tolerance: burst * T, microseconds
-- ARGV[3]  the cost: tokens this request takes
-- Returns {1, 0} when the tokens were taken; {0, wait} when not (nothing is taken);
-- {2, wait} while the key cools down. `wait` is in microseconds.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local cooldown = tonumber(redis.call('GET', KEYS[2]))
if cooldown and cooldown > now then
  return {2, cooldown - now}
end
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local new_tat = tat + tonumber(ARGV[1]) * tonumber(ARGV[3])
local allow_at = new_tat - tonumber(ARGV[2])
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, 0}
