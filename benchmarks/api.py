"""Throughput of the API model plugins against the local server, at concurrency 1 and 16.

The server (tests/api_server.py) runs in its own process and answers each
request after a fixed latency, standing in for a remote model's time to answer;
each request carries one small image as a real run's would. The figure that
matters is the ratio: how much many requests in flight buy over one at a time.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/api.py [--latency 0.05] [--requests 160]
        [--api openai|gemini|both] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.types import Request  # noqa: E402

KEY_ENV = "HARNESS_BENCH_API_KEY"


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "api_server.py"), "--port", "0",
         "--latency", str(latency), "--api-key", os.environ[KEY_ENV]],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"the local server did not start: {line!r}")
    return proc, line.removeprefix("listening on ")


def build(api: str, url: str, concurrency: int) -> object:
    options = {"api_key_env": KEY_ENV, "concurrency": str(concurrency), "timeout": "30"}
    if api == "openai":
        from harness.plugins.openai_compat import openai_compatible

        return openai_compatible(base_url=f"{url}/v1", model_id="local", **options)
    from harness.plugins.gemini import gemini_flash

    return gemini_flash(base_url=url, **options)


def throughput(api: str, url: str, concurrency: int, requests: list[Request],
               repeat: int) -> float:
    """Requests per second, the best of ``repeat`` passes (a shared machine adds noise)."""
    model = build(api, url, concurrency)
    best = 0.0
    try:
        model.generate(requests[:2])  # connection set-up and SDK imports, not timed
        batch = model.batch_size_hint  # as the runner sends them
        for _ in range(repeat):
            t0 = time.perf_counter()
            outputs = []
            for i in range(0, len(requests), batch):
                outputs += model.generate(requests[i : i + batch])
            best = max(best, len(requests) / (time.perf_counter() - t0))
            failed = [o for o in outputs if not isinstance(o, str)]
            if failed:
                raise SystemExit(f"{len(failed)} requests failed, e.g. {failed[0]}")
    finally:
        model.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05, help="server seconds per answer")
    parser.add_argument("--requests", type=int, default=160)
    parser.add_argument("--api", choices=("openai", "gemini", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best is reported")
    args = parser.parse_args()
    os.environ.setdefault(KEY_ENV, "sk-bench-local")

    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "lesion.png"
        Image.new("RGB", (64, 64), (170, 100, 80)).save(image)
        requests = [Request(f"s{i}", f"sample {i}: what colour is the lesion?", images=(image,))
                    for i in range(args.requests)]
        server, url = start_server(args.latency)
        try:
            print(f"local server {url}, {args.latency * 1000:g} ms per answer, "
                  f"{args.requests} requests with one 64x64 image each, best of {args.repeat}; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            for api in (("openai", "gemini") if args.api == "both" else (args.api,)):
                one = throughput(api, url, 1, requests, args.repeat)
                many = throughput(api, url, 16, requests, args.repeat)
                print(f"{api:7s} concurrency 1: {one:7.1f} req/s   concurrency 16: "
                      f"{many:7.1f} req/s   ratio {many / one:5.1f}x")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
