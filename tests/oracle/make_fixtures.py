"""Rebuild the oracle fixtures under tests/oracle/ with the families' original code.

    python tests/oracle/make_fixtures.py --llava-med DIR --mm-skin DIR --huatuo DIR

Each DIR is a checkout of the upstream repository (``git clone`` of microsoft/LLaVA-Med,
ZwQ803/MM-Skin, FreedomIntelligence/HuatuoGPT-Vision); none of that code is copied
here or committed. For each family this script makes (once, outside the repository, in
``$XDG_CACHE_HOME/derm-harness-oracle/``) a virtual environment with the transformers
that family's code pins, from the package index only, and runs ``upstream_build.py``
in it. The Mistral families use the real Mistral-7B SentencePiece model, taken from the
``mistral-common`` wheel. The committed fixtures make the oracle tests independent of
the upstream code and of the network.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

from harness.fingerprint import cache_home

HERE = Path(__file__).resolve().parent
# transformers as each code base pins it: LLaVA-Med's pyproject.toml (4.36.2; MM-Skin
# ships no requirements file and trains from LLaVA-Med, so SkinVL is run with the same);
# HuatuoGPT-Vision pins nothing, its published config.json says 4.40.0.dev0, so the
# 4.40.0 release. torch 2.13.0 is the CPU wheel the project installs.
ENVS = {
    "llava-med": ["transformers==4.36.2", "tokenizers==0.15.2", "sentencepiece==0.1.99",
                  "accelerate==0.21.0"],
    "huatuo": ["transformers==4.40.0", "tokenizers==0.19.1", "accelerate==0.29.3"],
}
COMMON = ["torch==2.13.0", "numpy<2", "protobuf", "pillow", "safetensors"]
FAMILIES = {"llava-med": ("llava-med", "llava_med_src"), "skinvl": ("llava-med", "mm_skin_src"),
            "huatuo": ("huatuo", "huatuo_src")}
MISTRAL_COMMON = "mistral_common==1.12.0"
SP_MEMBER = "mistral_common/data/tokenizer.model.v1"  # Mistral-7B's 32,000-piece model
IMAGE_SIZES = {"wide.png": (61, 37), "tall.png": (37, 58), "square.png": (40, 40)}


def cache_root() -> Path:
    return cache_home() / "derm-harness-oracle"


def run(*cmd: str | Path, cwd: Path | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=cwd)


def venv(name: str) -> Path:
    folder = cache_root() / f"venv-{name}"
    python = folder / "bin" / "python"
    stamp = folder / ".installed"
    wanted = "\n".join(COMMON + ENVS[name])
    if not (stamp.is_file() and stamp.read_text() == wanted):
        run(sys.executable, "-m", "venv", "--clear", folder)
        run(python, "-m", "pip", "install", "-q", "torch==2.13.0")  # first: the CPU wheel
        run(python, "-m", "pip", "install", "-q", *COMMON, *ENVS[name])
        stamp.write_text(wanted)
    return python


def mistral_tokenizer_model() -> Path:
    """Mistral's tokenizer.model, from the mistral-common wheel (the package index)."""
    target = cache_root() / "mistral-tokenizer.model"
    if not target.is_file():
        wheels = cache_root() / "wheels"
        run(sys.executable, "-m", "pip", "download", "-q", "--no-deps", MISTRAL_COMMON,
            "-d", wheels)
        wheel = next(wheels.glob("mistral_common-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            target.write_bytes(z.read(SP_MEMBER))
    return target


def write_images(folder: Path) -> None:
    """Three small deterministic images: wide, tall and square (smooth, with detail)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for name, (w, h) in IMAGE_SIZES.items():
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h)], axis=-1)
        noise = rng.normal(0, 25, size=(h, w, 3))
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(folder / name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llava-med", dest="llava_med_src", type=Path)
    ap.add_argument("--mm-skin", dest="mm_skin_src", type=Path)
    ap.add_argument("--huatuo", dest="huatuo_src", type=Path)
    args = ap.parse_args()
    chosen = {f: getattr(args, src) for f, (_, src) in FAMILIES.items() if getattr(args, src)}
    if not chosen:
        ap.error("give at least one upstream checkout (--llava-med, --mm-skin, --huatuo)")
    for family, src in chosen.items():
        if not (src / "llava").is_dir():
            ap.error(f"{src} is not a checkout of the {family} code (no llava/ folder)")
    images = HERE / "images"
    if not all((images / n).is_file() for n in IMAGE_SIZES):
        write_images(images)
    sp = mistral_tokenizer_model()
    for family, src in chosen.items():
        python = venv(FAMILIES[family][0])
        extra = ["--sp-model", sp] if family != "huatuo" else []
        run(python, HERE / "upstream_build.py", "--family", family, "--src", src.resolve(),
            "--out", HERE / family, "--images", images, *extra)
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"tests/oracle holds {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
