"""Malformed input, tried on purpose through the real `harness` command.

Every case ends in one of two honest ways:

- one sentence on stderr naming the file and row (or the option), exit code 2 for a
  usage error and 1 for a data error, and no traceback; or
- a recorded outcome the numbers account for: a per-sample failure in
  predictions.jsonl (coverage drops), or a skipped row listed by file and row in
  run.json and counted in metrics.json.

The subprocesses of one group run a few at a time, and each parametrised case
checks its own property on the shared result, so the many cases stay cheap.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_server import ApiServer
from PIL import Image

from tests.cli_helpers import REPO, harness_env
from tests.reliability.counts import COUNTS

SPLIT = "mmskin-splits/classification/HAM10000_test.csv"
IMAGES = "HAM10000/HAM10000_images_part_1"
KEY_ENV = "HARNESS_RELIABILITY_KEY"


# -- helpers -------------------------------------------------------------------------------


@dataclass
class Case:
    args: tuple[str, ...]
    code: int  # expected exit code
    needles: tuple[str, ...]  # each must be in the one error line
    cwd: Path | None = None


def run_many(cases: dict[str, Case], env: dict[str, str], cwd: Path,
             workers: int = 3) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each case as a real `python -m harness` subprocess, a few at a time."""
    def one(case: Case) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "harness", *case.args], cwd=case.cwd or cwd,
                              env=env, capture_output=True, text=True, timeout=300)

    with ThreadPoolExecutor(workers) as pool:
        return dict(zip(cases, pool.map(one, cases.values()), strict=True))


def error_lines(stderr: str) -> list[str]:
    return [x for x in stderr.splitlines() if x.lower().startswith(("error:", "internal error:"))]


def assert_one_sentence(proc: subprocess.CompletedProcess[str], code: int,
                        needles: Sequence[str]) -> None:
    """Exit ``code``, no traceback, exactly one error line, naming what was wrong."""
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = error_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr[-2000:]
    assert len(lines[0]) < 600, "an error is one sentence, not a dump"
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def write_split(root: Path, rows: Sequence[str] | bytes, header: str = "image,categories") -> Path:
    path = root / SPLIT
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(rows, bytes):
        path.write_bytes(rows)
    else:
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def lesion(path: Path, seed: int, size: int = 48, **save: Any) -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **save)
    return path


