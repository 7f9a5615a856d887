"""Judging speed: judged pairs per second at concurrency 16 against 1, and a re-score of
5,452 judged answers (MM-Skin-O's test size) from the verdict store.

1. The local server (tests/api_server.py, judge mode) runs in its own process and answers
   each judge call after a fixed latency, standing in for a remote judge's time to answer;
   the openai-compatible plugin judges N pairs under the binary protocol (one call each)
   at concurrency 1, then 16. Goal: >= 10x.
2. 5,452 pairs are judged once by rule-judge under the llava-med protocol (two calls
   each: 10,904 stored verdicts); then judged again, as `harness score` does: every verdict
   is found in judgements.jsonl, the judge is never built, and the time is what judging
   adds to scoring. Goal: 0 calls, < 1 s.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/judge.py [--smoke] [--latency 0.05]

It ends with one RESULT line (benchmarks/_result.py), PASS when the comparisons hold: every
pair judged at both concurrencies with the same verdicts, and the re-score made 0 calls
without building the judge and gave the first pass's scores. Timings are printed above it
and never decide it (a shared machine makes them noisy).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _result import SMOKE_HELP, result  # noqa: E402

from harness.judge.config import JudgeConfig, parse_pairs  # noqa: E402
from harness.judge.judging import add_to_scores, judge_pairs  # noqa: E402
from harness.judge.protocols import Pair, get  # noqa: E402
from harness.plugin_manager import get_registries  # noqa: E402
from harness.results import Scores  # noqa: E402

WORDS = ("brown macule irregular border pink papule scale plaque erythema nodule ulcer "
         "crust pigment network dermoscopy clinical pathology dermis epidermis").split()


def pairs(n: int) -> list[Pair]:
    out = []
    for i in range(n):
        ref = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(12))
        ans = " ".join(WORDS[(3 * i + k) % len(WORDS)] for k in range(9))
        out.append(Pair(f"s{i:05d}", f"What does image {i} show?", ref, ans, "clinical"))
    return out


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "api_server.py"), "--port",
                             "0", "--latency", str(latency), "--answers", "judge"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"the local server did not start: {line!r}")
    return proc, line.removeprefix("listening on ")


def throughput(url: str, n: int, concurrency: int) -> tuple[float, dict[str, float], int]:
    """Pairs per second, each pair's verdict, and how many pairs were judged."""
    regs = get_registries()
    options = parse_pairs(f"base_url={url}/v1,model_id=judge,api_key_env=none,timeout=30,"
                          f"concurrency={concurrency}", "judge_options")
    config = JudgeConfig("openai-compatible", get("binary"), options, models=regs.models)
    with tempfile.TemporaryDirectory() as tmp:
        judge_pairs(config, [Pair("warm", "q", "r", "a")], Path(tmp))  # imports the SDK
        t0 = time.perf_counter()
        out = judge_pairs(config, pairs(n), Path(tmp))
        seconds = time.perf_counter() - t0
    verdicts = {i: v["correct"] for i, v in out.values.items()}
    return n / seconds, verdicts, out.asked


def rescore(n: int) -> tuple[float, float, int, int, bool]:
    """First judging time, re-score time, calls and builds on re-score, same scores."""
    regs = get_registries()
    config = JudgeConfig("rule-judge", get("llava-med"), models=regs.models)
    todo = pairs(n)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        first = judge_pairs(config, todo, Path(tmp))
        judged_s = time.perf_counter() - t0
        builds = 0
        build = config.build

        def counted() -> object:
            nonlocal builds
            builds += 1
            return build()

        config.build = counted  # type: ignore[method-assign]
        t0 = time.perf_counter()
        again = judge_pairs(config, todo, Path(tmp), retry_failed=False)
        add_to_scores(config, again, Scores(), n)
        rescore_s = time.perf_counter() - t0
    same = first.asked == 2 * n and again.values == first.values and len(again.values) == n
    return judged_s, rescore_s, again.asked, builds, same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    parser.add_argument("--latency", type=float, default=0.05,
                        help="seconds the server takes to answer each judge call")
    parser.add_argument("--pairs", type=int, help="pairs for the throughput test")
    args = parser.parse_args()
    n = args.pairs or (32 if args.smoke else 160)
    proc, url = start_server(args.latency)
    try:
        one, v1, asked1 = throughput(url, min(n, 32), 1)
        many, v16, asked16 = throughput(url, n, 16)
    finally:
        proc.kill()
    print(f"judged pairs/s, binary protocol, {args.latency * 1000:.0f} ms per call: "
          f"concurrency 1: {one:.1f}; concurrency 16: {many:.1f}; ratio {many / one:.1f}x "
          f"(goal >= 10x)")
    size = 545 if args.smoke else 5452
    judged_s, rescore_s, asked, builds, same = rescore(size)
    print(f"re-score of {size} judged answers (llava-med, {2 * size} stored verdicts): "
          f"{asked} judge calls, {rescore_s:.3f} s beyond scoring (goal < 1 s); judging them "
          f"the first time with rule-judge took {judged_s:.2f} s")
    agree = asked1 == len(v1) == min(n, 32) and asked16 == len(v16) == n \
        and all(v16[i] == v for i, v in v1.items())
    ok = agree and asked == 0 and builds == 0 and same
    result(__file__, ok,
           f"{len(v16)} pairs judged at concurrency 16, verdicts equal to concurrency 1's: "
           f"{agree}; re-score of {size}: {asked} calls, judge built {builds} times, same "
           f"scores: {same} (ratio {many / one:.1f}x, re-score {rescore_s:.2f} s)")


if __name__ == "__main__":
    main()
