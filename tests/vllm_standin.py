"""A stand-in for ``vllm serve``, started by a sweep job exactly as it starts vLLM.

    python tests/vllm_standin.py serve CHECKPOINT --host H --port P --served-model-name NAME
        [--latency SECONDS] [--request-log DIR] [any other vLLM argument, ignored]

It serves tests/api_server.py's OpenAI-compatible API (vLLM's flavour) on 127.0.0.1 and,
with ``--request-log DIR``, appends every request it answers to ``DIR/<pid>.jsonl``, so a
test counts from the server's side what each job asked.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_server import ApiServer  # noqa: E402


class LoggingServer(ApiServer):
    def __init__(self, log: Path | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = log

    def _record(self, entry: dict[str, Any]) -> None:
        super()._record(entry)
        if self.log is not None:
            with open(self.log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("verb", choices=["serve"])
    parser.add_argument("checkpoint")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--served-model-name", required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--request-log", type=Path)
    args, _ignored = parser.parse_known_args()
    log = None
    if args.request_log is not None:
        args.request_log.mkdir(parents=True, exist_ok=True)
        log = args.request_log / f"{os.getpid()}.jsonl"
    server = LoggingServer(log, host="127.0.0.1", port=args.port, flavour="vllm",
                           latency=args.latency)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"stand-in for vllm serve {args.checkpoint} as {args.served_model_name} "
          f"on port {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
