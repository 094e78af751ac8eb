"""The `relay` command: a thin launcher over the web process, the worker and the tools."""
