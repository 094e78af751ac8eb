-- A chunk back to `state` after a failed send, counting the attempt when there was an error.
-- Answers the attempts so far (-1: the chunk is gone).
--! KEYS: chunk
--! ARGV: state error
-- error: '' = none (the attempt is not counted).
if redis.call('EXISTS', KEY.chunk) == 0 then return -1 end
redis.call('HSET', KEY.chunk, 'state', ARG.state)
if ARG.error == '' then return tonumber(redis.call('HGET', KEY.chunk, 'attempts') or '0') end
redis.call('HSET', KEY.chunk, 'lastError', ARG.error)
return redis.call('HINCRBY', KEY.chunk, 'attempts', 1)
