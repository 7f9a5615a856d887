"""Plans for the sweep tests: the demo baselines, and models served by the vLLM stand-in."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
STANDIN = REPO / "tests" / "vllm_standin.py"
DEMO_TASKS = ["vqa/demo", "caption/demo", "zeroshot/demo"]
BASELINES = ["knn-retrieval", "majority", "chance"]


def baseline(name: str) -> dict[str, Any]:
    # caption/demo's training answers are the demo's captions, not its VQA answers.
    return {"name": name, "options_for": {"caption/demo": {"vqa_index": "demo-caption"}}}


def served(name: str, checkpoint: Path, request_log: Path, latency: float = 0.0
           ) -> dict[str, Any]:
    """A model a job serves with the stand-in, started exactly as `vllm serve` would be."""
    checkpoint.mkdir(parents=True, exist_ok=True)
    (checkpoint / "model.safetensors").write_bytes(name.encode())
    return {"name": name, "serve": "vllm", "path": str(checkpoint),
            "serve_command": [sys.executable, str(STANDIN), "serve"],
            "serve_args": ["--latency", str(latency), "--request-log", str(request_log),
                           "--data-parallel-size", "2"],
            "options": {"concurrency": 1}}


def write_plan(path: Path, models: list[dict[str, Any]], tasks: list[str],
               **extra: Any) -> Path:
    plan = {"protocol": "sound", "batch_size": 4, "tasks": tasks, "models": models, **extra}
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def request_counts(log_dir: Path) -> dict[str, int]:
    """Requests each stand-in server answered, by the server's log file (one per start)."""
    return {p.name: sum(1 for _ in p.open()) for p in sorted(log_dir.glob("*.jsonl"))}


def stored_ok(folder: Path) -> int:
    """Answered samples in a results folder, by fingerprint (the last line wins)."""
    latest: dict[str, bool] = {}
    path = folder / "predictions.jsonl"
    if not path.exists():
        return 0
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        latest[rec["fingerprint"]] = rec.get("error") is None
    return sum(latest.values())
