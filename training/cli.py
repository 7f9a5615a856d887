"""``harness train``: fine-tune SkinVL; ``harness train merge``: fold an adapter into its base.

The group is attached to the harness CLI by ``harness/cli.py`` when this package
is importable; ``python -m harness.training`` runs the same command for launchers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harness import hookimpl
from harness.commands import HarnessGroup
from harness.errors import UsageError


def _say(line: str) -> None:
    click.echo(line, err=True)


@click.group(
    "train", cls=HarnessGroup, invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--recipe", help="skinvl-mm | skinvl-pub | skinvl-pubmm | skinvl-demo "
                               "(`harness train recipes`).")
@click.option("--base", type=click.Path(path_type=Path),
              help="LLaVA-architecture checkpoint folder to fine-tune (e.g. converted LLaVA-Med).")
@click.option("--output", type=click.Path(path_type=Path),
              help="Folder for the adapter, checkpoints, logs and the data manifest.")
@click.option("--data-root", type=click.Path(path_type=Path),
              help="Folder holding the datasets (as for `harness run`).")
@click.option("--max-steps", type=int, help="Stop after N optimiser steps (default: the "
                                            "recipe's epochs).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Per-device batch size "
                                                               "(default: the recipe's, 16).")
@click.option("--deepspeed", "deepspeed", type=click.Path(path_type=Path),
              help="DeepSpeed config (default when CUDA is present: the recipe's, "
              "training/ds_zero3.json for the paper's recipes).")
@click.option("--no-deepspeed", is_flag=True, help="Plain training even on CUDA machines.")
@click.option("--leakage-check", type=click.Choice(["full", "exact", "off"]), default="full",
              show_default=True, help="Audit training images against every readable test "
                                      "split before training.")
@click.option("--allow-leakage", is_flag=True, help="Train even if training images are test "
                                                    "images.")
@click.option("--prepare-only", is_flag=True, help="Build the mixture and run the audit; no "
                                                   "training.")
@click.option("--local_rank", "--local-rank", "local_rank", type=int, hidden=True,
              help="Set by the deepspeed launcher; the rank is read from the environment.")
@click.pass_context
def train(ctx: click.Context, recipe: str | None, base: Path | None, output: Path | None,
          data_root: Path | None, max_steps: int | None, batch_size: int | None,
          deepspeed: Path | None, no_deepspeed: bool, leakage_check: str, allow_leakage: bool,
          prepare_only: bool, local_rank: int | None) -> None:
    """Fine-tune SkinVL (LoRA on the language model, projector trained, vision tower frozen).

    \b
    harness train --recipe skinvl-pubmm --data-root DIR --base PATH --output DIR
    harness train merge OUTPUT --output MERGED
    harness run --model skinvl --model-path OUTPUT --task vqa/mm-skin
    """
    if ctx.invoked_subcommand is not None:
        return
    missing = [name for name, value in (("--recipe", recipe), ("--base", base),
                                        ("--output", output)) if value is None]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)} (see `harness train --help`)")
    assert recipe is not None and base is not None and output is not None
    if data_root is not None and not data_root.is_dir():
        raise UsageError(f"--data-root {data_root} is not a folder")
    if deepspeed is not None and no_deepspeed:
        raise UsageError("--deepspeed and --no-deepspeed contradict each other")
    from harness.commands import registries
    from harness.training.loop import TrainOptions, is_main_process
    from harness.training.loop import train as run_training
    from harness.training.recipes import get_recipe

    options = TrainOptions(
        recipe=get_recipe(recipe), base=base, output=output, data_root=data_root,
        max_steps=max_steps, deepspeed=deepspeed, use_deepspeed=False if no_deepspeed else None,
        batch_size=batch_size, allow_leakage=allow_leakage, leakage_check=leakage_check,
        prepare_only=prepare_only,
    )
    result = run_training(registries(), options, say=_say)
    if not is_main_process():
        return
    if prepare_only:
        _say(f"mixture and audit written to {output / 'data'}")
        return
    losses = result.losses()
    if losses:
        _say(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} over {result.steps} steps")
    _say(f"evaluate it: harness run --model skinvl --model-path {output} --task vqa/mm-skin")


@train.command("merge")
@click.argument("adapter", type=click.Path(path_type=Path))
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help="New folder for the merged checkpoint.")
@click.option("--base", type=click.Path(path_type=Path),
              help="Base folder (default: the one named in adapter_config.json).")
@click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16", "float16"]),
              default="auto", show_default=True)
def merge(adapter: Path, output: Path, base: Path | None, dtype: str) -> None:
    """Merge a trained adapter into its base: a plain LLaVA checkpoint for `harness run`."""
    from harness.training.merge import merge_adapter

    if not adapter.is_dir():
        raise UsageError(f"{adapter} is not a folder")
    merge_adapter(adapter, output, base=base, dtype=dtype)
    _say(f"merged checkpoint written to {output}; "
         f"evaluate it: harness run --model skinvl --model-path {output} --task vqa/mm-skin")


@train.command("recipes")
def recipes() -> None:
    """List the training recipes and their hyperparameters."""
    from harness.training.recipes import RECIPES

    for r in RECIPES.values():
        datasets = ", ".join(f"{s.dataset}({s.kind}, {s.split})" for s in r.sources)
        projector = f"{r.mm_projector_lr:g}" if r.mm_projector_lr is not None else "same"
        click.echo(f"{r.name}: {r.description}\n  data: {datasets}\n  LoRA r={r.lora.rank} "
                   f"alpha={r.lora.alpha} dropout={r.lora.dropout:g}, lr {r.learning_rate:g} "
                   f"(projector {projector}) {r.lr_scheduler}, warmup {r.warmup_ratio:g}, "
                   f"weight decay {r.weight_decay:g}, batch {r.per_device_batch}/device, "
                   f"epochs {r.epochs:g}, conversation {r.conversation}, DeepSpeed "
                   f"{r.deepspeed} on GPUs, grouped by length "
                   f"{'on' if r.group_by_length else 'off'}, gradient checkpointing "
                   f"{'on' if r.gradient_checkpointing else 'off'}")


@train.command("mixture")
@click.option("--recipe", required=True, help="skinvl-mm | skinvl-pub | skinvl-pubmm | ...")
@click.option("--data-root", type=click.Path(path_type=Path),
              help="Count the images each source holds there (else only the plan is shown).")
def mixture(recipe: str, data_root: Path | None) -> None:
    """Which images a recipe trains on, per source, against the paper's Table 6."""
    from harness.commands import registries
    from harness.training import mixture_report
    from harness.training.recipes import get_recipe

    chosen = get_recipe(recipe)
    if data_root is not None and not data_root.is_dir():
        raise UsageError(f"--data-root {data_root} is not a folder")
    entries = mixture_report.load_entries(registries(), chosen, data_root)
    click.echo(mixture_report.render(chosen, mixture_report.rows(chosen, entries)))


def main(argv: list[str] | None = None) -> Any:
    """Entry point of ``python -m harness.training``: one sentence for the user's errors."""
    from harness.commands import standalone

    return standalone(train, "python -m harness.training", argv)


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(train, name="train")
