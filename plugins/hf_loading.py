"""Loading a local Hugging Face vision-language checkpoint safely.

Options and their checks, checkpoint resolution (local folder, Hub cache,
offline mode), device and precision, checked loading (a missing or unexpected
weight is an error; pickle weights and remote code only when asked), the
processor fallback for installs without torchvision, and image padding.

Nothing here imports torch or transformers at module import time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt, field_validator

from harness.errors import HarnessError, UsageError
from harness.options import Options

# -- options ------------------------------------------------------------------------------


class LoadOptions(Options):
    """The ``-M`` options every transformers-based model takes."""

    dtype: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto", description="weight precision; auto: bf16 on a GPU that has it, else fp16 on "
        "a GPU, fp32 on the CPU")
    device_map: Literal["auto"] | None = Field(
        None, description="auto: spread the model over the visible GPUs (accelerate); none: "
        "one device")
    trust_remote_code: bool = Field(
        False, description="run Python code shipped with the checkpoint (off: refused)")
    revision: str | None = Field(None, description="Hub branch, tag or commit")
    allow_pickle: bool = Field(
        False, description="accept .bin/.pt weights (pickles can run code; off: safetensors only)")
    chat_template: Literal["family", "checkpoint"] = Field(
        "family", description="family: the conversation format of the model's own code; "
        "checkpoint: the template saved with the checkpoint")
    score: Literal["sum", "mean"] = Field(
        "sum", description="zero-shot by likelihood: sum or mean of the answer's token "
        "log-probabilities")
    batch_size: PositiveInt = Field(4, description="samples per forward pass by default")
    square: Literal["pad", "crop"] | None = Field(
        None, description="images that are not square: pad (expand to square) or crop "
        "(resize, centre crop); default: the protocol's choice for the family")

    @field_validator("dtype", "chat_template", "score", "square", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("device_map", mode="before")
    @classmethod
    def _none(cls, value: Any) -> Any:
        text = str(value).strip().lower() if value is not None else None
        return None if text in (None, "none", "") else text


class ConvertedOptions(LoadOptions):
    """Options of the families published in LLaVA's original format (converted on load)."""

    vision_tower: str | None = Field(
        None, description="CLIP vision tower folder or Hub id, instead of the one the family's "
        "code would load")


# -- device and precision --------------------------------------------------------------------


def resolve_device(name: str, device: str) -> str:
    """auto, cpu, cuda, or cuda:N (one GPU per rank in a data-parallel run)."""
    import torch

    kind, _, index = device.partition(":")
    if kind not in ("auto", "cpu", "cuda") or (index and (kind != "cuda" or not index.isdigit())):
        raise UsageError(f"model '{name}': --device must be auto, cpu or cuda, not {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"model '{name}': --device cuda was asked but no CUDA GPU is visible")
    if index and int(index) >= torch.cuda.device_count():
        raise UsageError(f"model '{name}': there is no GPU {index} "
                         f"({torch.cuda.device_count()} visible)")
    if kind == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(name: str, dtype: str, device: str) -> Any:
    """fp32 on the CPU; bf16 on GPUs that support it, else fp16. ``-M dtype`` overrides."""
    import torch

    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype == "fp16" and device == "cpu":
        raise UsageError(f"model '{name}': -M dtype=fp16 is not supported on the CPU; use bf16")
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]


# -- checkpoints ---------------------------------------------------------------------------


def resolve_checkpoint(name: str, path_or_id: str, revision: str | None,
                       allow_download: bool = False) -> Path:
    """A local folder for a folder, a Hub id from the local cache (fetched from the Hub only
    with ``--allow-download``), or fail in one line."""
    local = Path(path_or_id).expanduser()
    if local.is_dir():
        return local.resolve()
    if local.exists() or path_or_id.startswith((".", "/", "~")) or path_or_id.count("/") != 1:
        raise UsageError(
            f"model '{name}': {path_or_id} is neither a checkpoint folder nor a Hub id (owner/name)"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(path_or_id, revision=revision,
                                      local_files_only=not allow_download))
    except LocalEntryNotFoundError:
        raise UsageError(
            f"model '{name}': {path_or_id} is not in the local Hugging Face cache; download it "
            "first, give --model-path DIR, or pass --allow-download to fetch it from the Hub"
        ) from None
    except HFValidationError as exc:
        raise UsageError(f"model '{name}': {path_or_id} is not a valid Hub id ({exc})") from None
    except Exception as exc:  # 401/404 from the Hub, a network failure
        raise UsageError(
            f"model '{name}': cannot fetch {path_or_id}: {type(exc).__name__}: {exc}"
        ) from None


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} is missing: the folder is not a complete checkpoint") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} cannot be read as JSON ({exc})") from None