def bilevel_png(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit PNG of any size, written row by row (never held in memory whole)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def split_row(rel: str, label: str = "Melanoma") -> str:
    return f"{rel},\"['{label}']\""


@pytest.fixture(scope="module")
def env(plugin_site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    site = tmp_path_factory.mktemp("bad-plugin-site")
    write_bad_plugin(site)
    return harness_env(PYTHONPATH=f"{REPO}:{plugin_site}:{site}", **{KEY_ENV: "sk-rel-test"})


# -- 1. command-line options and option values ---------------------------------------------

DEMO = ("--task", "zeroshot/demo", "-T", "bootstrap=10", "--limit", "2")
CLI_CASES: dict[str, Case] = {
    "unknown model": Case(("run", "--model", "no-such-model", *DEMO), 2, ("no-such-model",)),
    "unknown task": Case(("run", "--model", "majority", "--task", "no/such"), 2, ("no/such",)),
    "batch size 0": Case(("run", "--model", "majority", *DEMO, "--batch-size", "0"), 2,
                         ("--batch-size",)),
    "limit not a number": Case(("run", "--model", "majority", "--task", "zeroshot/demo",
                                "--limit", "many"), 2, ("--limit",)),
    "-M without =": Case(("run", "--model", "mean-colour", *DEMO, "-M", "delay"), 2,
                         ("-M", "delay")),
    "-T without =": Case(("run", "--model", "majority", *DEMO, "-T", "bootstrap"), 2,
                         ("-T", "bootstrap")),
    "-T bad integer": Case(("run", "--model", "majority", "--task", "zeroshot/demo",
                            "-T", "bootstrap=lots"), 2, ("bootstrap",)),
    "-T unknown option": Case(("run", "--model", "majority", *DEMO, "-T", "colour=red"), 2,
                              ("colour",)),
    "-T bad choice": Case(("run", "--model", "majority", *DEMO, "-T", "decoding=wild"), 2,
                          ("wild",)),
    "-T unknown split": Case(("run", "--model", "majority", *DEMO, "-T", "split=nosuch"), 2,
                             ("nosuch",)),
    "--data-root missing": Case(("run", "--model", "majority", *DEMO, "--data-root",
                                 "/no/such/folder"), 2, ("/no/such/folder",)),
    "--data-root needed": Case(("run", "--model", "majority", "--task", "zeroshot/ham10000"), 2,
                               ("--data-root",)),
    "--device unknown": Case(("run", "--model", "majority", *DEMO, "--device", "tpu"), 2,
                             ("--device",)),
    "model option unknown": Case(("run", "--model", "mean-colour", *DEMO, "-M", "colour=red"),
                                 2, ("colour",)),
    "API option bad value": Case(("run", "--model", "openai-compatible", *DEMO, "-M",
                                  "base_url=http://127.0.0.1:9/v1", "-M", "model_id=m", "-M",
                                  f"api_key_env={KEY_ENV}", "-M", "timeout=soon"), 2,
                                 ("timeout",)),
    "capability mismatch": Case(("run", "--model", "colour-lbp", *DEMO), 2, ("colour-lbp",)),
    "score without a run": Case(("score", "--model", "majority", "--task", "zeroshot/demo"), 2,
                                ("majority",)),
    "plugin factory raises": Case(("run", "--model", "bad-factory", *DEMO), 1,
                                  ("cannot load weights on purpose",)),
}


# One subprocess each costs about a second of CPU: `make test` tries these, the slow run all.
CLI_FAST = ("unknown model", "-M without =", "-T bad integer", "--data-root needed",
            "model option unknown", "plugin factory raises")
CLI_SLOW = tuple(k for k in CLI_CASES if k not in CLI_FAST)


@pytest.fixture(scope="module")
def cli_fast(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, subprocess.CompletedProcess[str]]:
    return run_many({k: CLI_CASES[k] for k in CLI_FAST}, env, tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="module")
def cli_slow(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, subprocess.CompletedProcess[str]]:
    return run_many({k: CLI_CASES[k] for k in CLI_SLOW}, env, tmp_path_factory.mktemp("cli"))


@pytest.mark.parametrize("name", CLI_FAST)
def test_bad_command_line(name: str, cli_fast: dict[str, Any]) -> None:
    COUNTS["bad_inputs_tried"] += 1
    case = CLI_CASES[name]
    assert_one_sentence(cli_fast[name], case.code, case.needles)


@pytest.mark.slow
@pytest.mark.parametrize("name", CLI_SLOW)
def test_bad_command_line_more(name: str, cli_slow: dict[str, Any]) -> None:
    COUNTS["bad_inputs_tried"] += 1
    case = CLI_CASES[name]
    assert_one_sentence(cli_slow[name], case.code, case.needles)


# -- 2. dataset files that cannot be read at all (one sentence, file and row) ---------------


def data_file_cases(base: Path) -> dict[str, Case]:
    def root(name: str) -> Path:
        r = base / name.replace(" ", "-")
        r.mkdir()
        return r

    cases: dict[str, Case] = {}
    # hand-written split files are not the paper's: --allow-modified-splits lets each reach
    # the check under test (the pin itself: tests/reliability/test_split_pins.py)
    zs = ("run", "--model", "chance", "--task", "zeroshot/ham10000", "-T", "bootstrap=10",
          "--allow-modified-splits")

    r = root("split missing column")
    p = write_split(r, [f"{IMAGES}/ISIC_1.jpg,x"], header="image,labels")
    cases["split missing column"] = Case((*zs, "--data-root", str(r)), 1,
                                         (str(p.relative_to(r)), "row 1", "categories"))
    r = root("split empty file")
    p = write_split(r, b"")
    cases["split empty file"] = Case((*zs, "--data-root", str(r)), 1, (str(p.relative_to(r)),))
    r = root("split not utf-8")
    p = write_split(r, b"image,categories\nHAM10000/a.jpg,\"['Nevus']\"\n"
                       b"HAM10000/caf\xe9.jpg,\"['Nevus']\"\n")
    cases["split not utf-8"] = Case((*zs, "--data-root", str(r)), 1,
                                    (str(p.relative_to(r)), "row 3", "UTF-8"))
    r = root("split file absent")
    cases["split file absent"] = Case((*zs, "--data-root", str(r)), 1,
                                      ("HAM10000_test.csv", "fetch-splits"))
    r = root("metadata missing column")
    write_split(r, [split_row(f"{IMAGES}/ISIC_1.jpg")])
    meta = r / "HAM10000/HAM10000_metadata.csv"
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text("lesion_id,image_id,diagnosis\nL1,ISIC_2,mel\n")
    cases["metadata missing column"] = Case((*zs, "-T", "split=train", "--data-root", str(r)), 1,
                                            ("HAM10000_metadata.csv", "row 1", "dx"))
    r = root("metadata empty")
    write_split(r, [split_row(f"{IMAGES}/ISIC_1.jpg")])
    meta = r / "HAM10000/HAM10000_metadata.csv"
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_bytes(b"")
    cases["metadata empty"] = Case((*zs, "-T", "split=train", "--data-root", str(r)), 1,
                                   ("HAM10000_metadata.csv",))
    return cases


DATA_FILE_CASES = ("split missing column", "split empty file", "split not utf-8",
                   "split file absent", "metadata missing column", "metadata empty")


@pytest.fixture(scope="module")
def data_file_results(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
                      ) -> dict[str, tuple[Case, subprocess.CompletedProcess[str]]]:
    base = tmp_path_factory.mktemp("data-files")
    cases = data_file_cases(base)
    assert set(cases) == set(DATA_FILE_CASES)
    results = run_many(cases, env, base)
    return {k: (cases[k], results[k]) for k in cases}


@pytest.mark.parametrize("name", DATA_FILE_CASES)
def test_unreadable_dataset_file(name: str, data_file_results: dict[str, Any]) -> None:
    COUNTS["bad_inputs_tried"] += 1
    case, proc = data_file_results[name]
    assert_one_sentence(proc, case.code, case.needles)


# -- 3. bad rows: skipped, each named by file and row, counted -------------------------------

# row number (header = 1) -> (case, what the skip message must say)
SPLIT_ROWS: dict[str, tuple[str, int, str]] = {
    "categories not a literal": (split_row(f"{IMAGES}/ISIC_1.jpg").replace("['Melanoma']",
                                 "[Melanoma"), 3, "is not a list literal"),
    "categories not strings": (f"{IMAGES}/ISIC_2.jpg,\"[1, 2]\"", 4, "not a list of strings"),
    "label not a class": (split_row(f"{IMAGES}/ISIC_3.jpg", "Psoriasis"), 5,
                          "'Psoriasis' is not one of"),
    "two labels": (f"{IMAGES}/ISIC_4.jpg,\"['Nevus', 'Melanoma']\"", 6, "expected one label"),
    "duplicate id": (split_row(f"{IMAGES}/ISIC_0.jpg", "Nevus"), 7, "duplicate id 'ISIC_0'"),
    "empty image cell": (split_row(""), 8, "the image path is empty"),
    "huge line": (f"{IMAGES}/ISIC_5.jpg,\"['{'x' * 300_000}']\"", 9, "characters long"),
    "deeply nested categories": (f"{IMAGES}/ISIC_6.jpg,\"[{'-' * 5000}1]\"", 10,
                                 "is not a list literal"),
    "unterminated list": (f"{IMAGES}/ISIC_7.jpg,\"['Nevus'\"", 11, "is not a list literal"),
}
META_ROWS: dict[str, tuple[str, int, str]] = {
    "dx not a known code": ("L2,ISIC_11,melanomaa", 3, "dx 'melanomaa' is not one of"),
    "image_id is a path": ("L3,../ISIC_12,mel", 4, "is a path, not a file name"),
    "image_id empty": ("L4,,mel", 5, "empty image_id"),
    "image_id duplicate": ("L5,ISIC_10,nv", 6, "duplicate id 'ISIC_10'"),
}


@pytest.fixture(scope="module")
def row_runs(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("rows")
    root = base / "root"
    for i in range(14):
        lesion(root / IMAGES / f"ISIC_{i}.jpg", i)
    rows = [split_row(f"{IMAGES}/ISIC_0.jpg")] + [r for r, _, _ in SPLIT_ROWS.values()]
    write_split(root, rows)
    meta = root / "HAM10000/HAM10000_metadata.csv"
    meta.write_text("\n".join(["lesion_id,image_id,dx,age,sex", "L1,ISIC_10,mel,50,male",
                               *(r + ",40,female" for r, _, _ in META_ROWS.values()),
                               "L6,ISIC_13,nv,30,male"]) + "\n")
    common = ("run", "--model", "chance", "--task", "zeroshot/ham10000", "-T", "bootstrap=10",
              "--data-root", str(root), "--allow-modified-splits")
    # each in its own --output too (a non-test split also gets its own folder: ham10000+split=train)
    cases = {"test": Case((*common, "--output", "test"), 0, ()),
             "train": Case((*common, "-T", "split=train", "--output", "train"), 0, ())}
    procs = run_many(cases, env, base)
    out: dict[str, Any] = {}
    for split, proc in procs.items():
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        folder = next((base / split / "zeroshot").glob("ham10000*/chance"))
        out[split] = {"proc": proc, "run": json.loads((folder / "run.json").read_text()),
                      "metrics": json.loads((folder / "metrics.json").read_text())}
    return out


@pytest.mark.parametrize("name", list(SPLIT_ROWS))
def test_bad_split_row_is_skipped_named_and_counted(name: str, row_runs: dict[str, Any]) -> None:
    COUNTS["bad_inputs_tried"] += 1
    _, row, says = SPLIT_ROWS[name]
    res = row_runs["test"]
    listed = [m for m in res["run"]["data"]["skipped_rows"]
              if f"HAM10000_test.csv, row {row}:" in m]
    assert len(listed) == 1 and says in listed[0], res["run"]["data"]["skipped_rows"]
    assert len(listed[0]) < 600, "a skipped row is one sentence, not the row's whole text"
    # nothing silently dropped: kept + skipped = rows in the file; the count is on screen
    assert res["metrics"]["n"] + res["metrics"]["data"]["skipped"] == 1 + len(SPLIT_ROWS)
    assert res["metrics"]["data"]["skipped"] == len(SPLIT_ROWS)
    assert f"{len(SPLIT_ROWS)} dataset rows were skipped" in " ".join(res["proc"].stderr.split())


@pytest.mark.parametrize("name", list(META_ROWS))
def test_bad_metadata_row_is_skipped_named_and_counted(name: str, row_runs: dict[str, Any]
                                                       ) -> None:
    COUNTS["bad_inputs_tried"] += 1
    _, row, says = META_ROWS[name]
    skipped = row_runs["train"]["run"]["data"]["skipped_rows"]
    listed = [m for m in skipped if f"HAM10000_metadata.csv, row {row}:" in m]
    assert len(listed) == 1 and says in listed[0], skipped
    assert row_runs["train"]["metrics"]["data"]["skipped"] >= len(META_ROWS)


# -- 4. images: through a real run of the OpenAI-compatible plugin ------------------------------

# stem -> (how the file is made, expected: None = answered, else a piece of the recorded error)
IMAGE_CASES: dict[str, str | None] = {
    "good": None,
    "truncated": "corrupt or truncated",
    "zero_bytes": "image unreadable",  # found before the run: never sent
    "png_named_jpg": None,  # wrong extension, valid content: read by content
    "text_named_jpg": "not an image file",
    "cmyk": None,
    "sixteen_bit": None,
    "one_pixel": None,
    "huge_20000": "decompression bomb",
    "missing_file": "image missing",
}


def make_images(root: Path) -> list[str]:
    folder = root / IMAGES
    lesion(folder / "good.jpg", 1)
    full = lesion(folder / "full.jpg", 2, size=64).read_bytes()
    (folder / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (folder / "full.jpg").unlink()
    (folder / "zero_bytes.jpg").write_bytes(b"")
    lesion(folder / "png_named_jpg.jpg", 3, format="PNG")
    (folder / "text_named_jpg.jpg").write_text("this is not a picture\n")
    Image.fromarray(np.full((40, 40, 4), 90, np.uint8), "CMYK").save(folder / "cmyk.jpg")
    ramp = np.linspace(0, 65535, 40 * 40).reshape(40, 40).astype(np.uint16)
    Image.fromarray(ramp).save(folder / "sixteen_bit.png")
    assert Image.open(folder / "sixteen_bit.png").mode.startswith("I")
    Image.new("RGB", (1, 1), (120, 60, 40)).save(folder / "one_pixel.png")
    bilevel_png(folder / "huge_20000.png", 20000, 20000)
    names = {p.stem: p.name for p in folder.iterdir()}
    names["missing_file"] = "missing_file.jpg"
    assert set(names) == set(IMAGE_CASES)
    return [split_row(f"{IMAGES}/{names[s]}") for s in IMAGE_CASES]


@pytest.fixture(scope="module")
def image_run(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("images")
    root = base / "root"
    write_split(root, make_images(root))
    with ApiServer(api_key="sk-rel-test") as server:
        proc = subprocess.run(
            [sys.executable, "-m", "harness", "run", "--model", "openai-compatible",
             "--task", "zeroshot/ham10000", "-T", "bootstrap=10", "--data-root", str(root),
             "--allow-modified-splits",
             "--output", "out", "-M", f"base_url={server.openai_base_url}", "-M", "model_id=m",
             "-M", f"api_key_env={KEY_ENV}", "-M", "max_retries=0", "-M", "timeout=10"],
            cwd=base, env=env, capture_output=True, text=True, timeout=300)
        asked = len(server.requests())
    folder = base / "out/zeroshot/ham10000/openai-compatible"
    preds = [json.loads(x) for x in (folder / "predictions.jsonl").read_text().splitlines()]
    return {"proc": proc, "preds": {p["id"]: p for p in preds}, "n_lines": len(preds),
            "metrics": json.loads((folder / "metrics.json").read_text()), "asked": asked}


@pytest.mark.parametrize("stem", list(IMAGE_CASES))
def test_bad_image_is_a_recorded_failure_or_answered(stem: str, image_run: dict[str, Any]
                                                     ) -> None:
    COUNTS["bad_inputs_tried"] += 1
    proc = image_run["proc"]
    # some not answered: below --min-coverage (100%), so exit 3 with the reasons listed
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    failed = sum(e is not None for e in IMAGE_CASES.values())
    assert f"zeroshot/ham10000: {failed} of 10 samples failed" in proc.stderr
    assert image_run["n_lines"] == len(IMAGE_CASES), "one line per sample, none dropped"
    pred = image_run["preds"][stem]
    expected = IMAGE_CASES[stem]
    if expected is None:
        assert pred["error"] is None and pred["output"].startswith("echo["), pred
    else:
        assert pred["output"] is None and expected in pred["error"] and stem in pred["error"]
        assert len(pred["error"]) <= 500
    failed = [s for s, e in IMAGE_CASES.items() if e is not None]
    m = image_run["metrics"]
    assert (m["n"], m["failed"]) == (len(IMAGE_CASES), len(failed))
    assert m["coverage"] == pytest.approx(1 - len(failed) / len(IMAGE_CASES))
    assert {f["id"] for f in m["failures"]} == set(failed)
    assert image_run["asked"] == len(IMAGE_CASES) - len(failed), "a bad image is never sent"


# -- 5. PDFs through `harness build-dataset extract` --------------------------------------------

PDF_CASES = {"corrupt": "no pages", "garbage": "cannot open", "encrypted": "encrypted"}


@pytest.fixture(scope="module")
def pdf_run(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tests.synthetic_book import corrupt_pdf, encrypted_pdf

    base = tmp_path_factory.mktemp("pdfs")
    inp = base / "in"
    inp.mkdir()
    corrupt_pdf(inp / "corrupt.pdf")
    corrupt_pdf(inp / "garbage.pdf", header=False)
    encrypted_pdf(inp / "encrypted.pdf")
    proc = subprocess.run([sys.executable, "-m", "harness", "build-dataset", "extract", str(inp),
                           "--work", str(base / "work"), "--quiet"],
                          cwd=base, env=env, capture_output=True, text=True, timeout=300)
    manifest = [json.loads(x) for f in sorted((base / "work").rglob("*.jsonl"))
                for x in f.read_text().splitlines() if x.strip()]
    return {"proc": proc, "records": manifest}


@pytest.mark.parametrize("name", list(PDF_CASES))
def test_bad_pdf_is_recorded_and_named(name: str, pdf_run: dict[str, Any]) -> None:
    COUNTS["bad_inputs_tried"] += 1
    proc = pdf_run["proc"]
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    said = [x for x in proc.stderr.splitlines() if f"{name}.pdf" in x]
    assert len(said) == 1 and PDF_CASES[name] in said[0], proc.stderr
    recorded = [r for r in pdf_run["records"] if str(r.get("pdf", "")).endswith(f"{name}.pdf")]
    assert recorded and all(r.get("status") == "error" and PDF_CASES[name] in r.get("error", "")
                            for r in recorded), pdf_run["records"]
    assert '"pdfs": 3, "ok": 0' in proc.stdout


# -- 6. model outputs and plugin errors, through a tiny installed plugin ------------------------

BAD_PLUGIN = '''
"""Test plugin: answers the i-th request with the i-th kind of bad output."""
from harness import hookimpl
from harness.model import Model
from harness.specs import ModelSpec

BEHAVIOURS = {behaviours!r}


class BadOutputs(Model):
    name = "bad-outputs"
    capabilities = frozenset({{"generate"}})

    def __init__(self):
        self.calls = 0

    def identity(self):
        return {{"name": self.name}}

    def generate(self, requests):
        kind = BEHAVIOURS[self.calls % len(BEHAVIOURS)]
        self.calls += 1
        return {{
            "empty": lambda: [""],
            "whitespace only": lambda: [" \\n\\t  "],
            "enormous (1 MB)": lambda: ["melanoma " * 110_000],
            "an int": lambda: [42],
            "None": lambda: [None],
            "a dict": lambda: [{{"answer": "melanoma"}}],
            "two outputs for one request": lambda: ["melanoma", "nevus"],
            "no outputs": lambda: [],
            "generate raises": lambda: (_ for _ in ()).throw(RuntimeError("exploded on purpose")),
            "fine": lambda: ["melanoma"],
        }}[kind]()


def make(spec, context, options):
    return BadOutputs()


def make_raising(spec, context, options):
    raise RuntimeError("cannot load weights on purpose")


@hookimpl
def register_models(register):
    register(ModelSpec(name="bad-outputs", factory=make, family="test",
                       capabilities=frozenset({{"generate"}})))
    register(ModelSpec(name="bad-factory", factory=make_raising, family="test",
                       capabilities=frozenset({{"generate"}})))
'''

# kind -> expected: "answer" (a stored answer, scored as unmatched), or a piece of the error
OUTPUT_CASES: dict[str, str] = {
    "empty": "answer",
    "whitespace only": "answer",
    "enormous (1 MB)": "answer",
    "an int": "not a string",
    "None": "not a string",
    "a dict": "not a string",
    "two outputs for one request": "returned 2 outputs for 1 requests",
    "no outputs": "returned 0 outputs for 1 requests",
    "generate raises": "RuntimeError: exploded on purpose",
    "fine": "answer",
}


def write_bad_plugin(site: Path) -> None:
    """A plugin 'installed' the way pip leaves one: a module plus a dist-info entry point."""
    (site / "harness_bad_outputs.py").write_text(BAD_PLUGIN.format(behaviours=list(OUTPUT_CASES)))
    info = site / "harness_bad_outputs-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: harness-bad-outputs\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text("[harness]\nbad-outputs = harness_bad_outputs\n")


@pytest.fixture(scope="module")
def output_run(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("outputs")
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--model", "bad-outputs", "--task",
         "zeroshot/demo", "-T", "bootstrap=10", "--limit", str(len(OUTPUT_CASES)),
         "--batch-size", "1", "--output", "out"],
        cwd=base, env=env, capture_output=True, text=True, timeout=300)
    folder = base / "out/zeroshot/demo/bad-outputs"
    lines = (folder / "predictions.jsonl").read_text().splitlines()
    return {"proc": proc, "preds": [json.loads(x) for x in lines],
            "metrics": json.loads((folder / "metrics.json").read_text())}


def output_params() -> list[Any]:
    return [output_param(kind) for kind in OUTPUT_CASES]


def output_param(kind: str) -> Any:
    return pytest.param(kind, id=kind)


@pytest.mark.parametrize("kind", output_params())
def test_bad_model_output_is_stored_or_recorded(kind: str, output_run: dict[str, Any]) -> None:
    COUNTS["bad_inputs_tried"] += 1
    proc = output_run["proc"]
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "plugin returned something other than text" in proc.stderr
    preds = output_run["preds"]
    assert len(preds) == len({p["id"] for p in preds}) == len(OUTPUT_CASES)
    pred = preds[list(OUTPUT_CASES).index(kind)]  # asked in order, one per call
    expected = OUTPUT_CASES[kind]
    if expected == "answer":
        assert pred["error"] is None and isinstance(pred["output"], str)
        if kind in ("fine", "enormous (1 MB)"):
            assert pred["extra"]["matched"] == "Melanoma" and pred["extra"]["how"] == "exact"
        else:
            assert pred["extra"]["matched"] is None and pred["extra"]["how"] == "none"
    else:
        assert pred["output"] is None and expected in (pred["error"] or ""), pred
    m = output_run["metrics"]
    answered = sum(1 for p in preds if p["error"] is None)
    assert (m["n"], m["answered"]) == (len(OUTPUT_CASES), answered)
