"""Shared core of workflow-relay: settings, models, Redis keys, queue seam, platform clients.

Both processes (`ingest` and `worker`) import from here and never from each other.
"""
