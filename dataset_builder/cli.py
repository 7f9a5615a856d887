"""``dataset-builder`` (also ``harness build-dataset``): one sub-command per stage, plus ``run``.

Every stage reads and writes under ``--work`` and skips what it has already done, so a
command can be rerun after a kill, and each stage's files can be inspected before the next.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from harness import hookimpl
from harness.commands import HarnessGroup
from harness.errors import UsageError

WORK = click.option("--work", type=click.Path(file_okay=False, path_type=Path), required=True,
                    help="Folder holding every stage's files.")
QUIET = click.option("--quiet", is_flag=True, help="No progress bars.")


def _report(stage: str, result: Any) -> None:
    click.echo(f"{stage}: {json.dumps(result, default=str)}")


@click.group(name="build-dataset", cls=HarnessGroup)
def cli() -> None:
    """Rebuild an MM-Skin-style dataset from textbook PDFs, stage by stage."""


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@WORK
@click.option("--min-side", default=300, show_default=True, help="Smallest native image side.")
@QUIET
def extract(inputs: tuple[Path, ...], work: Path, min_side: int, quiet: bool) -> None:
    """Images and text blocks from PDFs (files or folders)."""
    from .extract import ExtractConfig, run_extract

    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise UsageError(f"input {missing[0]} does not exist.")
    res = run_extract(list(inputs), work, ExtractConfig(min_side=min_side), quiet)
    for r in res:
        if r["status"] != "ok":
            click.echo(f"{r['pdf']}: {r['error']}", err=True)
    _report("extract", {"pdfs": len(res), "ok": sum(r["status"] == "ok" for r in res),
                        "images": sum(r.get("images", 0) for r in res)})


@cli.command()
@WORK
@QUIET
def align(work: Path, quiet: bool) -> None:
    """Captions, sub-captions and image pairing by page geometry."""
    from .align import run_align

    _report("align", run_align(work, quiet))


@cli.command()
@click.argument("folders", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("library_file", type=click.Path(dir_okay=False, path_type=Path))
def library(folders: Path, library_file: Path) -> None:
    """Build a modality reference library from labelled folders FOLDERS/<modality>/*.jpg."""
    from .modality import Library

    lib = Library.from_folders(folders)
    lib.save(library_file)
    counts = {m: lib.labels.count(m) for m in sorted(set(lib.labels))}
    _report("library", {"file": str(library_file), "references": counts})


def _library(library_file: Path | None, references: Path | None) -> Any:
    from .modality import Library, default_library

    if library_file:
        return Library.load(library_file)
    if references:
        return Library.from_folders(references)
    return default_library()  # shipped features; docs/dataset_builder.md says what it is worth


MODALITY_OPTS = [
    click.option("--library", "library_file", type=click.Path(dir_okay=False, path_type=Path),
                 help="Reference library (.npz) from `dataset-builder library`; default: the "
                      "shipped one (see docs/dataset_builder.md before trusting it)."),
    click.option("--references", type=click.Path(file_okay=False, path_type=Path),
                 help="Labelled folders <modality>/*.jpg to build the library from."),
    click.option("--colour-weight", default=0.25, show_default=True),
    click.option("--lbp-weight", default=1.0, show_default=True),
    click.option("--k", "k", default=1, show_default=True, help="Neighbours that vote."),
    click.option("--review-margin", default=0.15, show_default=True,
                 help="Decisions with a smaller relative margin go to review.csv."),
]


def _options(opts: list[Callable[..., Any]]) -> Callable[..., Any]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        for o in reversed(opts):
            fn = o(fn)
        return fn
    return deco


@cli.command()
@WORK
@_options(MODALITY_OPTS)
@QUIET
def modality(work: Path, library_file: Path | None, references: Path | None,
             colour_weight: float, lbp_weight: float, k: int, review_margin: float,
             quiet: bool) -> None:
    """Clinical / dermoscopy / pathology by nearest reference image."""
    from .modality import Weights, run_modality

    lib = _library(library_file, references)
    _report("modality", run_modality(work, lib, Weights(colour_weight, lbp_weight, k,
                                                        review_margin), quiet))


@cli.command()
@WORK
def demographics(work: Path) -> None:
    """Age and sex from captions, else from the article's case description (spans and
    sources recorded)."""
    from .demographics import run_demographics

    _report("demographics", run_demographics(work))


FACE_OPT = click.option("--face-model", type=click.Path(path_type=Path),
                        help="OpenCV face model (.xml cascade or YuNet .onnx); without it "
                             "OpenCV's own frontal-face cascade is used, and faces are "
                             "recorded as not checked only where this OpenCV ships none.")


@cli.command(name="filter")
@WORK
@FACE_OPT
@QUIET
def filter_(work: Path, face_model: Path | None, quiet: bool) -> None:
    """Annotation, face and duplicate checks; every decision recorded."""
    from .filters import run_filter

    _report("filter", run_filter(work, face_model, quiet))


VQA_OPTS = [
    click.option("--backend", type=click.Choice(["template", "openai", "replay"]),
                 default="template", show_default=True),
    click.option("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."),
    click.option("--model", default=None,
                 help="The LLM's name (default: meta-llama/Llama-3.1-8B-Instruct)."),
    click.option("--api-key", default="EMPTY", envvar="OPENAI_API_KEY", show_envvar=True),
    click.option("--temperature", default=0.2, show_default=True),
    click.option("--seed", "vqa_seed", default=0, show_default=True),
    click.option("--cassette", type=click.Path(dir_okay=False, path_type=Path),
                 help="With --backend replay: answers to replay."),
    click.option("--record", type=click.Path(dir_okay=False, path_type=Path),
                 help="Append every answer to this cassette."),
    click.option("--attempts", default=3, show_default=True),
    click.option("--workers", default=1, show_default=True, help="Parallel requests."),
    click.option("--retry-failed", is_flag=True, help="Try again captions that failed before."),
]


def _backend(backend: str, base_url: str | None, api_key: str, cassette: Path | None,
             record: Path | None) -> Any:
    from .vqa_gen import OpenAIBackend, RecordBackend, ReplayBackend, TemplateBackend

    b: Any
    if backend == "openai":
        if not base_url:
            raise UsageError("--backend openai needs --base-url.")
        b = OpenAIBackend(base_url, api_key)
    elif backend == "replay":
        if not cassette:
            raise UsageError("--backend replay needs --cassette.")
        b = ReplayBackend(cassette)
    else:
        b = TemplateBackend()
    return RecordBackend(b, record) if record else b


@cli.command()
@WORK
@_options(VQA_OPTS)
@QUIET
def vqa(work: Path, backend: str, base_url: str | None, model: str | None, api_key: str,
        temperature: float, vqa_seed: int, cassette: Path | None, record: Path | None,
        attempts: int, workers: int, retry_failed: bool, quiet: bool) -> None:
    """2-4 validated question/answer turns per caption."""
    from .vqa_gen import Settings, run_vqa

    b = _backend(backend, base_url, api_key, cassette, record)
    s = Settings(model=model or Settings.model, temperature=temperature, seed=vqa_seed)
    _report("vqa", run_vqa(work, b, s, attempts, workers, retry_failed, quiet))


WRITE_OPTS = [
    click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
                 help="Writes <out>/MM-Skin/..."),
    click.option("--split-seed", default=0, show_default=True),
    click.option("--test-fraction", default=0.2, show_default=True),
    click.option("--exclude-review", is_flag=True, help="Leave out images sent to review."),
]


@cli.command()
@WORK
@_options(WRITE_OPTS)
def write(work: Path, out: Path, split_seed: int, test_fraction: float,
          exclude_review: bool) -> None:
    """The MM-Skin files, the split and the statistics."""
    from .write import run_write

    s = run_write(work, out, split_seed, test_fraction, not exclude_review)
    _report("write", {"table2": s["table2"]["overall"], "excluded": s["excluded"]})


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@WORK
@_options(MODALITY_OPTS)
@FACE_OPT
@_options(VQA_OPTS)
@_options(WRITE_OPTS)
@QUIET
def run(inputs: tuple[Path, ...], work: Path, library_file: Path | None,
        references: Path | None, colour_weight: float, lbp_weight: float, k: int,
        review_margin: float, face_model: Path | None, backend: str, base_url: str | None,
        model: str | None, api_key: str, temperature: float, vqa_seed: int,
        cassette: Path | None,
        record: Path | None, attempts: int, workers: int, retry_failed: bool, out: Path,
        split_seed: int, test_fraction: float, exclude_review: bool, quiet: bool) -> None:
    """Every stage in order (each skips what is already done)."""
    from .align import run_align
    from .demographics import run_demographics
    from .extract import ExtractConfig, run_extract
    from .filters import run_filter
    from .modality import Weights, run_modality
    from .vqa_gen import Settings, run_vqa
    from .write import run_write

    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise UsageError(f"input {missing[0]} does not exist.")
    # Check the options of later stages before spending time on the early ones.
    lib = _library(library_file, references)
    b = _backend(backend, base_url, api_key, cassette, record)
    res = run_extract(list(inputs), work, ExtractConfig(), quiet)
    for r in res:
        if r["status"] != "ok":
            click.echo(f"{r['pdf']}: {r['error']}", err=True)
    _report("extract", {"pdfs": len(res), "ok": sum(r["status"] == "ok" for r in res),
                        "images": sum(r.get("images", 0) for r in res)})
    _report("align", run_align(work, quiet))
    _report("modality", run_modality(work, lib, Weights(colour_weight, lbp_weight, k,
                                                        review_margin), quiet))
    _report("demographics", run_demographics(work))
    _report("filter", run_filter(work, face_model, quiet))
    s = Settings(model=model or Settings.model, temperature=temperature, seed=vqa_seed)
    _report("vqa", run_vqa(work, b, s, attempts, workers, retry_failed, quiet))
    st = run_write(work, out, split_seed, test_fraction, not exclude_review)
    _report("write", {"table2": st["table2"]["overall"], "excluded": st["excluded"]})


def main() -> None:
    """``dataset-builder``: the same commands as ``harness build-dataset``."""
    from harness.commands import standalone

    standalone(cli, "dataset-builder")


_builder = cli  # the hook's argument below is also called `cli` (the `harness` group)


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(_builder, name="build-dataset")
