"""The offline face check: OpenCV 4.x's own Haar cascade, on real faces and real skin pictures.

Faces: scikit-image's bundled public-domain astronaut portrait and its LFW subset (100 faces,
100 non-face patches). Skin: every skin panel of the five corpus PDFs, rendered from the
hand-made truth boxes (tests/builder_truth), and the HAM10000 image of ../shared/data.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from skimage import data

from harness.dataset_builder import faces as faces_mod
from harness.dataset_builder.cli import cli
from harness.dataset_builder.evaluate import load_truth
from harness.dataset_builder.faces import FaceDetector, unavailable
from harness.dataset_builder.references import truth_references
from tests.conftest import SHARED_DATA

TRUTH = Path(__file__).with_name("builder_truth")


def _grey_to_bgr(g: np.ndarray, side: int = 200) -> np.ndarray:
    g = cv2.resize((g * 255).astype(np.uint8), (side, side), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)


def test_opencv_ships_the_cascades() -> None:
    assert unavailable() is None, unavailable()


def test_real_faces_are_found() -> None:
    det = FaceDetector()
    full, n = det.full_face(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    assert full and n == 1
    lfw = data.lfw_subset()  # the first 100 are faces, the next 100 are not
    assert sum(det.full_face(_grey_to_bgr(lfw[i]))[0] for i in range(100)) >= 85
    assert sum(det.full_face(_grey_to_bgr(lfw[i]))[0] for i in range(100, 200)) == 0


def test_no_face_on_real_skin_pictures() -> None:
    if not (SHARED_DATA / "pdfs").is_dir():
        pytest.skip(f"the real reference PDFs ({SHARED_DATA / 'pdfs'}) are absent")
    det = FaceDetector()
    pictures = [r.image for tf in sorted(TRUTH.glob("*.json"))
                for r in truth_references(tf, SHARED_DATA / "pdfs" / load_truth(tf)["pdf"])
                if r.modality != "other"]
    pictures.append(cv2.imread(str(SHARED_DATA / "images" / "ISIC_0024310.jpg")))
    assert len(pictures) == 27
    assert [det.full_face(p)[0] for p in pictures] == [False] * len(pictures)


def test_without_cascade_files_the_check_says_why(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """OpenCV 5 wheels ship no cascade files: simulated by pointing cv2.data elsewhere."""
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path) + "/")
    why = unavailable()
    assert why and "ships no Haar cascade files" in why and "<5" in why
    work = tmp_path / "work"
    r = CliRunner().invoke(cli, ["filter", "--work", str(work)])
    assert r.exit_code == 0, r.output
    assert "ships no Haar cascade files" in r.output and "Traceback" not in r.output


def test_without_cascade_classifier_a_model_is_refused_in_one_sentence(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """OpenCV 5 moved CascadeClassifier out of the main package: simulated by removing it."""
    model = Path(cv2.data.haarcascades) / faces_mod.DEFAULT_CASCADE
    monkeypatch.delattr(cv2, "CascadeClassifier")
    assert "no CascadeClassifier" in (unavailable() or "")
    r = CliRunner().invoke(cli, ["filter", "--work", str(tmp_path), "--face-model", str(model)])
    assert r.exit_code == 2
    assert "cannot load" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_the_help_says_what_runs_without_a_face_model() -> None:
    """It once said faces were "recorded as not checked" without --face-model, while the
    records showed OpenCV's own cascade had run (the pipeline test checks those records)."""
    for command in ("filter", "run"):
        r = CliRunner().invoke(cli, [command, "--help"], terminal_width=200)
        assert r.exit_code == 0, r.output
        text = " ".join(r.output.split())
        assert "OpenCV's own frontal-face cascade is used" in text, text
        assert "faces are recorded as not checked only where this OpenCV ships none" in text
