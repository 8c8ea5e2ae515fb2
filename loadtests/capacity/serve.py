"""Starts ``teleconsult serve`` for a capacity run, optionally on uvloop (the event loop is
chosen by the process that starts it, before ``asyncio.run``):

    python -m loadtests.capacity.serve [--uvloop] serve --port 0 ...
"""

from __future__ import annotations

import sys

from signaling.cli import main as teleconsult
from signaling.tuning import install_event_loop


def main(argv: list[str]) -> int:
    if argv[:1] == ["--uvloop"]:
        argv = argv[1:]
        install_event_loop()
    return teleconsult(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