def weight_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(safetensors files, pickle files) holding the weights of a checkpoint folder."""
    safe = sorted(folder.glob("*.safetensors"))
    pickled = sorted(p for p in folder.glob("*.bin") if "training_args" not in p.name)
    pickled += sorted(folder.glob("*.pt")) + sorted(folder.glob("*.pth"))
    return safe, pickled


def check_weight_format(name: str, folder: Path, allow_pickle: bool) -> None:
    safe, pickled = weight_files(folder)
    if not safe and pickled and not allow_pickle:
        raise UsageError(
            f"model '{name}': {folder} holds only pickle weights ({pickled[0].name}); loading a "
            "pickle can run code, so it needs -M allow_pickle=true"
        )
    if not safe and not pickled:
        raise UsageError(f"model '{name}': {folder} holds no weight files")


# The small files that, with the weights, decide what a checkpoint answers.
DEFINING_FILES = (
    "config.json", "generation_config.json", "adapter_config.json",
    "model.safetensors.index.json", "pytorch_model.bin.index.json", "tokenizer.json",
    "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "added_tokens.json",
    "vocab.json", "merges.txt", "processor_config.json", "preprocessor_config.json",
    "chat_template.jinja", "chat_template.json",
)


def checkpoint_key(folder: Path) -> str:
    """sha256 over the bytes of a checkpoint: its defining files and every weight file.

    Weight files are hashed once and remembered (``harness.fingerprint.files_sha256``),
    so that two checkpoints differing in one weight never share a key, and a large
    checkpoint is not re-read at every run.
    """
    from harness.fingerprint import files_sha256

    h = hashlib.sha256()
    for fname in DEFINING_FILES:
        path = folder / fname
        if path.is_file():
            h.update(fname.encode() + b"\0" + path.read_bytes())
    safe, pickled = weight_files(folder)
    weights = safe + pickled
    for path, digest in zip(weights, files_sha256(weights), strict=True):
        h.update(f"{path.name}\0{digest}\0".encode())
    return h.hexdigest()


def sha256_text(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- loading -------------------------------------------------------------------------------


def load_processor(folder: Path, trust_remote_code: bool = False) -> Any:
    """``AutoProcessor``, or an image-only subclass when the video processor needs torchvision.

    transformers 5.x builds a video processor for Qwen2.5-VL and InternVL, and that
    needs torchvision; evaluation uses images only, so without torchvision the same
    processor class is built without its video half.
    """
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except (ImportError, AttributeError, OSError) as exc:
        config = read_json(folder / "processor_config.json") if (
            folder / "processor_config.json").is_file() else {}
        cls_name = config.get("processor_class", "")
        image_only = _image_only_processor(cls_name)
        if image_only is None:
            raise UsageError(
                f"cannot load the processor of {folder}: {type(exc).__name__}: {exc}"
            ) from None
        return image_only.from_pretrained(folder)


def _image_only_processor(cls_name: str) -> Any:
    import transformers

    base = getattr(transformers, cls_name, None)
    if base is None or cls_name not in ("Qwen2_5_VLProcessor", "Qwen2VLProcessor",
                                        "InternVLProcessor"):
        return None

    def __init__(self: Any, image_processor: Any = None, tokenizer: Any = None,
                 chat_template: Any = None, image_seq_length: int = 256, **kwargs: Any) -> None:
        # ProcessorMixin reads its sub-processors (and saved fields) from this signature:
        # no video processor here.
        transformers.ProcessorMixin.__init__(
            self, image_processor, tokenizer, chat_template=chat_template)
        _init_fields(self, cls_name, tokenizer, {**kwargs, "image_seq_length": image_seq_length})

    return type(f"ImageOnly{cls_name}", (base,), {"__init__": __init__})


def _init_fields(proc: Any, cls_name: str, tokenizer: Any, kwargs: dict[str, Any]) -> None:
    """The attributes the full processors set in their ``__init__`` (images only)."""
    if cls_name == "InternVLProcessor":
        proc.image_seq_length = kwargs.get("image_seq_length", 256)
        proc.start_image_token = tokenizer.start_image_token
        proc.end_image_token = tokenizer.end_image_token
        proc.start_image_token_id = tokenizer.start_image_token_id
        proc.end_image_token_id = tokenizer.end_image_token_id
        proc.image_token = tokenizer.context_image_token
        proc.video_token = tokenizer.video_token
        proc.image_token_id = tokenizer.context_image_token_id
        proc.multimodal_pattern = re.compile(
            f"(?P<image>{re.escape(proc.image_token)})|(?P<video>{re.escape(proc.video_token)})"
        )
    else:
        proc.image_token = getattr(tokenizer, "image_token", "<|image_pad|>")
        proc.video_token = getattr(tokenizer, "video_token", "<|video_pad|>")
        proc.image_token_id = tokenizer.convert_tokens_to_ids(proc.image_token)
        proc.video_token_id = tokenizer.convert_tokens_to_ids(proc.video_token)
        proc.vision_start_token = getattr(tokenizer, "vision_start_token", "<|vision_start|>")
        proc.vision_end_token = getattr(tokenizer, "vision_end_token", "<|vision_end|>")
        proc.vision_start_token_id = tokenizer.convert_tokens_to_ids(proc.vision_start_token)
        proc.vision_end_token_id = tokenizer.convert_tokens_to_ids(proc.vision_end_token)


VISION_PARTS = ("vision_tower", "visual", "multi_modal_projector", "mm_projector", "merger")


def load_model_checked(name: str, folder: Path | str, opts: LoadOptions, device: str,
                       dtype: Any, expected: Sequence[str]) -> Any:
    """``AutoModelForImageTextToText`` with every missing/unexpected/mismatched weight an error."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=opts.trust_remote_code)
    except ValueError as exc:
        raise UsageError(
            f"model '{name}': {folder} is not a transformers-native checkpoint this install can "
            f"read ({str(exc).splitlines()[0]}); remote code needs -M trust_remote_code=true"
        ) from None
    arch = (getattr(config, "architectures", None) or [type(config).__name__])[0]
    if expected and arch not in expected:
        raise UsageError(
            f"model '{name}': {folder} holds a {arch}, expected {' or '.join(expected)}"
        )
    kwargs: dict[str, Any] = {
        "dtype": dtype, "trust_remote_code": opts.trust_remote_code,
        "use_safetensors": None if opts.allow_pickle else True, "output_loading_info": True,
    }
    if opts.device_map:
        kwargs["device_map"] = opts.device_map
    try:
        model, info = AutoModelForImageTextToText.from_pretrained(folder, **kwargs)
    except (OSError, ValueError) as exc:
        raise UsageError(f"model '{name}': cannot load {folder}: {exc}") from None
    problems = []
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        keys = sorted(str(k) for k in (info.get(kind) or []))
        if keys:
            vision = [k for k in keys if any(p in k for p in VISION_PARTS)]
            shown = (vision or keys)[:3]
            problems.append(f"{len(keys)} {kind.replace('_', ' ')} (e.g. {', '.join(shown)})")
    if problems:
        raise HarnessError(
            f"model '{name}': the weights in {folder} do not match the architecture: "
            + "; ".join(problems)
        )
    if not opts.device_map:
        model = model.to(device)
    return model.eval()


# -- images --------------------------------------------------------------------------------


def expand_to_square(image: Any, background: tuple[int, int, int]) -> Any:
    """LLaVA's ``expand2square``: pad the short side equally with the processor's mean colour."""
    from PIL import Image

    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    canvas = Image.new(image.mode, (side, side), background)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


def mean_colour(image_processor: Any) -> tuple[int, int, int]:
    mean = getattr(image_processor, "image_mean", None) or (0.48145466, 0.4578275, 0.40821073)
    return tuple(int(x * 255) for x in mean)  # type: ignore[return-value]
