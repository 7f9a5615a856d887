"""Agreement figures: judge with judge, judge with people, people with people.

Verdicts (values 0/1 on both sides) are compared with Cohen's kappa, scores with Spearman's
rank correlation; each figure carries a percentile bootstrap 95% interval over the samples
both sides rated. Judged scores are read from ``judgements.jsonl`` (every judge that judged
the folder) and ``samples.jsonl`` (with the text metrics' per-sample values).
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import UsageError


@dataclass
class Row:
    a: str
    b: str
    measure: str  # cohen_kappa | spearman
    n: int
    value: float | None
    low: float | None
    high: float | None


def collect(folders: Sequence[Path]) -> dict[str, dict[str, float]]:
    """Each judge's per-sample headline values under each protocol, read from the folders'
    ``judgements.jsonl`` (every judge that ever judged there), named ``protocol@judge``
    (prefixed by the folder's name when several folders are given). A sample whose
    replies do not parse is left out of that judge's series."""
    from harness.judge.protocols import PROTOCOLS, ParseError
    from harness.judge.store import JudgeStore

    out: dict[str, dict[str, float]] = {}
    for folder in folders:
        stored = JudgeStore(folder).load()
        if not stored:
            raise UsageError(f"{folder} holds no judge verdicts ({folder}/judgements.jsonl): "
                             "run the task with -T judge=MODEL first")
        # (judge, protocol) -> sample -> role -> reply; the latest line of each wins
        replies: dict[tuple[str, str, str], dict[str, dict[str, str]]] = {}
        for j in stored.values():
            if j.ok:
                series = (j.judge, j.judge_name or j.judge, j.protocol)
                replies.setdefault(series, {}).setdefault(j.sample_id, {})[j.role] = str(j.reply)
        for (digest, name, protocol_id), samples in replies.items():
            protocol = PROTOCOLS.get(protocol_id.partition("@")[0])
            if protocol is None or protocol.record()["version"] != protocol_id.partition("@")[2]:
                continue  # a protocol (version) this harness no longer has
            values = {}
            for sample_id, by_role in samples.items():
                try:
                    parsed = {role: protocol.parse(role, reply) for role, reply in by_role.items()}
                    values[sample_id] = protocol.combine(parsed)[protocol.headline]
                except (ParseError, KeyError):  # unparseable, or a call of the pair missing
                    continue
            label = _label(folder, folders, f"{protocol.name}@{name}")
            if label in out:  # the same judge under other options
                label += f"#{digest[:6]}"
            out[label] = values
    return out


def per_sample_scores(folders: Sequence[Path]) -> dict[str, dict[str, float]]:
    """Each score's per-sample values (text metrics, and judged scores named
    ``protocol@judge``) from the folders' ``samples.jsonl``: the sidecar of the complete
    ``metrics.json``, else of ``metrics.partial.json``. A folder without one (scored before
    it existed) adds nothing: ``harness score`` writes it."""
    from harness import results, samples

    out: dict[str, dict[str, float]] = {}
    for folder in folders:
        paths = [samples.path_for(folder / n) for n in (results.METRICS, results.PARTIAL_METRICS)]
        path = next((p for p in paths if p.exists()), None)
        if path is None:
            continue
        for rec in samples.read(path):
            for metric, value in rec.scores.items():
                if value is not None:
                    out.setdefault(_label(folder, folders, metric), {})[rec.id] = float(value)
    return out


def _label(folder: Path, folders: Sequence[Path], name: str) -> str:
    """A series' name: prefixed by its folder's name when several folders are compared."""
    return name if len(folders) == 1 else f"{folder.name}:{name}"


def split_judged(scores: dict[str, dict[str, float]]
                 ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """(judged scores, text metrics) of :func:`per_sample_scores`."""
    judged = {k: v for k, v in scores.items() if "@" in k}
    return judged, {k: v for k, v in scores.items() if k not in judged}


def read_human(path: Path) -> dict[str, dict[str, float]]:
    """rater -> sample id -> score, from a CSV with columns sample_id, rater, score."""
    raters: dict[str, dict[str, float]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        need = {"sample_id", "rater", "score"}
        if not need <= set(reader.fieldnames or ()):
            raise UsageError(f"{path}: the header must name sample_id, rater and score (it has "
                             f"{', '.join(reader.fieldnames or ()) or 'nothing'})")
        for row in reader:
            line = reader.line_num
            try:
                score = float(row["score"])
            except (TypeError, ValueError):
                raise UsageError(f"{path} row {line}: score {row['score']!r} is not a "
                                 "number") from None
            if not math.isfinite(score) or not row["sample_id"] or not row["rater"]:
                raise UsageError(f"{path} row {line}: needs a sample_id, a rater and a finite "
                                 "score")
            raters.setdefault(row["rater"], {})[row["sample_id"]] = score
    if not raters:
        raise UsageError(f"{path} holds no ratings")
    return raters


def agreement(a: dict[str, float], b: dict[str, float], name_a: str, name_b: str,
              bootstrap: int = 1000, seed: int = 0) -> Row:
    """Kappa (both sides 0/1) or Spearman between two raters on the samples both rated; the
    point estimate from scikit-learn / SciPy, the interval from ``bootstrap`` resamples."""
    ids = sorted(set(a) & set(b))
    x = np.array([a[i] for i in ids], dtype=float)
    y = np.array([b[i] for i in ids], dtype=float)
    binary = bool(ids) and set(np.unique(np.concatenate([x, y]))) <= {0.0, 1.0}
    value = low = high = None
    if len(ids) >= 2:
        value = _kappa(x, y) if binary else _spearman(x, y)
    if bootstrap and value is not None:
        idx = np.random.default_rng(seed).integers(0, len(ids), (bootstrap, len(ids)))
        draws = (kappa_rows if binary else spearman_rows)(x[idx], y[idx])
        draws = draws[np.isfinite(draws)]
        if len(draws):
            low, high = (float(v) for v in np.percentile(draws, [2.5, 97.5]))
    return Row(name_a, name_b, "cohen_kappa" if binary else "spearman", len(ids), value, low,
               high)


def _kappa(x: np.ndarray, y: np.ndarray) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if len(np.unique(np.concatenate([x, y]))) < 2:
        return None  # one class only: kappa is undefined
    value = float(cohen_kappa_score(x, y))
    return value if math.isfinite(value) else None


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if np.all(x == x[0]) or np.all(y == y[0]):
        return None  # a constant side has no ranks to correlate
    return float(spearmanr(x, y).statistic)


def kappa_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cohen's kappa of each row pair of 0/1 arrays (NaN where chance agreement is 1): the
    bootstrap's thousand resamples at once, where a call per resample would take seconds."""
    observed = (x == y).mean(axis=1)
    px, py = x.mean(axis=1), y.mean(axis=1)
    chance = px * py + (1 - px) * (1 - py)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (observed - chance) / (1 - chance)


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair (average ranks for ties; NaN for a constant row)."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (rx * ry).sum(axis=1) / np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))


def compare(series: dict[str, dict[str, float]], human: Path | None, bootstrap: int = 1000,
            seed: int = 0, text: dict[str, dict[str, float]] | None = None) -> list[Row]:
    rows = [agreement(series[a], series[b], a, b, bootstrap, seed)
            for a, b in itertools.combinations(series, 2)]
    # each judge against each text metric on the same answers (Spearman: metrics are scores)
    rows += [agreement(series[j], (text or {})[m], j, m, bootstrap, seed)
             for j in series for m in (text or {})]
    if human is not None:
        raters = read_human(human)
        ids = {i for r in raters.values() for i in r}
        mean = {i: float(np.mean([r[i] for r in raters.values() if i in r])) for i in ids}
        rows += [agreement(values, mean, name, "human (mean of raters)", bootstrap, seed)
                 for name, values in series.items()]
        rows += [agreement(raters[a], raters[b], f"human:{a}", f"human:{b}", bootstrap, seed)
                 for a, b in itertools.combinations(sorted(raters), 2)]
    return rows


def render(rows: Sequence[Row]) -> str:
    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = ["| a | b | measure | n | value | 95% interval |", "|---|---|---|---|---|---|"]
    for r in rows:
        interval = "-" if r.low is None else f"[{fmt(r.low)}, {fmt(r.high)}]"
        lines.append(f"| {r.a} | {r.b} | {r.measure} | {r.n} | {fmt(r.value)} | {interval} |")
    if not rows:
        lines.append("| (one judged score only: nothing to compare; give --human) | | | | | |")
    return "\n".join(lines)
