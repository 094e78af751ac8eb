"""The fault-injection suite (issue 7): each test starts its own processes and injects the
real fault.

- R1 test_r1_worker_sigkill: `relay worker` SIGKILLed three times mid fan-out (also issue 4's
  SIGKILL test).
- R2 test_r2_redis_restart: Redis stopped and restarted during webhook deliveries.
- R3 test_r3_duplicate_shuffle: 5,000 events, each delivered three times, shuffled.
- R4 tests/test_fuzz_webhook.py: malformed, forged, stale, oversized and truncated requests.
- R5 test_r5_platform_faults: 500s, 429s and lost answers from the platform.
- R6 tests/deploy/test_deploy_once.py::test_100_duplicate_completion_events_two_workers_one_deploy
  (100 duplicate completion events, two workers, one deploy); not repeated here.
- R7 test_r7_web_restart: the web process SIGKILLed and restarted mid-load.
- test_signed_url_payloads: issue 4's signed-URL payloads, fetched, and failed fetches recorded.
"""
