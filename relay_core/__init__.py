"""The core of workflow-relay: each capability's rules, Redis state and Lua, one package each.

`ingest` (the web process), `worker` (the arq jobs) and `relay_cli` import from here, and
`ingest` and `worker` never from each other. Capabilities: `runs` (webhook events applied to
tracked runs), `batches` (fan-out in), `scheduler` (fair shares of the rate limits), `deploys`
and `evals` (workflow versions), `notify` (webhooks out), `ops` (dead letters, retention,
metrics), `platforms` (the external APIs) and `redis` (connections, the arq seam, durability,
the Lua script registry). A capability's Lua is in its own `lua/` folder. Cross-cutting modules
stay at the top: `keys` (every Redis key), `settings`, `errors`, `logs`, `params` and `retry`
(backoff and attempt budgets).
"""
