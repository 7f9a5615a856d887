"""Full-face check, offline: OpenCV's Haar cascades (shipped in the opencv-python 4.x wheels).

The paper drops images showing a full face. Default model: ``haarcascade_frontalface_alt2.xml``
from ``cv2.data.haarcascades``, on a copy at most 320 px long, ``scaleFactor`` 1.1,
``minNeighbors`` 5, and a face must span at least 20% of the picture's short side to count
(a small face in a crowd photo is not what the rule is about). Measured (tests/
test_builder_faces.py, benchmarks in docs/dataset_builder.md):

- ``frontalface_default`` with 3 neighbours and no size floor fired on 6 of 30 real skin
  pictures (corpus panels and the HAM10000 image): dermoscopy, a rash, histology;
- ``frontalface_alt2`` as above fires on 0 of those 30, and finds 88 of the 100 faces of
  scikit-image's LFW subset (upscaled to 200 px) and the public-domain astronaut portrait,
  with 0 of its 100 non-face patches (the same at 400 and 640 px, slower).

OpenCV 5 wheels ship neither the cascades nor ``cv2.CascadeClassifier``; there the check is
recorded as not done, with one sentence saying why (``unavailable``), or, when the user asked
for a cascade with ``--face-model``, the command stops with that sentence.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from harness.errors import UsageError

DEFAULT_CASCADE = "haarcascade_frontalface_alt2.xml"
MAX_SIDE = 320
MIN_FRACTION = 0.2


def _cascade_dir() -> Path | None:
    d = getattr(getattr(cv2, "data", None), "haarcascades", None)
    return Path(d) if d else None


def unavailable() -> str | None:
    """Why the default face check cannot run with this OpenCV, or None when it can."""
    if not hasattr(cv2, "CascadeClassifier"):
        return (f"OpenCV {cv2.__version__} has no CascadeClassifier (moved out of the main "
                "package in OpenCV 5); install opencv-python-headless>=4.9,<5 for the face check")
    d = _cascade_dir()
    if d is None or not (d / DEFAULT_CASCADE).is_file():
        return (f"OpenCV {cv2.__version__} ships no Haar cascade files (cv2.data.haarcascades); "
                "install opencv-python-headless>=4.9,<5 or pass --face-model")
    return None


@functools.lru_cache(maxsize=4)
def _load_cascade(path: str) -> cv2.CascadeClassifier:
    """Parsing a cascade's XML takes ~30 ms; the filter stage runs once per PDF."""
    return cv2.CascadeClassifier(path)


class FaceDetector:
    """A face model: OpenCV Haar cascade (.xml; the default is OpenCV's own) or YuNet (.onnx)."""

    def __init__(self, path: Path | None = None, min_fraction: float = MIN_FRACTION) -> None:
        self.min_fraction = min_fraction
        self.cascade, self.yunet = None, None
        if path is None:
            why = unavailable()
            if why:
                raise UsageError(why + ".")
            path = _cascade_dir() / DEFAULT_CASCADE  # type: ignore[operator]
        if not path.is_file():
            raise UsageError(f"face model {path} does not exist.")
        self.path = path
        if path.suffix.lower() == ".xml":
            if not hasattr(cv2, "CascadeClassifier"):
                raise UsageError(f"face model {path} is a Haar cascade, which OpenCV "
                                 f"{cv2.__version__} cannot load; install "
                                 "opencv-python-headless>=4.9,<5.")
            self.cascade = _load_cascade(str(path))
            if self.cascade.empty():
                raise UsageError(f"face model {path} is not an OpenCV cascade file.")
        elif path.suffix.lower() == ".onnx":
            try:
                self.yunet = cv2.FaceDetectorYN.create(str(path), "", (320, 320))
            except (cv2.error, AttributeError) as exc:
                raise UsageError(f"face model {path} could not be loaded by OpenCV.") from exc
        else:
            raise UsageError(f"face model {path} must be an OpenCV cascade .xml or YuNet .onnx.")

    def faces(self, img: np.ndarray) -> list[list[int]]:
        """Faces as [x, y, w, h] in the coordinates of ``img``."""
        h, w = img.shape[:2]
        s = min(1.0, MAX_SIDE / max(h, w))
        small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))),
                           interpolation=cv2.INTER_AREA) if s < 1 else img
        if self.cascade is not None:
            grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
            side = int(self.min_fraction * min(grey.shape))
            found = self.cascade.detectMultiScale(grey, 1.1, 5, minSize=(side, side))
        else:
            self.yunet.setInputSize((small.shape[1], small.shape[0]))
            _, out = self.yunet.detect(small)
            found = [] if out is None else [f[:4] for f in out]
        return [[int(round(v / s)) for v in f[:4]] for f in found]

    def full_face(self, img: np.ndarray) -> tuple[bool, int]:
        """(a face covers at least ``min_fraction`` of the short side, number of faces)."""
        found = self.faces(img)
        side = min(img.shape[:2])
        return any(max(f[2], f[3]) >= self.min_fraction * side for f in found), len(found)
