-- Reserve one request of a bucket (RUN, GET, WRITE) and `files` files at once, on Redis's
-- clock (relay_core.scheduler.ratelimit). Answers {1, ms to wait before sending}, or
-- {0, ms} when that wait would exceed max_wait_ms: then nothing was reserved.
--! KEYS: pause bucket pace window
--! ARGV: max_wait_ms interval_ms files_limit files window_ms pace_ms
-- bucket: the request bucket's GCRA key; pace: the files GCRA key; window: the files window.
--!include scheduler/rate_limit
local now = redis_now()
local L = {pause = KEY.pause, pace = KEY.pace, win = KEY.window,
  limit = tonumber(ARG.files_limit), window = tonumber(ARG.window_ms),
  pace_iv = tonumber(ARG.pace_ms),
  buckets = {{key = KEY.bucket, interval = tonumber(ARG.interval_ms), units = 1}}}
local n = tonumber(ARG.files)
local go = rl_when(now, L, n)
local wait = go - now
if wait > tonumber(ARG.max_wait_ms) then return {0, wait} end
rl_commit(now, go, L, n)
return {1, wait}
