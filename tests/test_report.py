"""harness report: the site written from a real demo-like results store, and that site opened
in a real headless Chromium (Debian's chromium + chromium-driver through Selenium): numbers
against metrics.json, the filters, the two-model view, no console error, no network request."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import run_harness

from harness import samples
from harness.report import browser
from harness.report.site import slugify
from harness.results import read_metrics

ZS = "zeroshot/demo+protocol=sound"
VQA = "vqa/demo+protocol=sound"
MODELS = ("chance", "majority")
BROKEN = "demo-test-0003"  # its image is emptied before the second model runs


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two baselines on the demo's zero-shot and VQA tasks, run by the harness's own runner.

    The demo images live in a cache of this module's own: one is emptied before `majority`
    runs, so its samples fail in preflight (a recorded failure, not a made-up one). VQA is
    scored on three cheap metrics (a metric subset: a partial result, marked as such)."""
    from harness.commands import registries
    from harness.runner import RunOptions, run

    root = tmp_path_factory.mktemp("report-store")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(root / "cache")
    try:
        regs = registries()
        for model in MODELS:
            if model == "majority":
                image = root / "cache" / "derm-harness"
                next(image.glob(f"demo-v*/images/{BROKEN}.png")).write_bytes(b"")
            common: dict[str, Any] = {"model": model, "output": root / "results",
                                      "batch_size": 16, "protocol": "sound"}
            run(regs, RunOptions(tasks=["zeroshot/demo"], task_options={"bootstrap": "50"},
                                 **common), console=None)
            run(regs, RunOptions(tasks=["vqa/demo"], task_options={
                "bootstrap": "50", "metrics": "bleu4,rougeL,recall"}, **common), console=None)
        yield root / "results"
    finally:
        if old is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="module")
def site(store: Path) -> Path:
    out = store.parent / "site"
    proc = run_harness("report", "--results", str(store), "--out", str(out), "--format", "hf",
                       "--hf-dataset", f"{ZS}=derm/demo-bench:zeroshot", cwd=store.parent)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out / 'index.html'}" in proc.stdout
    return out


def metrics(store: Path, task: str, model: str) -> Any:
    return read_metrics(store / task / model / "metrics.json")


# ------------------------------------------------------------------ the per-sample sidecar

def test_scoring_writes_each_samples_record_and_scores(store: Path) -> None:
    for model in MODELS:
        m = metrics(store, ZS, model)
        recs = samples.read(store / ZS / model / "samples.jsonl")
        assert len(recs) == m.n == 80
        scored = [r for r in recs if "correct" in r.scores]
        assert len(scored) == m.answered
        # The per-sample scores are the ones metrics.json aggregates.
        assert sum(r.scores["correct"] for r in scored) / len(scored) == pytest.approx(
            m.scores.overall["accuracy"])
        assert all(r.fields["match"] for r in scored) and all(r.label for r in recs)
        v = metrics(store, VQA, model)
        vrecs = samples.read(store / VQA / model / "samples.jsonl")
        assert len(vrecs) == v.n and all(r.references and r.question for r in vrecs)
        vs = [r for r in vrecs if r.scores]
        for metric in ("rougeL", "recall"):  # mean metrics: the mean of per-sample values
            assert sum(r.scores[metric] for r in vs) / len(vs) == pytest.approx(
                v.scores.overall[metric])
    broken = [r for r in samples.read(store / ZS / "majority" / "samples.jsonl")
              if r.id == BROKEN]
    assert broken and not broken[0].scores  # failed: no score, its reason is in predictions


