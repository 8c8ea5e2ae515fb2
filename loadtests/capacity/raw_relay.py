"""The ceiling: a raw aiohttp websocket relay, the least a relay in Python can do per message.

``GET /relay?pair=K`` joins pair K (two members). Each text frame ``42<id>[event, payload]`` is
parsed as JSON (as any relay must, to check it), forwarded to the other member as
``42[event, payload]`` and acknowledged with ``43<id>[{"ok":true}]``: the same frames the
socket.io benchmark exchanges, with no Engine.IO, socket.io, session, Redis nor room lookup.
No compression. Run as its own process:

    python -m loadtests.capacity.raw_relay --port 0      # prints LISTENING <port>
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from aiohttp import WSMsgType, web

ACK = '[{"ok":true}]'


def make_app() -> web.Application:
    pairs: dict[str, list[web.WebSocketResponse]] = {}

    async def relay(request: web.Request) -> web.WebSocketResponse:
        key = request.query.get("pair", "")
        ws = web.WebSocketResponse(compress=False, max_msg_size=64 * 1024)
        await ws.prepare(request)
        members = pairs.setdefault(key, [])
        if len(members) >= 2:
            await ws.close()
            return ws
        members.append(ws)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data: str = msg.data
                bracket = data.find("[")
                if not data.startswith("42") or bracket < 0:
                    continue
                try:
                    json.loads(data[bracket:])
                except ValueError:
                    continue
                for other in members:
                    if other is not ws:
                        await other.send_str("42" + data[bracket:])
                if bracket > 2:
                    await ws.send_str("43" + data[2:bracket] + ACK)
        finally:
            members.remove(ws)
            if not members:
                pairs.pop(key, None)
        return ws

    app = web.Application()
    app.router.add_get("/relay", relay)
    return app


async def serve(port: int) -> None:
    runner = web.AppRunner(make_app(), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"LISTENING {runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description="raw aiohttp websocket relay (benchmark ceiling)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.run(serve(args.port))
    else:
        asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
