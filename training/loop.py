"""The training loop: Hugging Face ``Trainer``, with DeepSpeed on CUDA machines.

One loop for every setting. DeepSpeed (the recipe's ``training/ds_zero3.json`` or
``ds_zero2.json``) is used when CUDA devices are present or when a config is passed;
on a CPU-only machine the same loop runs single-process without it. A rerun with the
same options resumes from the last checkpoint in ``OUTPUT/checkpoints``.

Output folder::

    OUTPUT/adapter_config.json, adapter_model.safetensors   LoRA + projector (peft)
    OUTPUT/processor files, chat_template                   the base's processor
    OUTPUT/skinvl_training.json                             recipe, base, steps, losses
    OUTPUT/log.jsonl                                        one line per logging step
    OUTPUT/data/train.jsonl, data/manifest.json             the mixture (LLaVA format)
    OUTPUT/checkpoints/checkpoint-N                         periodic checkpoints
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, UsageError
from harness.training.recipes import Recipe


def deepspeed_config(stage: str) -> Path:
    """``training/ds_<stage>.json`` (zero2 | zero3)."""
    path = Path(__file__).with_name(f"ds_{stage}.json")
    if not path.is_file():
        raise UsageError(f"no DeepSpeed config for '{stage}' ({path} does not exist)")
    return path
CONFIG_FILE = "train_options.json"
SUMMARY_FILE = "skinvl_training.json"


@dataclass
class TrainOptions:
    recipe: Recipe
    base: Path
    output: Path
    data_root: Path | None = None
    max_steps: int | None = None
    # None: the recipe's ZeRO stage (training/ds_<stage>.json) with CUDA devices, else plain.
    deepspeed: Path | None = None
    use_deepspeed: bool | None = None
    batch_size: int | None = None
    allow_leakage: bool = False
    leakage_check: str = "full"  # full | exact | off
    prepare_only: bool = False
    callbacks: list[Any] = field(default_factory=list)  # extra transformers TrainerCallbacks
    extra_args: dict[str, Any] = field(default_factory=dict)

    def key(self) -> dict[str, Any]:
        """What must match for a rerun to resume the same training."""
        return {
            "recipe": self.recipe.to_dict(),
            "base": str(self.base.resolve()),
            "data_root": str(self.data_root.resolve()) if self.data_root else None,
            "max_steps": self.max_steps,
            "batch_size": self.batch_size,
        }


@dataclass
class TrainResult:
    output: Path
    steps: int
    log: list[dict[str, Any]]
    seconds: float
    trainable: dict[str, int]
    model: Any = None  # the trained peft model, in memory

    def losses(self) -> list[float]:
        return [float(e["loss"]) for e in self.log if "loss" in e]


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def resolve_deepspeed(options: TrainOptions) -> Path | None:
    """The DeepSpeed config to use, or None for plain training."""
    if options.use_deepspeed is False:
        return None
    if options.deepspeed is not None:
        if not options.deepspeed.is_file():
            raise UsageError(f"--deepspeed {options.deepspeed} is not a file")
        return options.deepspeed
    import torch

    if options.use_deepspeed or torch.cuda.is_available():
        return deepspeed_config(options.recipe.deepspeed)
    return None


def _prepare_deepspeed(config: Path) -> None:
    try:
        import deepspeed  # noqa: F401
    except ImportError:
        raise UsageError("DeepSpeed is not installed: `pip install 'derm-harness[train]'`, or "
                         "train without it (--no-deepspeed)") from None
    try:
        json.loads(config.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"--deepspeed {config} is not valid JSON ({exc})") from None
    # A single process not started by a launcher: give torch.distributed the
    # rendezvous a launcher would (else DeepSpeed falls back to MPI discovery).
    if "RANK" not in os.environ:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _check_output(options: TrainOptions) -> None:
    out = options.output
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output {out} exists and is not a folder")
    saved = out / CONFIG_FILE
    if saved.is_file():
        before = json.loads(saved.read_text())
        now = json.loads(json.dumps(options.key()))
        if before != now:
            differ = sorted(k for k in now if before.get(k) != now.get(k))
            raise UsageError(f"--output {out} holds a training run with other options "
                             f"({', '.join(differ)} differ): choose another --output folder")


class ExampleDataset:
    """Examples as the collator's input; images are opened when a batch is built."""

    def __init__(self, examples: list[Any]) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, Any]:
        from harness.images import open_rgb

        e = self.examples[i]
        return {"image": open_rgb(e.image), "question": e.question, "answer": e.answer}


