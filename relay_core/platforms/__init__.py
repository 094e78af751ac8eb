"""One small HTTP wrapper per external platform API (the product talks HTTP through aiohttp)."""
