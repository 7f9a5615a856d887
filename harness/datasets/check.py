"""`harness data check`: is a data root complete and as the paper's split files describe it?

For each dataset: the files it reads (found / missing), per split the rows
loaded and skipped, the class counts against the split file's, images missing
or unreadable, and a one-line verdict.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.datasets import splitfiles
from harness.errors import DataError

LISTED = 20  # how many missing/unreadable images are named per split


@dataclass
class SplitCheck:
    split: str
    loaded: int = 0
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expected_rows: int | None = None
    class_diff: dict[str, tuple[int, int]] = field(default_factory=dict)  # class -> (got, want)
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    error: str | None = None
    # Multi-image samples (meta["images"]): encounters with every image, and all encounters.
    encounters: tuple[int, int] | None = None


@dataclass
class DatasetCheck:
    name: str
    files: list[tuple[str, str, bool]] = field(default_factory=list)  # path, role, found
    splits: list[SplitCheck] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)  # split files that differ from their pin

    @property
    def verdict(self) -> str:
        missing_files = [f for f in self.files if not f[2]]
        errors = [s for s in self.splits if s.error]
        images = sum(len(s.missing) for s in self.splits)
        unread = sum(len(s.unreadable) for s in self.splits)
        off = [s.split for s in self.splits if s.class_diff]
        skipped = sum(len(s.skipped) for s in self.splits)
        if errors and len(errors) == len(self.splits):
            return f"{self.name}: MISSING ({len(missing_files)} file(s) not found)"
        parts = []
        if missing_files:
            parts.append(f"{len(missing_files)} file(s) missing")
        if self.modified:
            parts.append(f"{len(self.modified)} split file(s) differ from the paper's")
        if errors:
            parts.append(f"split(s) {', '.join(s.split for s in errors)} not loaded")
        if images:
            parts.append(f"{images} image(s) missing")
        if unread:
            parts.append(f"{unread} image(s) unreadable")
        if off:
            parts.append(f"class counts differ from the split file in {', '.join(off)}")
        if skipped:
            parts.append(f"{skipped} row(s) skipped")
        encounters = [s.encounters for s in self.splits if s.encounters is not None]
        if encounters and any(c < t for c, t in encounters):
            parts.append(f"{sum(c for c, _ in encounters)} of {sum(t for _, t in encounters)} "
                         "encounters have every image")
        n = sum(s.loaded for s in self.splits)
        if not parts:
            return f"{self.name}: OK ({n} samples, all images present and readable)"
        return f"{self.name}: INCOMPLETE ({n} samples; " + "; ".join(parts) + ")"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "verdict": self.verdict,
            "files": [{"path": p, "role": r, "found": f} for p, r, f in self.files],
            "modified": self.modified,
            "splits": [s.__dict__ | {"class_diff": {k: list(v) for k, v in s.class_diff.items()}}
                       for s in self.splits],
        }


def check_dataset(adapter: Any, root: Path, open_images: bool = True) -> DatasetCheck:
    from harness.images import ImageError, open_rgb

    out = DatasetCheck(adapter.name)
    pinned = splitfiles.splits_dir(root, getattr(adapter, "splits_dir", None))
    for path, role in adapter.required_files(root):
        out.files.append((str(path), role, path.exists()))
        if pinned is not None and path.is_file() and path.is_relative_to(pinned):
            differs = splitfiles.modified(path, path.relative_to(pinned).as_posix())
            if differs is not None:
                out.modified.append(differs)
    splits = getattr(adapter, "splits", ("train", "test"))
    for split in splits:
        sc = SplitCheck(split)
        out.splits.append(sc)
        try:  # a modified split file is reported once (out.modified), and still counted
            with splitfiles.allowing_modified():
                loaded = adapter.load(root, split)
                exp = _expected(adapter, root, split)
        except DataError as exc:
            sc.error = str(exc)
            continue
        sc.loaded, sc.skipped = len(loaded), list(loaded.skipped)
        sc.notes = [n for n in loaded.notes if not any(n.startswith(m) for m in out.modified)]
        if exp is not None:
            sc.expected_rows = exp.rows
            got = Counter(s.label for s in loaded)
            for cls in sorted(set(got) | set(exp.classes)):
                if cls == "(no single label)":
                    continue
                if got.get(cls, 0) != exp.classes.get(cls, 0):
                    sc.class_diff[cls] = (got.get(cls, 0), exp.classes.get(cls, 0))
        seen: set[Path] = set()
        bad: set[Path] = set()
        for s in loaded:
            for image in _images(s):
                if image in seen:
                    continue
                seen.add(image)
                if not image.is_file():
                    sc.missing.append(str(image))
                    bad.add(image)
                elif open_images:
                    try:
                        open_rgb(image)
                    except ImageError as exc:
                        sc.unreadable.append(str(exc))
                        bad.add(image)
        if any("images" in s.meta for s in loaded):
            complete: dict[str, bool] = {}
            for s in loaded:
                enc = str(s.meta.get("encounter_id", s.id))
                ok = not any(image in bad for image in _images(s))
                complete[enc] = complete.get(enc, True) and ok
            sc.encounters = (sum(complete.values()), len(complete))
    return out


def _images(sample: Any) -> list[Path]:
    """Every image a sample is asked with: ``meta["images"]`` (an encounter's), else its one."""
    many = sample.meta.get("images")
    if many:
        return [Path(p) for p in many]
    return [] if sample.image is None else [sample.image]


def _expected(adapter: Any, root: Path, split: str) -> Any:
    try:
        return adapter.expected(root, split)
    except DataError:
        return None


def format_check(result: DatasetCheck, verbose: bool = False) -> list[str]:
    """Human-readable lines for one dataset, the verdict last."""
    lines = [f"== {result.name}"]
    for path, role, found in result.files:
        lines.append(f"  {'found  ' if found else 'MISSING'} {path} ({role})")
    for sentence in result.modified:
        lines.append(f"  MODIFIED {sentence}")
    for s in result.splits:
        if s.error:
            lines.append(f"  {s.split}: not loaded: {s.error}")
            continue
        exp = "" if s.expected_rows is None else f" of {s.expected_rows} rows in the split file"
        lines.append(f"  {s.split}: {s.loaded} samples, {len(s.skipped)} skipped{exp}")
        if s.encounters is not None:
            lines.append(f"    {s.encounters[0]} of {s.encounters[1]} encounters have every "
                         "image")
        for cls, (got, want) in s.class_diff.items():
            lines.append(f"    class '{cls}': {got} loaded, {want} in the split file")
        for label, items in (("skipped", s.skipped), ("note", s.notes),
                             ("missing image", s.missing), ("unreadable image", s.unreadable)):
            shown = items if verbose else items[:LISTED]
            for item in shown:
                lines.append(f"    {label}: {item}")
            if len(items) > len(shown):
                lines.append(f"    ... and {len(items) - len(shown)} more {label}s "
                             "(--verbose lists all)")
    lines.append(result.verdict)
    return lines