def _log_callback(path: Path, say: Callable[[str], None]) -> Any:
    from transformers import TrainerCallback

    class JsonlLog(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
                   **kwargs: Any) -> None:
            if not state.is_world_process_zero or not logs:
                return
            entry = {"step": state.global_step, **{k: v for k, v in logs.items()
                                                   if isinstance(v, int | float | str)}}
            with open(path, "a") as f:
                f.write(json.dumps(entry) + "\n")
            if "loss" in logs:
                lr = logs.get("learning_rate", float("nan"))
                say(f"step {state.global_step}/{state.max_steps}  loss {logs['loss']:.4f}  "
                    f"lr {lr:.3g}")

    return JsonlLog()


def train(registries: Any, options: TrainOptions,
          say: Callable[[str], None] = print) -> TrainResult:
    """Build the mixture, attach LoRA to the base, train, save the adapter in ``options.output``."""
    import torch
    from transformers import PrinterCallback, TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from harness.training.base import check_base, conversation_format, load_base
    from harness.training.collate import SftCollator
    from harness.training.data import leaked_count
    from harness.training.lora import attach_lora, trainable_summary
    from harness.training.trainer import SkinVLTrainer, example_lengths

    recipe = options.recipe
    check_base(options.base)
    if options.max_steps is not None and options.max_steps < 1:
        raise UsageError("--max-steps must be at least 1")
    _check_output(options)
    ds_config = resolve_deepspeed(options)
    if ds_config is not None:
        _prepare_deepspeed(ds_config)
    main = is_main_process()
    if not main:
        say = _quiet  # one report, from rank 0

    cuda = torch.cuda.is_available()
    bf16 = bool(cuda and recipe.bf16_on_gpu and torch.cuda.is_bf16_supported())
    # TF32 matmuls exist from Ampere on; transformers refuses the flag elsewhere.
    tf32 = bool(cuda and recipe.tf32_on_gpu and torch.cuda.get_device_capability()[0] >= 8)
    checkpoints = options.output / "checkpoints"
    args = TrainingArguments(
        output_dir=str(checkpoints),
        per_device_train_batch_size=options.batch_size or recipe.per_device_batch,
        gradient_accumulation_steps=recipe.grad_accum,
        learning_rate=recipe.learning_rate,
        lr_scheduler_type=recipe.lr_scheduler,
        warmup_steps=recipe.warmup_ratio,
        weight_decay=recipe.weight_decay,
        num_train_epochs=recipe.epochs,
        max_steps=options.max_steps if options.max_steps is not None else -1,
        logging_steps=recipe.logging_steps,
        save_strategy="steps",
        save_steps=recipe.save_steps,
        save_total_limit=recipe.save_total_limit,
        bf16=bf16,
        tf32=tf32,
        activation_checkpointing=recipe.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        deepspeed=str(ds_config) if ds_config else None,
        remove_unused_columns=False,
        label_names=["labels"],
        report_to=[],
        disable_tqdm=True,
        seed=recipe.seed,
        dataloader_num_workers=recipe.dataloader_workers if cuda else 0,
        ddp_find_unused_parameters=False,
        use_cpu=not cuda,
        ddp_timeout=3 * 3600,  # the leakage audit runs on rank 0 while the others wait
        **options.extra_args,
    )
    # Rank 0 builds the mixture and runs the leakage audit first; the other ranks then find
    # its result in OUTPUT/data/manifest.json instead of auditing again.
    with args.main_process_first(local=False, desc="training mixture"):
        mixture = prepare_mixture(registries, options, say if main else _quiet)
    leaked = leaked_count(mixture.leakage)
    if leaked and not options.allow_leakage:
        raise HarnessError(f"{leaked} training images are also test images (see "
                           f"{options.output / 'data' / 'manifest.json'}); remove them or pass "
                           "--allow-leakage")
    if options.prepare_only:
        return TrainResult(output=options.output, steps=0, log=[], seconds=0.0, trainable={})

    template, system, pad_to_square = conversation_format(recipe.conversation)
    set_seed(recipe.seed)
    model, processor = load_base(options.base, dtype=torch.bfloat16 if bf16 else torch.float32)
    model.config.use_cache = False
    model = attach_lora(model, recipe.lora)
    trainable = trainable_summary(model)
    say(f"trainable parameters: LoRA {trainable['lora']:,}, projector {trainable['projector']:,}, "
        f"other saved modules {trainable['saved_modules']:,} of {trainable['total']:,}")
    trainer = SkinVLTrainer(
        model=model,
        args=args,
        train_dataset=ExampleDataset(mixture.examples),
        data_collator=SftCollator(processor, max_length=recipe.max_length,
                                  chat_template=template, pad_to_square=pad_to_square,
                                  system=system),
        projector_lr=recipe.mm_projector_lr,
        lengths=example_lengths(mixture.examples) if recipe.group_by_length else None,
        callbacks=[_log_callback(options.output / "log.jsonl", say if main else _quiet),
                   *options.callbacks],
    )
    trainer.remove_callback(PrinterCallback)  # the JSONL callback reports instead
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if last:
        say(f"resuming from {last}")
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - start

    trainer.save_model(str(options.output))  # the adapter (LoRA + projector), main process only
    log = [e for e in trainer.state.log_history if "loss" in e or "train_loss" in e]
    if trainer.is_world_process_zero():
        processor.save_pretrained(options.output)
        _point_adapter_at_base(options.output, options.base)
        summary = {
            "recipe": recipe.to_dict(),
            "base": str(options.base.resolve()),
            "steps": trainer.state.global_step,
            "deepspeed": str(ds_config) if ds_config else None,
            "bf16": bf16,
            "tf32": tf32,
            "seconds": round(seconds, 2),
            "trainable": trainable,
            "log": log,
            "examples": len(mixture.examples),
            "leakage": {"run": mixture.leakage.get("run"), "reason": mixture.leakage.get("reason"),
                        "leaked": leaked},
        }
        (options.output / SUMMARY_FILE).write_text(json.dumps(summary, indent=1))
    say(f"saved the adapter in {options.output} after {trainer.state.global_step} steps "
        f"({seconds:.1f} s)")
    return TrainResult(output=options.output, steps=trainer.state.global_step, log=log,
                       seconds=seconds, trainable=trainable, model=trainer.model)


