"""Images as API payloads: raw bytes with a MIME type, or a base64 data URL.

Files the APIs accept as they are (JPEG, PNG, WebP) are sent byte for byte, so
the model sees exactly the published image. Anything else (TIFF, BMP, CMYK,
16-bit, alpha) goes through the harness's safe opener and is re-encoded as PNG.
Every file is opened once first, so a truncated file or a decompression bomb
becomes one clear per-sample error before any request is sent.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from harness.images import ImageError, open_rgb

# Formats every supported API accepts unchanged, by PIL format name.
PASSTHROUGH = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class ImagePayload:
    mime_type: str
    data: bytes

    def data_url(self) -> str:
        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"


def load_payload(path: Path | str, max_side: int = 0) -> ImagePayload:
    """The image at ``path`` ready to send; ``max_side`` > 0 downsizes larger images.

    Raises ``ImageError`` naming the file when it cannot be used.
    """
    from PIL import Image

    path = Path(path)
    image = open_rgb(path)  # validates: size limits, truncation, odd modes
    try:
        with Image.open(path) as probe:
            fmt, mode = probe.format, probe.mode
    except OSError as exc:  # open_rgb succeeded, so this is a race with the file changing
        raise ImageError(f"{path}: cannot read ({exc})") from None
    too_big = max_side > 0 and max(image.size) > max_side
    if fmt in PASSTHROUGH and mode in ("RGB", "L") and not too_big:
        return ImagePayload(PASSTHROUGH[fmt], path.read_bytes())
    if too_big:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return ImagePayload("image/png", buf.getvalue())


def data_url(path: Path | str, max_side: int = 0) -> str:
    """``data:<mime>;base64,...`` for the image at ``path`` (OpenAI-style ``image_url``)."""
    return load_payload(path, max_side).data_url()
