"""Hand-crafted image features: colour histograms and local binary patterns.

These are the features the MM-Skin paper uses to sort textbook images into
clinical, dermoscopy and pathology (section 3.1); the harness also uses them
as an honest CPU baseline encoder for the linear probe.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

WORKING_SIZE = 128  # images are resized so features do not depend on resolution
HIST_BINS = 16
LBP_SETTINGS = ((8, 1.0), (16, 2.0))  # (points, radius), "uniform" patterns


def colour_lbp_features(image: np.ndarray) -> np.ndarray:
    """Per-channel RGB and HSV histograms plus uniform-LBP histograms, each L1-normalised."""
    import cv2
    from skimage.feature import local_binary_pattern

    rgb = cv2.resize(image, (WORKING_SIZE, WORKING_SIZE), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    parts = []
    for arr, ranges in ((rgb, (0, 256)), (hsv, None)):
        for c in range(3):
            hi = (180 if c == 0 else 256) if ranges is None else ranges[1]
            hist = np.histogram(arr[..., c], bins=HIST_BINS, range=(0, hi))[0].astype(np.float32)
            parts.append(hist / max(hist.sum(), 1.0))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    for points, radius in LBP_SETTINGS:
        codes = local_binary_pattern(gray, points, radius, method="uniform")
        hist = np.bincount(codes.astype(np.int64).ravel(), minlength=points + 2).astype(np.float32)
        parts.append(hist / max(hist.sum(), 1.0))
    return np.concatenate(parts)


def load_rgb(path: Path) -> np.ndarray:
    from harness.images import open_rgb

    return np.asarray(open_rgb(path))


def features_for_files(paths: Sequence[Path]) -> np.ndarray:
    return np.stack([colour_lbp_features(load_rgb(p)) for p in paths]).astype(np.float32)
