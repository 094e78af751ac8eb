"""Run jobs: apply queued webhook events, record what the platform says, reconcile and
sweep, expire finished runs."""
