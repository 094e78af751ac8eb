-- A slot of the destination's bounded in-flight; a crashed holder's slot expires with its
-- lease. Answers 1 when taken.
--! KEYS: flight
--! ARGV: token now lease_until limit
redis.call('ZREMRANGEBYSCORE', KEY.flight, '-inf', ARG.now)
if redis.call('ZCARD', KEY.flight) >= tonumber(ARG.limit) then return 0 end
redis.call('ZADD', KEY.flight, ARG.lease_until, ARG.token)
redis.call('PEXPIRE', KEY.flight, tonumber(ARG.lease_until) - tonumber(ARG.now))
return 1
