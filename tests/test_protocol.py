"""harness/protocol: every setting pinned, every source quote checked in the authors' files,
the decoding and candidate lists parsed from the authors' scripts, docs/fidelity.md current."""

from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path

import pytest
from authors_code import REPO, experiment_targets, generate_kwargs, lines, show
from datasets_helpers import linked_root

from harness.protocol import CANDIDATES, value
from harness.protocol.candidates import CANDIDATE_SOURCES
from harness.protocol.render import render
from harness.protocol.settings import (
    AUTHORS,
    AUTHORS_COMMIT,
    AUTHORS_REPO,
    PAPER_DECODING,
    SAME,
    SETTINGS,
)

# The values the code acts on, written out by hand from the authors' files (paper, sound).
PINNED = {
    "zeroshot.datasets": (("patch16", "pad-ufes-20", "ham10000"), SAME),
    "zeroshot.prompt": ("This is a skin lesion image. From the following categories: "
                        "{classes}, which one is the diagnosis?", SAME),
    "zeroshot.classes_separator": (", ", SAME),
    "zeroshot.decoding.do_sample": (True, False),
    "zeroshot.decoding.temperature": (0.5, "greedy (not sampled)"),
    "zeroshot.decoding.top_p": (0.9, "greedy (not sampled)"),
    "zeroshot.decoding.num_beams": (5, 1),
    "zeroshot.decoding.min_new_tokens": (1, 0),
    "zeroshot.decoding.max_new_tokens": (256, 64),
    "vqa.decoding.do_sample": (True, False),
    "vqa.decoding.temperature": (0.2, "greedy (not sampled)"),
    "vqa.decoding.top_p": (0.9, "greedy (not sampled)"),
    "vqa.decoding.num_beams": (5, 1),
    "vqa.decoding.min_new_tokens": (20, 0),
    "vqa.decoding.max_new_tokens": (256, 256),
    "zeroshot.matcher.rewrite": (("actinic keratosis", "actinic keratoses"), None),
    "image.skinvl": ("crop", "pad"),
    "image.llava-med": ("crop", "pad"),
    "image.huatuogpt-vision": ("pad", SAME),
    "probe.datasets": (("ham10000", "ddi", "dermnet", "fitzpatrick17k", "hiba", "isic2019",
                        "pad-ufes-20", "patch16"), SAME),
    "probe.folds": ("plain", "grouped"),
    "probe.grid_on": ("train+val", "train"),
    "probe.refit_on": ("train", SAME),
    "probe.val": ("random", "dataset"),
    "probe.patch16_fraction": (0.1, SAME),
    "probe.binary_threshold": (0.5, SAME),
    "train.lora_rank": (128, SAME),
    "train.lora_alpha": (64, SAME),
    "train.lora_dropout": (0.05, SAME),
    "train.projector_trained": (True, SAME),
    "train.mm_projector_lr": (2e-5, SAME),
    "train.deepspeed": ("zero3", SAME),
    "train.conversation": ("v1", SAME),
    "train.image_aspect_ratio": ("pad", SAME),
    "train.group_by_modality_length": (True, SAME),
    "train.bf16": (True, SAME),
    "train.epochs": (1, SAME),
    "train.per_device_batch": (16, SAME),
    "train.grad_accum": (1, SAME),
    "train.save_steps": (100, SAME),
    "train.save_total_limit": (3, SAME),
    "train.learning_rate": (5e-5, SAME),
    "train.weight_decay": (0.01, SAME),
    "train.warmup_ratio": (0.02, SAME),
    "train.lr_scheduler": ("cosine", SAME),
    "train.logging_steps": (1, SAME),
    "train.tf32": (True, SAME),
    "train.max_length": (2048, SAME),
    "train.gradient_checkpointing": (True, SAME),
    "train.dataloader_workers": (4, SAME),
}
# Settings that describe what the code does in words (their sources are checked below).
DESCRIBED = {
    "zeroshot.image_token", "zeroshot.matcher", "zeroshot.unmatched", "zeroshot.ground_truth",
    "zeroshot.accuracy", "zeroshot.precision", "vqa.prompt", "vqa.stopping", "vqa.bleu4",
    "vqa.meteor", "vqa.rougeL", "vqa.bertscore", "vqa.recall", "conversation.llava-med",
    "conversation.llava-next", "conversation.huatuogpt-vision", "conversation.internvl",
    "conversation.qwen2.5-vl", "probe.features", "probe.classifier", "probe.C_grid",
    "probe.cv_scoring", "probe.recall", "data.pad-ufes-20.split", "train.lora_targets",
}


