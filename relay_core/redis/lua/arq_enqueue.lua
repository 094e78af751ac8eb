-- arq's enqueue inside a script, so that a job is created in the same atomic step as the state
-- that needs it. `job` is the bytes relay_core.redis.queue.job_bytes built (what arq's worker
-- reads), `job_key` arq's key for `job_id`, `queue` arq's queue (a sorted set by due time).
--
-- Once only (SET NX): a job whose key exists is queued or running already, so nothing is
-- written and false is answered. Every caller wants that (its job id names one piece of work,
-- or is new), except where opts.replace says otherwise and the caller says why. The key expires
-- ARQ_JOB_EXPIRES_MS (relay_core.redis.queue) after now, or after the job is due when
-- opts.now says when "now" is, as arq's own expires_extra_ms does.
local function arq_enqueue(queue, job_key, job, job_id, score, opts)
  opts = opts or {}
  local ttl = ARQ_JOB_EXPIRES_MS
  if opts.now then ttl = ttl + math.max(0, tonumber(score) - tonumber(opts.now)) end
  if opts.replace then
    redis.call('SET', job_key, job, 'PX', ttl)
  elseif not redis.call('SET', job_key, job, 'NX', 'PX', ttl) then
    return false
  end
  redis.call('ZADD', queue, score, job_id)
  return true
end
