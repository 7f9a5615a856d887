"""``python -m harness.protocol [--write PATH]``: print (or write) docs/fidelity.md."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.protocol.render import render


def main(argv: list[str]) -> int:
    text = render()
    if argv[:1] == ["--write"] and len(argv) == 2:
        Path(argv[1]).write_text(text)
        return 0
    if argv:
        print("usage: python -m harness.protocol [--write PATH]", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