def test_every_setting_is_pinned_or_described() -> None:
    keys = [s.key for s in SETTINGS]
    assert len(keys) == len(set(keys))
    candidates = {f"zeroshot.candidates.{d}" for d in CANDIDATES}
    assert set(keys) == set(PINNED) | DESCRIBED | candidates
    for key, (paper, sound) in PINNED.items():
        setting = next(s for s in SETTINGS if s.key == key)
        assert (setting.paper, setting.sound) == (paper, sound), key
        assert value(key, "paper") == paper
        assert value(key, "sound") == (paper if sound is SAME else sound)


def test_decoding_presets_are_the_settings() -> None:
    from harness.types import DECODING_PRESETS

    for kind in ("zeroshot", "vqa"):
        preset = DECODING_PRESETS[f"paper-{kind}"]
        assert preset.generate_kwargs() == PAPER_DECODING[kind]
        assert PAPER_DECODING[kind] == {arg: value(f"{kind}.decoding.{arg}", "paper")
                                        for arg in PAPER_DECODING[kind]}


def _sources(setting_source: str) -> list[tuple[str, str]]:
    out = []
    for part in setting_source.split(";"):
        file, _, spec = part.strip().rpartition(":")
        out.append((file, spec))
    return out


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.source], ids=lambda s: s.key)
def test_each_quote_stands_at_its_source_lines(setting) -> None:  # noqa: ANN001
    repo, _, commit = setting.repo.partition("@")
    if setting.repo == AUTHORS:
        commit = AUTHORS_COMMIT
    text = "\n".join(lines(show(repo, commit, file), spec)
                     for file, spec in _sources(setting.source))
    assert setting.quote and setting.quote in text, (setting.key, setting.source, text)


@pytest.mark.parametrize(("kind", "script"), [("zeroshot", "ZS_classification.py"),
                                              ("vqa", "VQA_test.py")])
def test_decoding_is_what_the_authors_scripts_pass(kind: str, script: str) -> None:
    passed = generate_kwargs(show(AUTHORS_REPO, AUTHORS_COMMIT, script))
    compared = {k: v for k, v in passed.items() if k in PAPER_DECODING[kind]}
    assert compared == PAPER_DECODING[kind]
    # everything else they pass is plumbing, not a decoding setting
    assert set(passed) - set(compared) == {"images", "pad_token_id", "use_cache"}


def test_candidate_lists_are_the_authors_in_their_order() -> None:
    targets = experiment_targets(show(AUTHORS_REPO, AUTHORS_COMMIT, "ZS_classification.py"))
    for dataset, (experiment, _) in CANDIDATE_SOURCES.items():
        assert list(CANDIDATES[dataset]) == targets[experiment], dataset
    assert CANDIDATES["ddi"] == ("Non-Malignant", "Malignant")
    assert len(CANDIDATES["mskcc"]) == 21


def test_every_dataset_vocabulary_is_within_the_authors_candidates() -> None:
    from harness.plugin_manager import get_registries

    datasets = get_registries().datasets
    for name, listed in CANDIDATES.items():
        assert set(datasets.get(name).classes) <= set(listed), name


def test_fidelity_page_is_rendered_from_the_settings() -> None:
    page = (REPO / "docs" / "fidelity.md").read_text()
    assert page == render(), "regenerate it: python -m harness.protocol --write docs/fidelity.md"


def _reported(table: str, dataset: str) -> list[float]:
    path = REPO / "leaderboards" / "reported" / table
    with open(path, newline="", encoding="utf-8") as fh:
        return [float(r["ACC"]) for r in csv.DictReader(fh) if r["Dataset"] == dataset]


def test_the_papers_pad_accuracies_imply_460_test_images() -> None:
    accs = _reported("table5_zeroshot.csv", "PAD-UFES-20") + _reported("table4_probe.csv",
                                                                       "PAD-UFES-20")
    assert len(accs) == 12

    def fits(n: int) -> bool:  # some k/n rounds to every printed value (two decimals)
        return all(any(abs(100 * k / n - a) < 0.005 for k in range(n + 1)) for a in accs)

    assert fits(460)
    assert not any(fits(n) for n in (429, 459, 461, 462))


def test_pad_ufes_20_split_holds_out_460_images_by_patient(tmp_path: Path) -> None:
    from harness.datasets.padufes20 import PadUfes20

    root = linked_root(tmp_path)
    adapter = PadUfes20()
    parts = {sp: adapter.load(root, sp) for sp in ("train", "val", "test")}
    assert len(parts["test"]) == 460 == math.ceil(0.2 * 2298)
    assert len(parts["train"]) + len(parts["val"]) == 1838
    patients = {sp: {s.meta["patient_id"] for s in v} for sp, v in parts.items()}
    assert not patients["test"] & (patients["train"] | patients["val"])
    assert not patients["train"] & patients["val"]
    every = Counter(s.label for v in parts.values() for s in v)
    test = Counter(s.label for s in parts["test"])
    for label, n in every.items():  # each class's share is its largest-remainder part of 460
        assert abs(test[label] - n * 460 / 2298) < 1, label
