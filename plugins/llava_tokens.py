"""Tokenizers as the original LLaVA code loads them, and a load-time check of prompt ids.

The original code never tokenizes ``<image>``: ``tokenizer_image_token`` splits the
prompt there, tokenizes each chunk on its own and puts a placeholder id between them
(microsoft/LLaVA-Med@d406e3f ``llava/mm_utils.py:49-68``; HuatuoGPT-Vision ``cli.py``
``tokenizer_image_token``). With a SentencePiece (Llama/Mistral) tokenizer under the
transformers those code bases pin (4.36), every chunk gets SentencePiece's dummy
prefix ("legacy" spacing) whatever ``legacy`` says in ``tokenizer_config.json``.
transformers 5 honours ``legacy: false`` (and defaults to it when the key is absent),
which drops the "▁" after the image and turns "▁[" into "[". So a SentencePiece
tokenizer is loaded with ``legacy=True`` here, and the converted folder records it.

The check: the family's prompt for a probe question, encoded by the harness's own
processor, must give the ids the original code gives: SentencePiece chunk by chunk
with the ``sentencepiece`` library itself (independent of transformers), or, for a
byte-level BPE tokenizer (Qwen2), the tokenizer chunk by chunk. A mismatch refuses the
model with one sentence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import HarnessError, UsageError

IMAGE_TOKEN = "<image>"
PLACEHOLDER = -200  # the original code's IMAGE_TOKEN_INDEX
PROBE = "What is the diagnosis? Describe the lesion's colour [red/brown], size (3 mm) and border."


def is_sentencepiece(folder: Path) -> bool:
    return (folder / "tokenizer.model").is_file()


def load_original_tokenizer(source: Path) -> Any:
    """The source checkpoint's tokenizer, splitting text as the original code's does."""
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {}
    if is_sentencepiece(source):
        _require_sentencepiece(source)
        kwargs["legacy"] = True
    try:
        return AutoTokenizer.from_pretrained(source, **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        raise UsageError(f"{source}: cannot load the tokenizer ({exc})") from None


def _require_sentencepiece(folder: Path) -> None:
    try:
        import sentencepiece  # noqa: F401
    except ImportError:
        raise UsageError(
            f"{folder} has a SentencePiece tokenizer (tokenizer.model); reading it needs the "
            "sentencepiece package (pip install sentencepiece)"
        ) from None


def original_ids(folder: Path, tokenizer: Any, text: str) -> list[int]:
    """The ids the original code feeds for ``text``, the image as ``PLACEHOLDER``.

    ``folder`` holds the tokenizer files (``tokenizer.model`` for SentencePiece). A
    BOS written as text at the start stands for the BOS the original tokenizer adds.
    """
    chunks = text.split(IMAGE_TOKEN)
    bos = tokenizer.bos_token
    ids: list[int] = []
    if bos and chunks[0].startswith(bos):
        chunks[0] = chunks[0][len(bos):]
        ids.append(tokenizer.bos_token_id)
    if is_sentencepiece(folder):
        _require_sentencepiece(folder)
        from sentencepiece import SentencePieceProcessor

        sp = SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
        if not ids and getattr(tokenizer, "add_bos_token", False):
            ids.append(tokenizer.bos_token_id)  # tokenizer(chunk) adds it to the first chunk

        def encode(chunk: str) -> list[int]:
            return sp.encode(chunk)  # the dummy prefix on every chunk: the legacy spacing
    else:

        def encode(chunk: str) -> list[int]:
            return tokenizer(chunk, add_special_tokens=False).input_ids
    for i, chunk in enumerate(chunks):
        if i:
            ids.append(PLACEHOLDER)
        ids += encode(chunk)
    return ids


def harness_ids(model: Any, text: str) -> list[int]:
    """The ids the harness feeds for ``text`` (its processor, one image), image runs collapsed."""
    from PIL import Image

    size = model.processor.image_processor.crop_size["height"]
    enc = model._encode([text], [Image.new("RGB", (size, size))])
    image_id = model.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    out: list[int] = []
    for i in enc["input_ids"][0].tolist():
        if i == image_id:
            if out and out[-1] == PLACEHOLDER:
                continue
            i = PLACEHOLDER
        out.append(i)
    return out


def check_prompt_ids(model: Any, tokenizer_folder: Path) -> None:
    """Refuse a model whose prompt ids differ from those the original code gives."""
    text = model.prompt_text(PROBE, 1)
    want = original_ids(tokenizer_folder, model.tokenizer, text)
    got = harness_ids(model, text)
    if got == want:
        return
    at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
              min(len(got), len(want)))

    def show(ids: list[int]) -> str:
        part = ids[at:at + 3]
        return " ".join("<image>" if i == PLACEHOLDER else repr(
            model.tokenizer.convert_ids_to_tokens(i)) for i in part) or "(end)"

    raise HarnessError(
        f"model '{model.name}': the tokenizer in {model.folder} does not split the prompt as "
        f"the family's original code does (token {at}: {show(got)} instead of {show(want)}); "
        "its results would not be the original model's"
    )
