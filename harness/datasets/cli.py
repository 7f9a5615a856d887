"""`harness data ...`: check a data root, fetch the paper's split files, audit overlaps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from harness import hookimpl
from harness.commands import HarnessGroup
from harness.errors import DataError, UsageError

DATA_ROOT = click.option(
    "--data-root", type=click.Path(path_type=Path), required=True,
    help="Folder holding the datasets as their publishers ship them (see docs/datasets.md).")
SPLITS_DIR = click.option(
    "--splits-dir", type=click.Path(path_type=Path), default=None,
    help="Folder of the paper's split files (default: <data-root>/mmskin-splits).")


@click.group("data", cls=HarnessGroup)
def data() -> None:
    """Check datasets on disk, fetch the paper's split files, audit overlaps."""


@data.command("check")
@DATA_ROOT
@SPLITS_DIR
@click.argument("datasets", nargs=-1)
@click.option("--no-images", is_flag=True, help="Do not open images (existence only).")
@click.option("--verbose", is_flag=True, help="List every missing/unreadable image and skip.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the full report as JSON.")
def check(data_root: Path, splits_dir: Path | None, datasets: tuple[str, ...], no_images: bool,
          verbose: bool, json_out: Path | None) -> None:
    """Found/missing files, counts per split and class, unreadable images, a verdict.

    With no DATASET names, checks every dataset. Exit status 1 if any is not OK.
    """
    from harness.datasets import adapter, adapters
    from harness.datasets.check import check_dataset, format_check

    if not data_root.is_dir():
        raise UsageError(f"--data-root {data_root} is not a folder")
    chosen = [adapter(n, splits_dir) for n in datasets] if datasets else adapters(splits_dir)
    results = []
    for a in chosen:
        result = check_dataset(a, data_root, open_images=not no_images)
        results.append(result)
        for line in format_check(result, verbose):
            click.echo(line)
    if json_out is not None:
        json_out.write_text(json.dumps([r.to_dict() for r in results], indent=1))
    bad = [r for r in results if " OK " not in r.verdict]
    click.echo(f"{len(results) - len(bad)} of {len(results)} dataset(s) OK")
    if bad:
        raise SystemExit(1)


@data.command("fetch-splits")
@DATA_ROOT
@click.option("--base-url", default=None,
              help="Where to download from (default: the pinned commit on GitHub).")
@click.option("--force", is_flag=True, help="Download again even if a correct copy is present.")
def fetch_splits(data_root: Path, base_url: str | None, force: bool) -> None:
    """Download the paper's split files (pinned commit, SHA-256 checked) into <data-root>."""
    from harness.datasets import splitfiles

    dest = data_root / splitfiles.SPLITS_FOLDER
    click.echo(f"fetching {len(splitfiles.FILES)} split files from {splitfiles.REPOSITORY}@"
               f"{splitfiles.COMMIT[:7]} into {dest}")
    results = splitfiles.fetch(dest, base_url or splitfiles.BASE_URL, force=force)
    for r in results:
        click.echo(f"  {r.status:10} {r.path}{': ' + r.detail if r.detail else ''}")
    failed = [r for r in results if r.status == "failed"]
    click.echo(f"{len(results) - len(failed)} of {len(results)} files in place"
               + (f"; {len(failed)} failed" if failed else ""))
    if failed:
        raise SystemExit(1)


@data.command("overlap")
@click.argument("a")
@click.argument("b")
@click.option("--data-root", type=click.Path(path_type=Path), default=None,
              help="Data root for dataset names (not needed for folders).")
@SPLITS_DIR
@click.option("--out", type=click.Path(path_type=Path), default=Path("overlap.csv"),
              show_default=True, help="Where to write the pairs (CSV).")
@click.option("--ids-only", is_flag=True, help="Compare ids only; do not open images.")
@click.option("--phash-max", type=int, default=None, help="Largest pHash Hamming distance.")
@click.option("--dhash-max", type=int, default=None, help="Largest dHash Hamming distance.")
@click.option("--allow-modified-splits", is_flag=True,
              help="Read a pinned split file even when it differs from the paper's.")
def overlap(a: str, b: str, data_root: Path | None, splits_dir: Path | None, out: Path,
            ids_only: bool, phash_max: int | None, dhash_max: int | None,
            allow_modified_splits: bool) -> None:
    """Images shared by A and B: each a folder, or DATASET[:SPLIT] (default: all splits).

    Matches by id, by identical file or pixels, and by perceptual hash (robust to
    resizing and re-encoding). Writes one CSV row per pair.
    """
    from harness.datasets import overlap as ov
    from harness.datasets.splitfiles import allowing_modified

    with allowing_modified(allow_modified_splits):
        items_a = _items(a, data_root, splits_dir)
        items_b = _items(b, data_root, splits_dir)
    if not ids_only:
        ov.hash_items(items_a)
        ov.hash_items(items_b)
    result = ov.audit(a, items_a, b, items_b, by_pixels=not ids_only,
                      phash_max=ov.PHASH_MAX if phash_max is None else phash_max,
                      dhash_max=ov.DHASH_MAX if dhash_max is None else dhash_max,
                      same_source=a == b)
    ov.write_pairs(result, out)
    c = result.counts()
    methods = ", ".join(f"{k} {v}" for k, v in sorted(c["by_method"].items())) or "none"
    click.echo(f"{a}: {c['a']} images; {b}: {c['b']} images")
    if not ids_only:
        click.echo(f"not hashed (missing or unreadable): {a} {c['unreadable_or_missing']['a']}, "
                   f"{b} {c['unreadable_or_missing']['b']}")
    click.echo(f"{c['pairs']} shared pair(s) ({methods}); {c['a_shared']} of {a}'s images "
               f"appear in {b}; pairs written to {out}")


def _items(spec: str, data_root: Path | None, splits_dir: Path | None) -> list[Any]:
    from harness.datasets import adapter
    from harness.datasets import overlap as ov

    path = Path(spec)
    if path.is_dir():
        return ov.folder_items(path)
    name, _, split = spec.partition(":")
    if data_root is None:
        raise UsageError(f"'{spec}' is not a folder; pass --data-root to read it as a dataset")
    a = adapter(name, splits_dir)
    splits = [split] if split else list(getattr(a, "splits", ("train", "test")))
    samples = []
    for s in splits:
        try:
            samples += a.load(data_root, s)
        except DataError as exc:
            if split:  # the split asked for by name must load
                raise
            click.echo(f"warning: {name}:{s} left out of the audit: {exc}", err=True)
    return ov.items_from_samples(samples)


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(data, name="data")
