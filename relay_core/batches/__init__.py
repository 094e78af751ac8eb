"""Batches in: the request models, intake and the producer, the batch store and its chunks'
Lua, the file -> run map, the views and results, and file uploads."""
