-- pending -> sending, with the file indexes of this send, unless the batch was cancelled.
-- Answers the state the caller must act on: 'sending', 'cancel', the chunk's other state, or
-- 'missing' (a failover lost the chunk: it is not written to).
--! KEYS: batch chunk
--! ARGV: now files
-- files: the file indexes of this send (JSON array).
local st = redis.call('HGET', KEY.chunk, 'state')
if st ~= 'pending' then return st or 'missing' end
if redis.call('HGET', KEY.batch, 'state') == 'cancelled' then return 'cancel' end
redis.call('HSET', KEY.chunk, 'state', 'sending', 'sentAt', ARG.now, 'sendingFiles', ARG.files)
redis.call('HINCRBY', KEY.chunk, 'sends', 1)
return 'sending'
