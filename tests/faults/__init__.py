"""The fault-injection suite (docs/guides/fault-injection.md): each test starts its own
processes and injects the real fault.

- R1 test_r1_worker_sigkill: `relay worker` SIGKILLed three times mid fan-out (also the
  batches' SIGKILL test).
- R2 test_r2_redis_restart: Redis stopped and restarted during webhook deliveries.
- R3 test_r3_duplicate_shuffle: 5,000 events, each delivered three times, shuffled.
- R4 tests/test_fuzz_webhook.py: malformed, forged, stale, oversized and truncated requests.
- R5 test_r5_platform_faults: 500s, 429s and lost answers from the platform.
- R6 tests/deploy/test_deploy_once.py::test_100_duplicate_completion_events_two_workers_one_deploy
  (100 duplicate completion events, two workers, one deploy); not repeated here.
- R7 test_r7_web_restart: the web process SIGKILLed and restarted mid-load.
- R8 test_r8_dead_letters: a poison event group becomes a dead letter, then is redriven once.
- R9 test_r9_redis_full: Redis at maxmemory (noeviction) while webhooks arrive.
- R10 test_r10_ack_durability: Redis SIGKILLed under WEBHOOK_ACK_DURABILITY aof, then memory.
- R11 test_r11_sentinel_failover: the primary SIGKILLed; Sentinel fails over to the replica.
- R12 test_r12_processes_outlive_redis: web and worker ride out a Redis restart.
- test_signed_url_payloads: signed-URL event payloads, fetched, and failed fetches recorded.
"""