def test_missing_sidecar_makes_the_scores_computed_again(store: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from harness.commands import registries
    from harness.runner import RunOptions, run

    results = tmp_path / "results"
    shutil.copytree(store / ZS / "majority", results / ZS / "majority")
    (results / ZS / "majority" / "samples.jsonl").unlink()
    monkeypatch.setenv("XDG_CACHE_HOME", str(store.parent / "cache"))  # the store's images
    run(registries(), RunOptions(model="majority", tasks=["zeroshot/demo"], output=results,
                                 protocol="sound", task_options={"bootstrap": "50"}),
        console=None)
    again = samples.read(results / ZS / "majority" / "samples.jsonl")
    assert [r.model_dump() for r in again] == [
        r.model_dump() for r in samples.read(store / ZS / "majority" / "samples.jsonl")]


# ------------------------------------------------------------------ the site on disk

def test_site_is_self_contained(site: Path, store: Path) -> None:
    pages = sorted(site.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "samples.html",
                                       f"task-{slugify(ZS)}.html", f"task-{slugify(VQA)}.html"}
    for path in [*pages, *site.glob("assets/*"), *site.glob("data/**/*.js")]:
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, path
    for page in pages:  # every file a page names is there (links to metrics.json included)
        for ref in re.findall(r'(?:src|href)="([^"#?]+)', page.read_text()):
            assert (site / ref).exists(), f"{page.name} names missing {ref}"
    thumbs = sorted(site.glob("thumbs/*.jpg"))
    assert len(thumbs) == 79  # 80 demo test images, one emptied: no thumbnail for it
    assert max(t.stat().st_size for t in thumbs) < 20_000
    shared = (site / "data" / slugify(ZS) / "samples.js").read_text()
    assert f'["{BROKEN}",null,' in shared


def test_hub_eval_results_and_model_card(site: Path, store: Path) -> None:
    for model in MODELS:
        m = metrics(store, ZS, model)
        entries = yaml.safe_load((site / "hf" / slugify(model) / ".eval_results" /
                                  f"{slugify(ZS)}.yaml").read_text())
        assert entries[0]["dataset"] == {"id": "derm/demo-bench", "task_id": "zeroshot"}
        assert entries[0]["value"] == round(100 * m.scores.overall["accuracy"], 2)
        card = (site / "hf" / slugify(model) / "model-card.md").read_text()
        assert f"| `{ZS}` | accuracy | {100 * m.scores.overall['accuracy']:.2f}" in card
    # The VQA result is partial (a metric subset): never published.
    assert not list(site.glob(f"hf/*/.eval_results/{slugify(VQA)}.yaml"))


def test_bad_usage_is_one_sentence(store: Path, tmp_path: Path) -> None:
    proc = run_harness("report", "--results", str(store), "--out", str(tmp_path / "o"),
                       "--format", "hf", "--hf-dataset", "nonsense", cwd=tmp_path)
    assert proc.returncode == 2 and "TASK=OWNER/NAME" in proc.stderr
    assert "Traceback" not in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = run_harness("report", "--results", str(tmp_path / "empty"), cwd=tmp_path)
    assert proc.returncode == 1 and "no results found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreadable_results_keep_the_last_report(store: Path, tmp_path: Path) -> None:
    import shutil

    results, out = tmp_path / "results", tmp_path / "site"
    shutil.copytree(store / ZS, results / ZS)
    assert run_harness("report", "--results", str(results), "--out", str(out),
                       cwd=tmp_path).returncode == 0
    before = (out / "index.html").read_text()
    (results / ZS / "chance" / "metrics.json").write_text("{not json")
    proc = run_harness("report", "--results", str(results), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 1 and "chance/metrics.json is not valid JSON" in proc.stderr
    assert "nothing in" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "index.html").read_text() == before
    proc = run_harness("report", "--results", str(results), "--out", str(out),
                       "--skip-unreadable", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    index = (out / "index.html").read_text()
    assert "chance/metrics.json is not valid JSON" in index
    # The model that is gone has no data left behind; thumbnails made before are kept.
    assert not (out / "data" / slugify(ZS) / f"{slugify('chance')}.js").exists()
    assert (out / "data" / slugify(ZS) / f"{slugify('majority')}.js").exists()
    assert len(list(out.glob("thumbs/*.jpg"))) == 79


def test_results_without_samples_file_say_how_to_get_one(store: Path, tmp_path: Path) -> None:
    import shutil

    results = tmp_path / "results"
    shutil.copytree(store / ZS, results / ZS)
    (results / ZS / "chance" / "samples.jsonl").unlink()  # as scored before the file existed
    proc = run_harness("report", "--results", str(results), "--out", str(tmp_path / "site"),
                       cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"{ZS}/chance: no samples.jsonl" in proc.stderr and "harness score" in proc.stderr
    page = (tmp_path / "site" / f"task-{slugify(ZS)}.html").read_text()
    assert f"{ZS}/chance: no samples.jsonl" in page


@pytest.mark.slow
def test_demo_ends_with_the_report(tmp_path: Path) -> None:
    proc = run_harness("demo", "--output", str(tmp_path / "results"), cwd=tmp_path,
                       timeout=600)
    assert proc.returncode == 0, proc.stderr
    index = tmp_path / "results" / "report" / "index.html"
    assert proc.stdout.rstrip().endswith(f"report (opens offline): {index}")
    assert index.is_file() and "https://" not in index.read_text()


# ------------------------------------------------------------------ in the browser

@pytest.fixture(scope="module")
def chrome() -> Iterator[Any]:
    why = browser.missing()
    if why is not None:
        pytest.skip(why)
    with browser.chromium() as driver:
        yield driver


def visit(driver: Any, url: str) -> None:
    driver.get(url)
    driver.find_element("css selector", "main")


def clean(driver: Any) -> None:
    """No console error and no request that would leave the machine, since the last check."""
    assert browser.console_errors(driver) == []
    urls = browser.requested_urls(driver)
    assert urls and browser.remote(urls) == []


def summary_count(driver: Any) -> int:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 10).until(
        lambda d: d.find_element("id", "summary").get_attribute("data-shown") is not None)
    return int(driver.find_element("id", "summary").get_attribute("data-shown"))


def choose(driver: Any, field: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", f'select[data-f="{field}"]')).select_by_value(
        value)


def type_into(driver: Any, field: str, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element("css selector", f'input[data-f="{field}"]')
    box.send_keys(Keys.CONTROL, "a")  # as a user clears it: each key fires "input"
    box.send_keys(Keys.BACKSPACE)
    if text:
        box.send_keys(text)


def test_browser_tables_match_metrics_json(chrome: Any, site: Path, store: Path) -> None:
    visit(chrome, (site / "index.html").as_uri())
    overview = chrome.find_element("css selector", 'section[data-doc="overview.md"] table')
    for model in MODELS:
        row = overview.find_element("xpath", f'.//tr[td[1][normalize-space()="{model}"]]')
        expected = f"{100 * metrics(store, ZS, model).scores.overall['accuracy']:.2f}"
        assert expected in row.text
    partial = chrome.find_element("css selector", "ul.partial").text.splitlines()
    assert sorted(partial) == [f"{VQA}/{m}: in the tables, partial (metrics bleu4, rougeL, "
                               f"recall): {metrics(store, VQA, m).answered} of 160 answered"
                               for m in MODELS]
    clean(chrome)
    visit(chrome, (site / f"task-{slugify(ZS)}.html").as_uri())
    table = chrome.find_element("css selector", "table.scores")
    names = [th.text for th in table.find_elements("css selector", "thead th")]
    col = names.index("accuracy")
    for model in MODELS:
        m = metrics(store, ZS, model)
        row = table.find_element("css selector", f'tr[data-model="{model}"]')
        cell = row.find_elements("css selector", "td")[col - 1]
        assert float(cell.get_attribute("data-value")) == m.scores.overall["accuracy"]
        low, high = m.scores.ci["accuracy"]
        assert cell.text == f"{100 * m.scores.overall['accuracy']:.2f} " \
                            f"({100 * low:.2f}–{100 * high:.2f})"
        assert str(m.failed) in row.text
    header = table.find_elements("css selector", "thead th")[col]
    header.click()  # sorted by accuracy, largest first
    values = [float(td.get_attribute("data-value")) for td in table.find_elements(
        "css selector", f"tbody tr td:nth-child({col + 1})")]
    assert values == sorted(values, reverse=True)
    assert "partial" not in table.text  # complete zero-shot results
    clean(chrome)
    visit(chrome, (site / f"task-{slugify(VQA)}.html").as_uri())
    assert "partial" in chrome.find_element("css selector", "table.scores").text
    clean(chrome)


def test_browser_sample_filters(chrome: Any, site: Path, store: Path) -> None:
    m = metrics(store, ZS, "majority")
    visit(chrome, (site / "samples.html").as_uri()
          + f"?task={slugify(ZS)}&model={slugify('majority')}")
    assert summary_count(chrome) == m.n
    assert len(chrome.find_elements("css selector", "#samples tbody tr")) == 50  # paged
    choose(chrome, "status", "failed")
    assert summary_count(chrome) == m.failed == 1
    row = chrome.find_element("css selector", "#samples tbody tr")
    assert row.get_attribute("data-id") == BROKEN and "image unreadable" in row.text
    assert "no image" in row.text
    choose(chrome, "status", "answered")
    assert summary_count(chrome) == m.answered
    # Correct answers only (score range 100..100): accuracy x answered, as metrics.json says.
    choose(chrome, "metric", "correct")
    type_into(chrome, "min", "100")
    assert summary_count(chrome) == round(m.scores.overall["accuracy"] * m.answered)
    type_into(chrome, "min", "")
    label = sorted(m.scores.label_counts)[1]
    choose(chrome, "label", label)
    broken_label = [r.label for r in samples.read(store / ZS / "majority" / "samples.jsonl")
                    if r.id == BROKEN][0]
    assert summary_count(chrome) == m.scores.label_counts[label] - (broken_label == label)
    choose(chrome, "label", "")
    choose(chrome, "match", "exact")
    assert summary_count(chrome) == m.scores.extras["match_counts"]["exact"]
    choose(chrome, "match", "")
    choose(chrome, "status", "")
    type_into(chrome, "q", "demo-test-0012")
    assert summary_count(chrome) == 1
    clean(chrome)


def test_browser_two_model_view(chrome: Any, site: Path, store: Path) -> None:
    visit(chrome, (site / f"task-{slugify(VQA)}.html").as_uri())
    chrome.find_element("css selector", "form.compare button").click()  # chance vs majority
    assert summary_count(chrome) == metrics(store, VQA, "chance").n
    assert "paired samples" in chrome.find_element("id", "summary").text
    recs = {model: {r.id: r for r in samples.read(store / VQA / model / "samples.jsonl")}
            for model in MODELS}
    choose(chrome, "metric", "rougeL")
    choose(chrome, "order", "diff-desc")
    rows = chrome.find_elements("css selector", "#samples tbody tr")
    diffs = [recs["chance"][i].scores["rougeL"] - recs["majority"][i].scores["rougeL"]
             for i in recs["chance"] if recs["chance"][i].scores and recs["majority"][i].scores]
    first = rows[0]
    shown = float(first.find_element("css selector", "td.diff").get_attribute("data-value"))
    assert shown == pytest.approx(max(diffs))
    rid = first.get_attribute("data-id")
    cells = first.find_elements("css selector", "td.answer")
    outputs = {p.id: p.output for p in _predictions(store / VQA / "chance")}
    assert outputs[rid] in cells[0].text
    mean = sum(diffs) / len(diffs)
    summary = chrome.find_element("id", "summary").text
    assert f"mean {100 * mean:.2f} over {len(diffs)} paired samples" in summary
    assert f"paired bootstrap over all {len(diffs)} samples both answered" in summary
    clean(chrome)


def _predictions(folder: Path) -> list[Any]:
    from harness.store import ResultStore

    return list(ResultStore(folder).load().values())


def manifest(site: Path) -> Any:
    text = (site / "data" / "manifest.js").read_text()
    return json.loads(text[text.index('["manifest"]=') + len('["manifest"]='):].rstrip(";\n"))


def test_manifest_is_json_in_a_script(site: Path) -> None:
    assert set(manifest(site)["tasks"]) == {slugify(ZS), slugify(VQA)}


def test_paired_bootstrap_is_the_metrics_packages(site: Path, store: Path) -> None:
    """The report's paired comparison (per-sample values, the harness's resamples) equals
    harness.metrics.paired_bootstrap computed from the answers' texts."""
    from harness.metrics import paired_bootstrap

    paired = manifest(site)["tasks"][slugify(VQA)]["paired"]
    got = paired["pairs"]["chance|majority"]
    assert "bleu4" not in got  # a corpus metric: not resampled from per-sample values
    recs = {m: {r.id: r for r in samples.read(store / VQA / m / "samples.jsonl") if r.scores}
            for m in MODELS}
    ids = sorted(set(recs["chance"]) & set(recs["majority"]))
    assert got["rougeL"]["n"] == len(ids) == 158
    out = {m: {p.id: p.output for p in _predictions(store / VQA / m)} for m in MODELS}
    ref = paired_bootstrap([out["chance"][i] for i in ids], [out["majority"][i] for i in ids],
                           [recs["chance"][i].references[0] for i in ids], ["rougeL", "recall"],
                           bootstrap=paired["resamples"], seed=paired["seed"],
                           strata=[recs["chance"][i].modality for i in ids])
    for metric in ("rougeL", "recall"):
        assert got[metric]["diff"] == pytest.approx(ref["metrics"][metric]["diff"])
        assert got[metric]["ci"] == pytest.approx(ref["metrics"][metric]["ci"])
        assert got[metric]["p_value"] == pytest.approx(ref["metrics"][metric]["p_value"])
