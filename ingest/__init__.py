"""The web process: the signed-webhook receiver and the producer/status API."""
