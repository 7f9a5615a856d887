"""The paper's recipes against the authors' finetune_lora.sh and LLaVA trainer (ZwQ803/MM-Skin
at 31d105c): every flag, the projector's learning rate, length-grouped batches (their own
functions run as the reference), the v1 conversation, the ZeRO-3 config, the mixture."""

from __future__ import annotations

import ast
import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from authors_code import REPO, show
from click.testing import CliRunner

from harness.cli import cli
from harness.plugin_manager import get_registries
from harness.protocol.settings import AUTHORS_COMMIT, AUTHORS_REPO

PAPER_RECIPES = ("skinvl-mm", "skinvl-pub", "skinvl-pubmm")


def script_flags() -> dict[str, str]:
    words = shlex.split(show(AUTHORS_REPO, AUTHORS_COMMIT, "finetune_lora.sh").replace("\\\n", " "))
    return {w[2:]: words[i + 1] for i, w in enumerate(words)
            if w.startswith("--") and i + 1 < len(words)}


def as_bool(text: str) -> bool:
    return {"True": True, "False": False}[text]


@pytest.mark.parametrize("name", PAPER_RECIPES)
def test_recipes_are_the_authors_script(name: str) -> None:
    from harness.training.recipes import RECIPES

    flags, r = script_flags(), RECIPES[name]
    assert r.lora.rank == int(flags["lora_r"]) and r.lora.alpha == int(flags["lora_alpha"])
    assert r.mm_projector_lr == float(flags["mm_projector_lr"])
    assert flags["deepspeed"].endswith(f"{r.deepspeed}.json")
    assert r.conversation == flags["version"]
    assert r.group_by_length == as_bool(flags["group_by_modality_length"])
    assert r.bf16_on_gpu == as_bool(flags["bf16"]) and r.tf32_on_gpu == as_bool(flags["tf32"])
    assert r.epochs == float(flags["num_train_epochs"])
    assert r.per_device_batch == int(flags["per_device_train_batch_size"])
    assert r.grad_accum == int(flags["gradient_accumulation_steps"])
    assert (r.save_steps, r.save_total_limit) == (int(flags["save_steps"]),
                                                   int(flags["save_total_limit"]))
    assert r.learning_rate == float(flags["learning_rate"])
    assert r.weight_decay == float(flags["weight_decay"])
    assert r.warmup_ratio == float(flags["warmup_ratio"])
    assert r.lr_scheduler == flags["lr_scheduler_type"]
    assert r.logging_steps == int(flags["logging_steps"])
    assert r.max_length == int(flags["model_max_length"])
    assert r.gradient_checkpointing == as_bool(flags["gradient_checkpointing"])
    assert r.dataloader_workers == int(flags["dataloader_num_workers"])
    assert flags["image_aspect_ratio"] == "pad"  # training pads (training.base)


