-- A 429: hold every worker's requests for pause_ms, or without a Retry-After (pause_ms 0) for
-- an exponential backoff that doubles with each 429 the fleet saw recently, jittered.
-- Answers the pause in ms.
--! KEYS: pause strikes
--! ARGV: pause_ms base_ms max_ms jitter
-- jitter: 0..1 (the pause is between half and all of the backoff).
--!include scheduler/rate_limit
local now = redis_now()
local strikes = redis.call('INCR', KEY.strikes)
redis.call('PEXPIRE', KEY.strikes, 60000)
local ms = tonumber(ARG.pause_ms)
if ms <= 0 then
  ms = math.min(tonumber(ARG.max_ms), tonumber(ARG.base_ms) * 2 ^ math.min(strikes - 1, 20))
  ms = ms * (0.5 + 0.5 * tonumber(ARG.jitter))
end
local until_ms = now + ms
if until_ms > tonumber(redis.call('GET', KEY.pause) or '0') then
  redis.call('SET', KEY.pause, math.floor(until_ms), 'PX', math.ceil(ms) + 1000)
end
return math.floor(ms)
