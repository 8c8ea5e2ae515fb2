"""Summarise a py-spy collapsed-stack file (``--format raw``): the share of samples spent in
each function (inclusive) and at the top of the stack (self), by module or by function.

    python -m loadtests.capacity.profile capacity-results/profile/relay1-node0.txt [--top 30]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def _short(frame: str) -> str:
    m = _FRAME.match(frame)
    if m is None:
        return frame
    path = m["file"]
    for marker in ("site-packages/", "lib/python3.11/", "/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m['func']} ({path})"


def summarise(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    total = 0
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue  # an empty or cut line (a recording interrupted while writing)
        n = int(count)
        frames = [_short(f) for f in stack.split(";")]
        total += n
        for f in set(frames):
            inclusive[f] += n
        self_time[frames[-1]] += n
    return total, inclusive, self_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    total, inclusive, self_time = summarise(args.file)
    print(f"{total} samples")
    for title, counter in (("inclusive", inclusive), ("self", self_time)):
        print(f"-- {title}")
        for name, n in counter.most_common(args.top):
            print(f"{100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
