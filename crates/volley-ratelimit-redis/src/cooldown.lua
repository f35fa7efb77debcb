-- A shared cooldown for one volley key, on the Redis server's clock; never shortened.
-- KEYS[1]  the key's cooldown end: microseconds since the Unix epoch
-- ARGV[1]  the cooldown: microseconds from now
-- Returns 1 when the cooldown was set or extended, 0 when a later one was already there.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local ends = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= ends then
  return 0
end
redis.call('SET', KEYS[1], string.format('%.0f', ends), 'PX', math.ceil(tonumber(ARGV[1]) / 1000))
return 1