def test_deepspeed_configs_leave_the_optimizer_to_the_trainer() -> None:
    """A config "optimizer" would make DeepSpeed build one learning rate for everything."""
    for stage in ("zero2", "zero3"):
        config = json.loads((REPO / "training" / f"ds_{stage}.json").read_text())
        assert config["zero_optimization"]["stage"] == int(stage[-1])
        assert "optimizer" not in config and "scheduler" not in config
    zero3 = json.loads((REPO / "training" / "ds_zero3.json").read_text())
    assert zero3["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True


def llava_trainer_functions() -> dict[str, Any]:
    """The authors' length-grouping functions, taken from their file and run as the reference."""
    import torch

    tree = ast.parse(show(AUTHORS_REPO, AUTHORS_COMMIT, "llava/train/llava_trainer.py"))
    wanted = ("split_to_even_chunks", "get_length_grouped_indices")
    module = ast.Module(body=[n for n in tree.body if isinstance(n, ast.FunctionDef)
                              and n.name in wanted], type_ignores=[])
    namespace: dict[str, Any] = {"torch": torch}
    exec(compile(module, "llava_trainer.py", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.mark.parametrize(("n", "batch", "world", "seed"), [
    (100, 4, 1, 0), (100, 4, 2, 3), (37, 16, 2, 1), (64, 16, 4, 7), (5, 16, 1, 2)])
def test_length_grouping_is_llavas(n: int, batch: int, world: int, seed: int) -> None:
    import random

    import torch

    from harness.training.trainer import length_grouped_order

    lengths = [random.Random(seed + i).randint(3, 80) for i in range(n)]
    theirs = llava_trainer_functions()["get_length_grouped_indices"](
        lengths, batch, world, generator=torch.Generator().manual_seed(seed))
    assert length_grouped_order(lengths, batch, world, seed) == theirs
    assert sorted(theirs) == list(range(n))


def tiny_trainer(tmp_path: Path, projector_lr: float | None) -> Any:
    tiny_models = pytest.importorskip("tiny_models")
    from transformers import TrainingArguments

    from harness.training.base import load_base
    from harness.training.lora import LoraSettings, attach_lora
    from harness.training.trainer import SkinVLTrainer

    base = tiny_models.build_llava(tmp_path / "base")
    model, _ = load_base(base)
    model = attach_lora(model, LoraSettings(rank=4, alpha=8))
    args = TrainingArguments(output_dir=str(tmp_path / "out"), learning_rate=5e-5,
                             weight_decay=0.01, use_cpu=True, report_to=[])
    return SkinVLTrainer(model=model, args=args, projector_lr=projector_lr)


def test_the_projector_gets_its_own_learning_rate(tmp_path: Path) -> None:
    trainer = tiny_trainer(tmp_path, 2e-5)
    optimizer = trainer.create_optimizer()
    names = {id(p): n for n, p in trainer.model.named_parameters()}
    decay = set(trainer.get_decay_parameter_names(trainer.model))
    seen = 0
    for group in optimizer.param_groups:
        for p in group["params"]:
            name = names[id(p)]
            seen += 1
            assert group["lr"] == (2e-5 if "multi_modal_projector" in name else 5e-5), name
            assert group["weight_decay"] == (0.01 if name in decay else 0.0), name
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert seen == len(trainable)
    assert any("multi_modal_projector" in n for n in trainable)


def test_v1_conversation_is_trained_as_llava_writes_it(tmp_path: Path) -> None:
    tiny_models = pytest.importorskip("tiny_models")
    from PIL import Image
    from transformers import AutoProcessor

    from harness.training.base import conversation_format
    from harness.training.collate import IGNORE_INDEX, SftCollator

    template, system, pad = conversation_format("v1")
    assert system == ("A chat between a curious user and an artificial intelligence assistant. "
                      "The assistant gives helpful, detailed, and polite answers to the user's "
                      "questions.") and pad
    processor = AutoProcessor.from_pretrained(tiny_models.build_llava(tmp_path / "base"))
    collator = SftCollator(processor, chat_template=template, system=system, pad_to_square=pad)
    batch = collator([{"image": Image.new("RGB", (40, 24), (120, 60, 60)),
                       "question": "What is the diagnosis?", "answer": "Melanoma"}])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    tok = processor.tokenizer
    text = tok.decode(ids).replace(tok.image_token * 16, "<image>")
    # vicuna_v1 (llava/conversation.py:242-252): "{system} USER: <image>\nQ ASSISTANT: A</s>"
    assert text == f"{tok.bos_token}{system} USER: <image>\nWhat is the diagnosis? ASSISTANT: " \
                   f"Melanoma{tok.eos_token}"
    kept = labels[labels != IGNORE_INDEX].tolist()
    assert tok.decode(kept[:-1]).strip() == "Melanoma" and kept[-1] == tok.eos_token_id


def test_public_sources_train_on_every_non_test_image() -> None:
    from harness.demo import data
    from harness.training import mixture_report
    from harness.training.data import Source, build_mixture
    from harness.training.recipes import RECIPES

    both = build_mixture(get_registries(), [Source("demo", kind="label", split="train+val")],
                         data_root=None, seed=1, leakage="off")
    assert len(both.examples) == len(data.classification_samples("train")) + len(
        data.classification_samples("val"))
    splits = {s.dataset: s.split for s in RECIPES["skinvl-pubmm"].sources}
    assert splits == {"mm-skin": "train", "scin": "train", "patch16": "train", "ddi": "train+val",
                      "hiba": "train+val", "bcn20000": "train+val", "fitzpatrick17k": "train+val",
                      "isic2019": "train+val", "pad-ufes-20": "train+val", "mskcc": "train+val"}
    rows = {r["dataset"]: r for r in mixture_report.rows(RECIPES["skinvl-pub"])}
    assert rows["pad-ufes-20"]["paper_printed"] == 1839 and rows["pad-ufes-20"][
        "paper_images"] == 1838  # + 460 test = all 2,298 images
    assert sum(r["paper_printed"] for r in rows.values()) == 149_750  # "149k"


def test_mixture_command_compares_with_table_6(tmp_path: Path) -> None:
    from datasets_helpers import linked_root

    root = linked_root(tmp_path / "data")
    result = CliRunner().invoke(cli, ["train", "mixture", "--recipe", "skinvl-pub",
                                      "--data-root", str(root)])
    assert result.exit_code == 0, result.output
    lines = {r.split(" | ")[0].strip("| "): r for r in result.output.splitlines()
             if r.startswith("| ")}
    # DDI: 653 of 656 images in this copy of the metadata, 132 in the paper's test file
    assert lines["ddi"] == ("| ddi | label | train+val | 521 | 525 | 524 | "
                            "-3 images against the paper |")
    assert lines["pad-ufes-20"] == "| pad-ufes-20 | label | train+val | 1,838 | 1,839 | 1,838 |  |"
    assert "no 'train' split registered" in lines["bcn20000"]
