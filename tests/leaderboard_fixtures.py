"""Hand-made results folders for the leaderboard tests (metrics.json and run.json as the runner
writes them; the numbers are made up and chosen so that the expected tables are easy to check)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def write_run(results: Path, task: str, model: str, kind: str, dataset: str,
              scores: dict[str, Any], *, n: int = 100, answered: int | None = None,
              fingerprint: str = "f" * 64, version: str = "0.1.0", preset: str = "greedy",
              folder: str | None = None, limit: int | None = None,
              classes: list[str] | None = None, protocol: str | None = None) -> Path:
    folder = folder or task
    path = results / folder / model
    path.mkdir(parents=True, exist_ok=True)
    answered = n if answered is None else answered
    metrics = {
        "task": task, "kind": kind, "dataset": dataset, "model": model, "n": n,
        "answered": answered, "failed": n - answered, "missing": 0,
        "coverage": answered / n, "failures": [], "scores": scores, "limit": limit,
        "task_fingerprint": fingerprint,
        "model_key": {"name": model, "checkpoint": None, "options": {}},
        "harness_version": version,
    }
    if protocol is not None:
        metrics["protocol"] = protocol
    decoding = {"max_new_tokens": 64, "preset": preset} if kind != "probe" else None
    config: dict[str, Any] = {"name": task, "dataset": dataset, "decoding": decoding}
    if classes:
        config["classes"] = classes
    run = {
        "harness_version": version, "git": {"commit": COMMIT, "dirty": False},
        "task": {"name": task, "config": config, "fingerprint": fingerprint, "folder": folder},
        "decoding": decoding, "model": {"name": model, "checkpoint": None, "options": {},
                                        "identity": None},
        "seed": 0, "started": "2025-01-01T00:00:00+00:00", "ended": "2025-01-01T00:01:00+00:00",
    }
    if protocol is not None:
        run["protocol"] = protocol
    (path / "metrics.json").write_text(json.dumps(metrics))
    (path / "run.json").write_text(json.dumps(run))
    return path


def text_scores(values: dict[str, dict[str, float]], overall: dict[str, float],
                ci: dict[str, list[float]] | None = None,
                bertscore: dict[str, Any] | None = None) -> dict[str, Any]:
    groups = {m: {"n": 10, **v} for m, v in values.items()}
    out: dict[str, Any] = {"overall": overall, "groups": {"modality": groups}, "n": 30,
                           "metrics": {}}
    if ci:
        out["ci"] = ci
    if bertscore:
        out["metrics"] = bertscore
    return out
