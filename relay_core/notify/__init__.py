"""Notifications out: signed webhooks to producers when their work is done.

Destinations are standing subscriptions (POST /v1/subscriptions) and batch callbacks
(`callbackUrl` on POST /v1/batches). An event becomes one delivery per destination, created
with its first arq job in one atomic step (relay_core.notify.emit); the worker's notify job
(worker.notify) posts it, signed per the Standard Webhooks specification, and retries it on
NOTIFY_RETRY_SCHEDULE with the same webhook-id until it is delivered, dead-lettered (in the
relay's one dead-letter store, relay_core.notify.dead) or its destination answers 410.
"""
