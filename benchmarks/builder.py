"""Dataset builder on real PDFs and on the synthetic book: accuracy per PDF and pages/s.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/builder.py [--pages 200] [--extra-pdfs DIR]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/builder.py --leave-one-publisher-out \
        [--extra-pdfs DIR ...] [--smoke]

``--leave-one-publisher-out``: every truth file whose PDF is found (the corpus, ``extra/`` and
``heldout/``, whose PDFs an ``--extra-pdfs`` folder must hold under the names the files give)
is grouped by its ``publisher``; each publisher's PDFs are built with the shipped modality
library less every reference taken from that publisher's PDFs, and the table gives each
publisher's figures: skin panels written / expected, non-skin pictures written unflagged,
clean skin panels flagged for review, captions, pairing, panels, pages/s. The builder's
thresholds are constants, chosen on the corpus and ``extra/`` (not re-tuned per fold): the
``heldout/`` publishers are the ones no rule or threshold was chosen on. ``--smoke``: the
smallest PDF of two publishers only (seconds; the test suite runs it).

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

from _result import result, skip  # noqa: E402
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


def real_pdfs(extra: list[Path], heldout: bool = False) -> list[tuple[Path, dict]]:
    dirs = [ROOT.parent / "shared" / "data" / "pdfs", *extra]
    found = {p.name: p for d in dirs if d.is_dir() for p in d.glob("*.pdf")}
    out = []
    folders = ["extra", "heldout"] if heldout else ["extra"]
    for tf in sorted(TRUTH.glob("*.json")) + [f for d in folders
                                              for f in sorted((TRUTH / d).glob("*.json"))]:
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


LOPO_COLS = ["PDFs", "pages", "skin written", "non-skin written", "clean flagged", "capt",
             "pair", "rec", "prec", "sub", "pages/s"]


def leave_one_publisher_out(pdfs: list[tuple[Path, dict]], root: Path) -> dict[str, dict]:
    """Per publisher: its PDFs built against the library less that publisher's references."""
    library = default_library()
    by_pub: dict[str, list[tuple[Path, dict]]] = {}
    for pdf, truth in pdfs:
        by_pub.setdefault(truth.get("publisher", "?"), []).append((pdf, truth))
    rows = {}
    for pub, items in sorted(by_pub.items()):
        lib = library
        for pdf, _ in items:
            lib = lib.without(pdf.stem)
        r = {"PDFs": len(items), "pages": 0, "wall": 0.0, "skin_written": 0, "skin_panels": 0,
             "non_skin": 0, "clean_flagged": 0, "clean_written": 0, "failures": []}
        sums = {k: 0.0 for k in ("caption_text", "caption_pairing", "panel_recall",
                                 "panel_precision", "subcaption")}
        weights = {k: 0 for k in sums}
        for pdf, truth in items:
            work = root / pdf.stem
            t = time.perf_counter()
            sc = build_and_score(pdf, truth, work, lib)
            r["wall"] += time.perf_counter() - t
            r["pages"] += truth["pages"]
            r["skin_written"] += sc["skin_written"]
            r["skin_panels"] += sc["skin_panels"]
            r["non_skin"] += sc["written_non_skin"]
            r["clean_flagged"] += sc["clean_skin_flagged"]
            r["clean_written"] += sc["clean_skin_written"]
            for k in sums:
                w = {"caption_text": sc["figures_truth"], "caption_pairing": sc["matched"],
                     "panel_precision": sc["panels_built"]}.get(k, sc["panels_truth"])
                sums[k] += sc[k] * w
                weights[k] += w
            r["failures"] += [f"{pdf.stem[:30]}: {f}" for f in sc["failures"]]
            r["failures"] += [f"{pdf.stem[:30]}: flagged {f}" for f in sc["clean_skin_flagged_ids"]]
            shutil.rmtree(work, ignore_errors=True)
        r.update({k: sums[k] / weights[k] if weights[k] else 1.0 for k in sums})
        rows[pub] = r
    return rows


def print_lopo(rows: dict[str, dict], verbose: bool = True) -> None:
    print(f"{'publisher (left out of the library)':<44}" + "".join(f"{c:>9}" for c in LOPO_COLS[:2])
          + f"{'skin':>11}{'non-skin':>10}{'flagged':>10}"
          + "".join(f"{c:>6}" for c in LOPO_COLS[5:10]) + f"{'pages/s':>9}")
    tot = {"PDFs": 0, "pages": 0, "wall": 0.0, "skin_written": 0, "skin_panels": 0,
           "non_skin": 0, "clean_flagged": 0, "clean_written": 0}
    for pub, r in rows.items():
        print(f"{pub[:43]:<44}{r['PDFs']:>9}{r['pages']:>9}"
              f"{r['skin_written']:>7}/{r['skin_panels']:<3}{r['non_skin']:>10}"
              f"{r['clean_flagged']:>6}/{r['clean_written']:<3}"
              + "".join(f"{r[k]:>6.2f}" for k in ("caption_text", "caption_pairing",
                                                  "panel_recall", "panel_precision",
                                                  "subcaption"))
              + f"{r['pages'] / r['wall']:>9.1f}")
        for k in tot:
            tot[k] += r[k]
        if verbose:
            for f in r["failures"]:
                print(f"    {f[:150]}")
    print(f"{'all':<44}{tot['PDFs']:>9}{tot['pages']:>9}{tot['skin_written']:>7}/"
          f"{tot['skin_panels']:<3}{tot['non_skin']:>10}{tot['clean_flagged']:>6}/"
          f"{tot['clean_written']:<3}{'':>30}{tot['pages'] / tot['wall']:>9.1f}")


def smallest_of_two(pdfs: list[tuple[Path, dict]]) -> list[tuple[Path, dict]]:
    """The smallest PDF of each of the first two publishers (by name): a seconds-long run."""
    by_pub: dict[str, tuple[Path, dict]] = {}
    for pdf, truth in sorted(pdfs, key=lambda x: x[1]["pages"]):
        by_pub.setdefault(truth.get("publisher", "?"), (pdf, truth))
    return [by_pub[p] for p in sorted(by_pub)[:2]]


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
    ap.add_argument("--leave-one-publisher-out", action="store_true",
                    help="Per-publisher table, each publisher left out of the library.")
    ap.add_argument("--smoke", action="store_true",
                    help="With --leave-one-publisher-out: two small PDFs only (seconds).")
    args = ap.parse_args()
    if args.leave_one_publisher_out or args.smoke:  # --smoke: the publisher table, small
        pdfs = real_pdfs(args.extra_pdfs, heldout=True)
        if args.smoke:
            pdfs = smallest_of_two(pdfs)
        if not pdfs:  # what it measures on is absent: a SKIP, as every benchmark says it
            skip(__file__, "no truth file's PDF was found (../shared/data/pdfs, --extra-pdfs)")
        with tempfile.TemporaryDirectory() as tmp:
            rows = leave_one_publisher_out(pdfs, Path(tmp))
            print_lopo(rows, verbose=not args.smoke)
        found = list(rows.values()) if isinstance(rows, dict) else list(rows)
        non_skin = sum(r["non_skin"] for r in found if isinstance(r, dict))
        result(__file__, bool(rows) and non_skin == 0,
               f"{len(rows)} publisher rows, {non_skin} non-skin pictures written")
        return
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
