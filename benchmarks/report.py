"""The report at MM-Skin's scale: 5,452 VQA samples x 9 models, opened in headless Chromium.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/report.py [--smoke] [--keep DIR]

``--keep DIR`` builds the store in DIR and keeps it; given again, it reuses it.

Builds a synthetic results store (metrics.json through harness.results, predictions.jsonl
through harness.store, samples.jsonl through harness.samples; one synthetic image per two
questions, as MM-Skin asks several questions per image), writes the report twice (the first
makes the thumbnails, the second finds them made), and measures in Debian's Chromium, through
the browser's performance API:

- first view: navigation start to the first page of samples painted (the page's own
  ``samples-painted`` mark: a task queued after the frame that shows the rows), and the
  first contentful paint, for the one-model and the two-model view;
- a filter: from the control's change to the next painted frame, for a text search, a
  modality, a score range, and (two-model view) ordering by the per-sample difference.

Each is the median of several loads or changes. Printed with the machine's load (uptime),
and the site's size per 1,000 samples. ``--smoke``: 300 samples x 3 models, one load each.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _result import result  # noqa: E402

from harness import results, samples  # noqa: E402
from harness.report import browser  # noqa: E402
from harness.report.site import slugify  # noqa: E402
from harness.report.site import write as write_report  # noqa: E402
from harness.store import ResultStore  # noqa: E402
from harness.types import Prediction  # noqa: E402

TASK = "vqa/mm-skin"
METRICS = ("bleu4", "meteor", "rougeL", "bertscore", "recall")
MODALITIES = ("clinical", "dermoscopy", "pathology")
# As the real metrics record themselves: BLEU-4 is a corpus metric, the others means of pairs
# (the report's paired bootstrap resamples those from their per-sample values).
INFO = {k: results.MetricInfo(params={"level": "corpus"} if k == "bleu4" else
                              {"aggregate": "mean of pair scores"}) for k in METRICS}
WORDS = ("lesion skin erythematous plaque papule nodule scaly border irregular pigment "
         "brown pink dermoscopy network globules vessels ulcer crust biopsy epidermis dermis "
         "infiltrate keratinocytes melanocytes atypical symmetric asymmetric diagnosis "
         "melanoma nevus carcinoma psoriasis eczema the a of with and in on shows").split()


def sentence(rng: random.Random, low: int = 12, high: int = 40) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def make_store(root: Path, n: int, models: int) -> Path:
    from PIL import Image

    rng = random.Random(0)
    images = root / "images"
    images.mkdir(parents=True)
    recs, paths = [], []
    for i in range((n + 1) // 2):
        colour = tuple(rng.randint(60, 230) for _ in range(3))
        path = images / f"img{i:05d}.png"
        Image.new("RGB", (384, 384), colour).save(path)
        paths.append(path)
    for i in range(n):
        recs.append(samples.SampleRecord(
            id=f"s{i:05d}", fingerprint=f"fp{i:05d}", image=str(paths[i // 2]),
            prompt="", question=sentence(rng, 6, 14).rstrip(".") + "?",
            references=[sentence(rng)], modality=MODALITIES[i % 3],
            meta={"sex": rng.choice(("male", "female"))}))
    out = root / "results"
    for m in range(models):
        name = f"model-{m}"
        folder = out / TASK / name
        store = ResultStore(folder)
        preds, model_recs = [], []
        for r in recs:
            failed = rng.random() < 0.01
            preds.append(Prediction(id=r.id, fingerprint=r.fingerprint,
                                    output=None if failed else sentence(rng),
                                    error="image unreadable: synthetic" if failed else None))
            model_recs.append(r.model_copy(update={"scores": {} if failed else {
                k: rng.random() for k in METRICS}}))
        store.append(preds)
        store.close()
        samples.write(folder / samples.SAMPLES, model_recs)
        scored = [r for r in model_recs if r.scores]
        overall = {k: statistics.fmean(r.scores[k] for r in scored) for k in METRICS}
        results.write(folder / results.METRICS, results.MetricsFile(
            task=TASK, kind="vqa", dataset="mm-skin", model=name, n=n, answered=len(scored),
            failed=n - len(scored), coverage=len(scored) / n,
            scores=results.Scores(overall=overall, n=len(scored), metrics=INFO, bootstrap={
                "resamples": 1000, "seed": 0, "stratified_by": "strata"}, groups={"modality": {
                mod: {"n": sum(1 for r in scored if r.modality == mod), **{
                    k: statistics.fmean(r.scores[k] for r in scored if r.modality == mod)
                    for k in METRICS}} for mod in MODALITIES}})))
    return out


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


PAINTED = """
const done = arguments[arguments.length - 1];
(function wait() {
  const p = performance.getEntriesByName("samples-painted")[0];
  if (!p) return setTimeout(wait, 5);
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  done({painted: p.startTime, fcp: fcp ? fcp.startTime : null});
})();"""

CHANGE = """
const [selector, value, done] = arguments;
const el = document.querySelector(selector);
const t0 = performance.now();
el.value = value;
el.dispatchEvent(new Event(el.tagName === "INPUT" ? "input" : "change"));
requestAnimationFrame(() => setTimeout(() => done({ms: performance.now() - t0,
  shown: document.getElementById("summary").dataset.shown}), 0));"""


def first_view(driver: object, url: str, loads: int) -> tuple[float, float]:
    painted, fcp = [], []
    for _ in range(loads):
        driver.get("about:blank")
        driver.get(url)
        got = driver.execute_async_script(PAINTED)
        painted.append(got["painted"])
        fcp.append(got["fcp"] or float("nan"))
    return statistics.median(painted), statistics.median(fcp)


def filter_time(driver: object, selector: str, values: list[str], repeat: int) -> tuple[float, str]:
    times, shown = [], ""
    for _ in range(repeat):
        for value in values:
            got = driver.execute_async_script(CHANGE, selector, value)
            times.append(got["ms"])
            shown = got["shown"]
    return statistics.median(times), shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="300 samples x 3 models, one load")
    parser.add_argument("--keep", type=Path,
                        help="build the store here and keep it (reused when it is there)")
    args = parser.parse_args()
    n, models, loads, repeat = (300, 3, 1, 1) if args.smoke else (5452, 9, 5, 5)
    why = browser.missing()
    if why is not None:
        sys.exit(f"benchmarks/report.py needs a browser: {why}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="report-bench-"))
    store = root / "results"
    if store.is_dir():  # --keep DIR of an earlier run: its store (and thumbnails) again
        print(f"synthetic store: reusing {store}")
    else:
        t = time.perf_counter()
        store = make_store(root, n, models)
        print(f"synthetic store: {n} samples x {models} models in "
              f"{time.perf_counter() - t:.1f} s")
    site = root / "site"
    made = "thumbnails found from an earlier run" if (site / "thumbs").is_dir() else \
        "thumbnails made"
    for attempt in (f"first ({made})", "again (thumbnails found)"):
        t = time.perf_counter()
        write_report(store, site)
        print(f"harness report, {attempt}: {time.perf_counter() - t:.1f} s")
    data, thumbs = size(site / "data"), size(site / "thumbs")
    total = size(site)
    print(f"site: {total / 1e6:.1f} MB in all; sample data {data / 1e6:.2f} MB "
          f"({data / n * 1000 / 1e6:.2f} MB per 1,000 samples for {models} models, "
          f"{data / n * 1000 / models / 1e3:.0f} kB per 1,000 samples per model); thumbnails "
          f"{thumbs / 1e6:.2f} MB ({thumbs / n * 1000 / 1e6:.2f} MB per 1,000 samples)")
    slug = slugify(TASK)
    base = (site / "samples.html").as_uri() + f"?task={slug}&model={slugify('model-0')}"
    with browser.chromium() as driver:
        for label, url in (("one model", base), ("two models", base + f"&b={slugify('model-1')}")):
            painted, fcp = first_view(driver, url, loads)
            print(f"{label}: first page of samples painted {painted:.0f} ms after navigation "
                  f"(first contentful paint {fcp:.0f} ms), median of {loads}")
            filters = [('input[data-f="q"]', ["melanoma nevus", "zz-no-match", ""]),
                       ('select[data-f="modality"]', ["clinical", "pathology", ""]),
                       ('input[data-f="min"]', ["50", "90", ""])]
            if label == "two models":
                filters.append(('select[data-f="order"]', ["diff-desc", "diff-asc", "dataset"]))
            for selector, values in filters:
                ms, _ = filter_time(driver, selector, values, repeat)
                print(f"  filter {selector}: {ms:.1f} ms to the next painted frame "
                      f"(median of {len(values) * repeat})")
        errors = browser.console_errors(driver)
        remote = browser.remote(browser.requested_urls(driver))
    print("load average (1, 5, 15 min):", " ".join(f"{x:.2f}" for x in os.getloadavg()),
          f"on {os.cpu_count()} CPUs")
    result(__file__, not errors and not remote,
           f"{len(errors)} console errors, {len(remote)} remote requests")


if __name__ == "__main__":
    main()
