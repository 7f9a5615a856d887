"""Throughput of the API model plugins against the local server, at concurrency 1 and 16.

The server (tests/api_server.py) runs in its own process and answers each
request after a fixed latency, standing in for a remote model's time to answer;
each request carries one small image as a real run's would. The figure that
matters is the ratio: how much many requests in flight buy over one at a time.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/api.py [--latency 0.05] [--requests 160]
        [--api openai|gemini|both] [--repeat 3] [--smoke]

Models are built as ``harness run`` builds them (``harness.runner.load_model``). Every
answer must come back and belong to its own request (the server echoes the prompt), at
both concurrencies; otherwise the result line says FAIL.
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

from _result import SMOKE_HELP, result  # noqa: E402

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
    from harness.plugin_manager import get_registries
    from harness.runner import load_model

    options = {"api_key_env": KEY_ENV, "concurrency": str(concurrency), "timeout": "30"}
    if api == "openai":
        name, options = "openai-compatible", {**options, "base_url": f"{url}/v1",
                                              "model_id": "local"}
    else:
        name, options = "gemini-2.0-flash", {**options, "base_url": url}
    return load_model(get_registries(), name, options, device="cpu")


def wrong_answers(requests: list[Request], outputs: list[object]) -> list[str]:
    """Sample ids whose answer failed or echoes another request's prompt."""
    return [r.sample_id for r, o in zip(requests, outputs, strict=True)
            if not isinstance(o, str) or not o.endswith(r.prompt)]


def throughput(api: str, url: str, concurrency: int, requests: list[Request],
               repeat: int) -> tuple[float, list[str]]:
    """Requests per second, the best of ``repeat`` passes (a shared machine adds noise),
    and the sample ids answered wrongly in any pass."""
    model = build(api, url, concurrency)
    best, wrong = 0.0, set()
    try:
        model.generate(requests[:2])  # connection set-up and SDK imports, not timed
        batch = model.batch_size_hint  # as the runner sends them
        for _ in range(repeat):
            t0 = time.perf_counter()
            outputs = []
            for i in range(0, len(requests), batch):
                outputs += model.generate(requests[i : i + batch])
            best = max(best, len(requests) / (time.perf_counter() - t0))
            wrong.update(wrong_answers(requests, outputs))
    finally:
        model.close()
    return best, sorted(wrong)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05, help="server seconds per answer")
    parser.add_argument("--requests", type=int, default=160)
    parser.add_argument("--api", choices=("openai", "gemini", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best is reported")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if args.smoke:
        args.latency, args.requests, args.repeat = 0.01, 16, 1
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
            apis = ("openai", "gemini") if args.api == "both" else (args.api,)
            ratios, wrong = [], []
            for api in apis:
                (one, bad_one), (many, bad_many) = (
                    throughput(api, url, c, requests, args.repeat) for c in (1, 16))
                ratios.append(f"{api} x{many / one:.1f}")
                wrong += [f"{api}: {', '.join(bad[:3])}" for bad in (bad_one, bad_many) if bad]
                print(f"{api:7s} concurrency 1: {one:7.1f} req/s   concurrency 16: "
                      f"{many:7.1f} req/s   ratio {many / one:5.1f}x")
        finally:
            server.terminate()
            server.wait(10)
    result(__file__, not wrong,
           f"{len(requests)} requests x {len(apis)} APIs answered, each its own; "
           f"concurrency 16 / 1: {', '.join(ratios)}" if not wrong else
           f"wrong or failed answers ({'; '.join(wrong)})")


if __name__ == "__main__":
    main()