def prepare_mixture(registries: Any, options: TrainOptions, say: Callable[[str], None]) -> Any:
    """The mixture, its leakage audit (reused from OUTPUT/data when the same), written out."""
    from harness.training.data import build_mixture, leakage_check, write_mixture

    recipe = options.recipe
    mixture = build_mixture(registries, recipe.sources, options.data_root, seed=recipe.seed,
                            leakage="off")
    for entry in mixture.sources:
        if entry.get("skipped_reason"):
            say(f"warning: {entry['dataset']} left out of the mixture: {entry['skipped_reason']}")
    say(f"{recipe.name}: {len(mixture.examples)} examples from "
        + ", ".join(f"{s['dataset']} ({s['examples']})" for s in mixture.sources
                    if s["examples"]))
    folder = options.output / "data"
    digest = _ids_digest(mixture)
    previous = _read_json(folder / "manifest.json")
    if (previous.get("ids_sha256") == digest and previous.get("leakage", {}).get("mode")
            == options.leakage_check):
        mixture.leakage = previous["leakage"]
    else:
        if options.leakage_check != "off":
            say(f"leakage check ({options.leakage_check}): training images against every "
                "readable test split")
        mixture.leakage = leakage_check(registries, mixture.examples, options.data_root,
                                        options.leakage_check)
    _say_leakage(mixture.leakage, say)
    if is_main_process():
        options.output.mkdir(parents=True, exist_ok=True)
        (options.output / CONFIG_FILE).write_text(json.dumps(options.key(), indent=1))
        from harness.training.mixture_report import rows

        write_mixture(mixture, folder, extra={"recipe": recipe.name,
                                              "against_the_paper": rows(recipe, mixture.sources)})
    return mixture


def _ids_digest(mixture: Any) -> str:
    from harness.training.data import digest_ids

    return digest_ids(e.id for e in mixture.examples)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _say_leakage(leakage: dict[str, Any], say: Callable[[str], None]) -> None:
    if not leakage.get("run"):
        say(f"leakage check not run: {leakage.get('reason')}")
        return
    missing = leakage.get("test_splits_not_checked") or {}
    say(f"leakage check: {leakage['train_images']} training images against "
        f"{leakage['test_images']} test images of {', '.join(leakage['test_splits_checked'])}: "
        f"{leakage['leaked']} leaked, {leakage['suspected']} suspected (same id or near-duplicate)"
        + (f"; not checked: {', '.join(sorted(missing))}" if missing else ""))


def _quiet(_: str) -> None:
    return None


def _point_adapter_at_base(adapter: Path, base: Path) -> None:
    """adapter_config.json names the base by absolute path, so the adapter loads from anywhere."""
    path = adapter / "adapter_config.json"
    config = json.loads(path.read_text())
    config["base_model_name_or_path"] = str(base.resolve())
    path.write_text(json.dumps(config, indent=2))
