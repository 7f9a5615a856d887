"""Dataset builder on real PDFs and on the synthetic book: accuracy per PDF and pages/s.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/builder.py [--pages 200] [--extra-pdfs DIR]

Real PDFs: every truth file of tests/builder_truth whose PDF is in ../shared/data/pdfs (or in
an --extra-pdfs folder, for tests/builder_truth/extra) is built end to end without the LLM
(template questions) and scored (dataset_builder/evaluate.py). The modality library is the
shipped one less the PDF's own references, as in tests/test_builder_corpus.py. Speed is pages
per second of wall time and of CPU time (this process and its threads: steadier than wall time
on a shared machine), and, so that runs on different machines compare, the ratio of the real
PDFs' pages/s to the synthetic book's, measured in the same process.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from synthetic_book import build_book, reference_folders, score_pairs  # noqa: E402

from harness.dataset_builder.align import all_pairs, run_align  # noqa: E402
from harness.dataset_builder.demographics import run_demographics  # noqa: E402
from harness.dataset_builder.evaluate import build_and_score, load_truth  # noqa: E402
from harness.dataset_builder.extract import run_extract  # noqa: E402
from harness.dataset_builder.filters import run_filter  # noqa: E402
from harness.dataset_builder.modality import Library, default_library, run_modality  # noqa: E402
from harness.dataset_builder.vqa_gen import TemplateBackend, run_vqa  # noqa: E402
from harness.dataset_builder.write import run_write  # noqa: E402

TRUTH = ROOT / "tests" / "builder_truth"
COLS = [("figures", "fig"), ("caption_text", "capt"), ("caption_pairing", "pair"),
        ("panel_recall", "rec"), ("panel_precision", "prec"), ("subcaption", "sub")]


def real_pdfs(extra: list[Path]) -> list[tuple[Path, dict]]:
    dirs = [ROOT.parent / "shared" / "data" / "pdfs", *extra]
    found = {p.name: p for d in dirs if d.is_dir() for p in d.glob("*.pdf")}
    out = []
    for tf in sorted(TRUTH.glob("*.json")) + sorted((TRUTH / "extra").glob("*.json")):
        truth = load_truth(tf)
        if truth["pdf"] in found:
            out.append((found[truth["pdf"]], truth))
    return out


def run_real(pdfs: list[tuple[Path, dict]], root: Path) -> tuple[int, float, float]:
    library = default_library()
    print(f"{'pdf':<44}{'pages':>6}" + "".join(f"{c:>6}" for _, c in COLS)
          + f"{'skin':>8}{'non-skin written/flagged':>26}{'pages/s':>9}")
    pages = 0
    wall = cpu = 0.0
    totals = {k: 0.0 for k, _ in COLS}
    n_panels = n_figs = 0
    for pdf, truth in pdfs:
        work = root / pdf.stem
        t, c = time.perf_counter(), time.process_time()
        s = build_and_score(pdf, truth, work, library.without(pdf.stem))
        dw, dc = time.perf_counter() - t, time.process_time() - c
        wall, cpu, pages = wall + dw, cpu + dc, pages + truth["pages"]
        for k, _ in COLS:
            weight = s["figures_truth"] if k in ("figures", "caption_text") else s["panels_truth"]
            totals[k] += s[k] * weight
        n_panels += s["panels_truth"]
        n_figs += s["figures_truth"]
        print(f"{truth['pdf'][:43]:<44}{truth['pages']:>6}"
              + "".join(f"{s[k]:>6.2f}" for k, _ in COLS)
              + f"{s['skin_written']:>4}/{s['skin_panels']:<3}"
              + f"{s['written_non_skin']:>16} / {s['review_non_skin']:<7}"
              + f"{truth['pages'] / dw:>9.1f}")
        for f in s["failures"]:
            print(f"    {f[:150]}")
        shutil.rmtree(work, ignore_errors=True)
    agg = "".join(f"{totals[k] / (n_figs if k in ('figures', 'caption_text') else n_panels):>6.2f}"
                  for k, _ in COLS)
    print(f"{'all (weighted by figures / panels)':<44}{pages:>6}{agg}")
    return pages, wall, cpu


def run_synthetic(n_pages: int, seed: int, root: Path) -> tuple[float, float]:
    root.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    gt = build_book(root / "book.pdf", n_pages, seed)
    print(f"\nsynthetic book: {n_pages} pages ({(root / 'book.pdf').stat().st_size / 1e6:.1f} MB)"
          f" built in {time.perf_counter() - t:.1f} s")
    lib = Library.from_folders(reference_folders(root / "refs", 12))
    work = root / "work"
    stages = [
        ("extract", lambda: run_extract([root / "book.pdf"], work, quiet=True)),
        ("align", lambda: run_align(work, quiet=True)),
        ("modality", lambda: run_modality(work, lib, quiet=True)),
        ("demographics", lambda: run_demographics(work)),
        ("filter", lambda: run_filter(work, quiet=True)),
        ("vqa (template)", lambda: run_vqa(work, TemplateBackend(), quiet=True)),
        ("write", lambda: run_write(work, root / "out")),
    ]
    times = {}
    cpu = time.process_time()
    for name, fn in stages:
        t = time.perf_counter()
        fn()
        times[name] = time.perf_counter() - t
    cpu = time.process_time() - cpu
    n_images = len(all_pairs(work))
    print(f"{'stage':<16}{'seconds':>9}{'pages/s':>10}{'images/s':>10}")
    for name, sec in times.items():
        print(f"{name:<16}{sec:>9.2f}{n_pages / sec:>10.1f}{n_images / sec:>10.1f}")
    total = sum(times.values())
    print(f"{'end to end':<16}{total:>9.2f}{n_pages / total:>10.1f}{n_images / total:>10.1f}")
    s = score_pairs(gt, all_pairs(work))
    print(f"panels {s['gt_panels']}: recall {s['recall']:.3f} precision {s['precision']:.3f}"
          f" caption pairing {s['caption_pairing']:.3f} sub-captions {s['subcaption']:.3f}")
    return total, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--extra-pdfs", type=Path, action="append", default=[])
    args = ap.parse_args()
    pdfs = real_pdfs(args.extra_pdfs)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = [(p, t) for p, t in pdfs if p.parent.name == "pdfs"
                  and p.parent.parent.name == "data"]
        print("real PDFs (../shared/data/pdfs), end to end without the LLM:\n")
        pages, wall, cpu = run_real(corpus, root / "real")
        extra = [x for x in pdfs if x not in corpus]
        if extra:
            print("\nextra PDFs (--extra-pdfs; used while developing, not held out):\n")
            run_real(extra, root / "extra")
        syn_wall, syn_cpu = run_synthetic(args.pages, args.seed, root / "synthetic")
        real_rate, syn_rate = pages / wall, args.pages / syn_wall
        print(f"\nreal PDFs: {pages} pages, {real_rate:.1f} pages/s wall, {pages / cpu:.1f} "
              f"pages/s CPU; synthetic book: {syn_rate:.1f} pages/s wall, "
              f"{args.pages / syn_cpu:.1f} pages/s CPU; "
              f"real/synthetic = {real_rate / syn_rate:.2f}")


if __name__ == "__main__":
    main()
