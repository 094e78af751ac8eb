"""Batches in: the request models, intake and the producer, the batch store, its chunks' Lua, run map, views and results, file uploads."""
