"""The server process: aiohttp application, socket.io events, HTTP API, JWT auth (the edge)."""
