"""SkinVL training on a tiny LLaVA built offline: loss, frozen tower, save, reload, merge, resume.

One 40-step run on the demo set's training split is shared by the tests of this
module (about 10 s of CPU on one thread). The DeepSpeed run and the demo
model's evaluation are in tests/test_training_slow.py (``-m slow``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from harness.errors import HarnessError, UsageError  # noqa: E402
from harness.plugin_manager import get_registries  # noqa: E402

STEPS = 40


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.training.demo import build_demo_base

    torch.set_num_threads(1)
    return build_demo_base(tmp_path_factory.mktemp("tiny") / "base")


def demo_recipe(**changes: Any) -> Any:
    from harness.training.recipes import get_recipe

    return replace(get_recipe("skinvl-demo"), **changes)


@pytest.fixture(scope="module")
def trained(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from harness.training.loop import TrainOptions, train

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("run") / "adapter"
    lines: list[str] = []
    result = train(get_registries(), TrainOptions(recipe=demo_recipe(), base=base, output=out,
                                                  max_steps=STEPS, use_deepspeed=False),
                   say=lines.append)
    result.model.eval()
    return result, lines


def load_llava(path: Path) -> Any:
    from transformers import LlavaForConditionalGeneration

    return LlavaForConditionalGeneration.from_pretrained(path).eval()


def batch_inputs(base: Path) -> dict[str, Any]:
    """A real collated batch of four demo test examples (images, prompts, answers)."""
    from transformers import AutoProcessor

    from harness.demo import data
    from harness.images import open_rgb
    from harness.training.collate import SftCollator

    processor = AutoProcessor.from_pretrained(base)
    items = [{"image": open_rgb(s.image), "question": s.question, "answer": s.answer}
             for s in data.vqa_samples("test")[:4]]
    batch = SftCollator(processor)(items)
    batch.pop("labels")
    return batch


def logits(model: Any, batch: dict[str, Any]) -> Any:
    with torch.no_grad():
        return model(**batch).logits


def test_loss_falls(trained: Any) -> None:
    result, lines = trained
    losses = result.losses()
    assert result.steps == STEPS
    assert len(losses) == STEPS // 10
    assert losses[-1] < 0.6 * losses[0], losses
    assert any(line.startswith("step 10/40  loss") for line in lines)
    log = [json.loads(x) for x in (result.output / "log.jsonl").read_text().splitlines()]
    logged = [e for e in log if "loss" in e]
    assert [e["step"] for e in logged] == [10, 20, 30, 40]
    assert all(e["learning_rate"] > 0 for e in logged[:-1])
    assert logged[0]["learning_rate"] > logged[-1]["learning_rate"]  # cosine decay


def test_only_lora_and_projector_train(trained: Any, base: Path) -> None:
    result, _ = trained
    names = [n for n, p in result.model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n or "modules_to_save" in n for n in names)
    assert not any("vision_tower" in n for n in names)
    lora_modules = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in names if "lora_" in n}
    assert lora_modules == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                            "down_proj"}
    assert all(".language_model." in n for n in names if "lora_" in n)
    assert result.trainable["other"] == 0 and result.trainable["projector"] > 0


def test_vision_tower_unchanged_projector_changed(trained: Any, base: Path) -> None:
    result, _ = trained
    before = load_llava(base).state_dict()
    after = {k.replace("base_model.model.", "", 1): v for k, v in
             result.model.state_dict().items()}
    tower = [k for k in before if ".vision_tower." in k]
    assert tower
    for k in tower:
        assert torch.equal(before[k], after[k]), k
    projector = [k for k in after if "multi_modal_projector" in k and "modules_to_save" in k]
    assert projector
    changed = [k for k in projector
               if not torch.equal(after[k], before[k.replace("modules_to_save.default.", "")])]
    assert changed


def test_adapter_saved_with_projector_not_tower(trained: Any, base: Path) -> None:
    from safetensors.torch import load_file

    result, _ = trained
    out = result.output
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(base.resolve())
    assert config["r"] == 16 and config["lora_alpha"] == 32
    keys = list(load_file(out / "adapter_model.safetensors"))
    assert any("multi_modal_projector" in k for k in keys)
    assert not any("vision_tower" in k for k in keys)
    assert (out / "processor_config.json").is_file()
    summary = json.loads((out / "skinvl_training.json").read_text())
    assert summary["steps"] == STEPS and summary["recipe"]["name"] == "skinvl-demo"
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    assert manifest["examples"] == 320
    assert manifest["sources"][0]["dataset"] == "demo-vqa"
    assert manifest["leakage"]["run"] and manifest["leakage"]["leaked"] == 0
    first = json.loads((out / "data" / "train.jsonl").read_text().splitlines()[0])
    assert first["conversations"][0]["value"].startswith("<image>\n")
    assert first["conversations"][1]["from"] == "gpt"


def test_reload_on_fresh_base_and_merge_match(trained: Any, base: Path, tmp_path: Path) -> None:
    from harness.training.merge import load_adapter, merge_adapter

    result, _ = trained
    batch = batch_inputs(base)
    expected = logits(result.model, batch)
    untrained = logits(load_llava(base), batch)
    assert (expected - untrained).abs().max() > 1e-2  # training changed the outputs

    reloaded, _ = load_adapter(result.output)
    reloaded.eval()
    torch.testing.assert_close(logits(reloaded, batch), expected, atol=1e-5, rtol=1e-5)

    merged_dir = merge_adapter(result.output, tmp_path / "merged")
    merged = load_llava(merged_dir)
    assert type(merged).__name__ == "LlavaForConditionalGeneration"
    torch.testing.assert_close(logits(merged, batch), expected, atol=1e-4, rtol=1e-4)
    assert (merged_dir / "processor_config.json").is_file()
    with pytest.raises(UsageError, match="not empty"):
        merge_adapter(result.output, merged_dir)


def test_resume_after_interruption(base: Path, tmp_path: Path) -> None:
    """Killed at step 25 (checkpoint at 20): the same options resume and finish at 30."""
    from transformers import TrainerCallback

    from harness.training.loop import TrainOptions, train

    class Interrupt(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == 25:
                raise KeyboardInterrupt

    recipe = demo_recipe(save_steps=10, save_total_limit=2)
    options = TrainOptions(recipe=recipe, base=base, output=tmp_path / "run", max_steps=30,
                           use_deepspeed=False, callbacks=[Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        train(get_registries(), options, say=lambda _: None)
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-20").is_dir()
    assert not (tmp_path / "run" / "adapter_config.json").exists()
    lines: list[str] = []
    result = train(get_registries(), replace(options, callbacks=[]), say=lines.append)
    assert any("resuming from" in line and "checkpoint-20" in line for line in lines)
    assert result.steps == 30
    assert [e["step"] for e in result.log if "loss" in e][-1] == 30
    assert (tmp_path / "run" / "adapter_config.json").is_file()

    with pytest.raises(UsageError, match="other options"):
        train(get_registries(), replace(options, callbacks=[], max_steps=31),
              say=lambda _: None)


def test_collator_masks_prompt_and_image_tokens(base: Path) -> None:
    from transformers import AutoProcessor

    from harness.demo import data
    from harness.images import open_rgb
    from harness.training.collate import IGNORE_INDEX, SftCollator

    processor = AutoProcessor.from_pretrained(base)
    samples = data.vqa_samples("train")[:3]
    items = [{"image": open_rgb(s.image), "question": s.question, "answer": s.answer}
             for s in samples]
    batch = SftCollator(processor)(items)
    image_id = processor.tokenizer.image_token_id
    assert batch["pixel_values"].shape[0] == 3
    for row, s in enumerate(samples):
        ids, labels = batch["input_ids"][row], batch["labels"][row]
        assert int((ids == image_id).sum()) == 16  # the image expanded to its 16 patch tokens
        assert (labels[ids == image_id] == IGNORE_INDEX).all()
        kept = labels[labels != IGNORE_INDEX].tolist()
        assert kept[-1] == processor.tokenizer.eos_token_id
        assert processor.tokenizer.decode(kept[:-1]).strip() == s.answer
        first = int((labels != IGNORE_INDEX).nonzero()[0])
        prompt = processor.tokenizer.decode(ids[:first])
        assert s.question in prompt and "[/INST]" in prompt
        pad = batch["attention_mask"][row] == 0
        assert (labels[pad] == IGNORE_INDEX).all()


def test_lora_regex_skips_vision_tower(base: Path) -> None:
    from harness.training.lora import LoraSettings, attach_lora, trainable_summary

    model = attach_lora(load_llava(base), LoraSettings(rank=4, alpha=8))
    names = [n for n, _ in model.named_modules() if n.endswith("lora_A")]
    assert names and not any("vision_tower" in n for n in names)
    # 2 layers x 7 projections in the language model
    assert len(names) == 14
    summary = trainable_summary(model)
    assert summary["other"] == 0 and summary["saved_modules"] == 0


def test_label_sources_use_the_paper_phrasing() -> None:
    from harness.demo.data import CLASSES
    from harness.training.data import Source, build_mixture

    mixture = build_mixture(get_registries(), [Source("demo", kind="label"),
                                               Source("bcn20000", kind="label")],
                            data_root=None, seed=1, leakage="off")
    assert len(mixture.examples) == 160
    assert {e.question for e in mixture.examples} == {"What is the diagnosis?"}
    assert {e.answer for e in mixture.examples} == set(CLASSES)
    skipped = [s for s in mixture.sources if s.get("skipped_reason")]
    assert [s["dataset"] for s in skipped] == ["bcn20000"]  # registered with a test split only

    templates = ("What is the diagnosis?", "Name the disease.")
    varied = build_mixture(get_registries(), [Source("demo", kind="label", templates=templates)],
                           data_root=None, seed=1, leakage="off")
    assert {e.question for e in varied.examples} == set(templates)


def test_training_on_test_images_is_refused(base: Path, tmp_path: Path) -> None:
    from harness.training.data import Source
    from harness.training.loop import TrainOptions, train

    leaky = demo_recipe(sources=(Source("demo-vqa", kind="qa", split="test"),))
    options = TrainOptions(recipe=leaky, base=base, output=tmp_path / "leak", max_steps=2,
                           use_deepspeed=False, leakage_check="exact", prepare_only=True)
    with pytest.raises(HarnessError, match="80 training images are also test images"):
        train(get_registries(), options, say=lambda _: None)
    manifest = json.loads((tmp_path / "leak" / "data" / "manifest.json").read_text())
    assert manifest["leakage"]["leaked"] == 80


def test_recipes_carry_the_paper_hyperparameters() -> None:
    from harness.training.recipes import PUBLIC_DATASETS, RECIPES

    for name in ("skinvl-mm", "skinvl-pub", "skinvl-pubmm"):
        r = RECIPES[name]
        assert (r.lora.rank, r.lora.alpha, r.learning_rate, r.lr_scheduler) == (
            128, 64, 5e-5, "cosine")
        assert r.per_device_batch == 16 and r.gradient_checkpointing and r.bf16_on_gpu
        assert r.lora.fully_trained == ("multi_modal_projector",)
    assert [s.dataset for s in RECIPES["skinvl-mm"].sources] == ["mm-skin"]
    assert [s.dataset for s in RECIPES["skinvl-pub"].sources] == list(PUBLIC_DATASETS)
    assert len(RECIPES["skinvl-pubmm"].sources) == 10
    registered = set(get_registries().datasets.names())
    assert set(PUBLIC_DATASETS) | {"mm-skin"} <= registered


def test_bad_base_is_one_sentence(tmp_path: Path) -> None:
    from harness.training.base import check_base

    with pytest.raises(UsageError, match="is not a folder"):
        check_base(tmp_path / "nope")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text(json.dumps({"model_type": "llava_mistral"}))
    with pytest.raises(UsageError, match="convert"):
        check_base(tmp_path / "cfg")


def invoke(*args: str) -> Any:
    from click.testing import CliRunner

    from harness.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_train_then_merge(base: Path, tmp_path: Path) -> None:
    out, merged = tmp_path / "cli-run", tmp_path / "cli-merged"
    result = invoke("train", "--recipe", "skinvl-demo", "--base", str(base), "--output", str(out),
                    "--max-steps", "2", "--leakage-check", "off", "--no-deepspeed")
    assert result.exit_code == 0, result.output
    assert "saved the adapter" in result.stderr and "harness run --model skinvl" in result.stderr
    assert json.loads((out / "skinvl_training.json").read_text())["steps"] == 2
    result = invoke("train", "merge", str(out), "--output", str(merged))
    assert result.exit_code == 0, result.output
    assert (merged / "config.json").is_file() and (merged / "model.safetensors").is_file()


@pytest.mark.parametrize("args, message", [
    (("train", "--recipe", "skinvl-demo"), "missing --base, --output"),
    (("train", "--recipe", "nope", "--base", "{base}", "--output", "{tmp}/o"), "unknown recipe"),
    (("train", "--recipe", "skinvl-mm", "--base", "{tmp}/missing", "--output", "{tmp}/o"),
     "is not a folder"),
    (("train", "--recipe", "skinvl-mm", "--base", "{base}", "--output", "{tmp}/o"),
     "pass --data-root"),
    (("train", "merge", "{tmp}", "--output", "{tmp}/m"), "holds no adapter_config.json"),
    (("train", "--recipe", "skinvl-demo", "--base", "{base}", "--output", "{tmp}/o",
      "--deepspeed", "{tmp}/ds.json", "--no-deepspeed"), "contradict"),
])
def test_cli_errors_are_one_sentence(base: Path, tmp_path: Path, args: tuple[str, ...],
                                     message: str) -> None:
    argv = [a.format(base=base, tmp=tmp_path) for a in args]
    result = invoke(*argv)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "o" / "adapter_config.json").exists()


def test_cli_lists_recipes() -> None:
    result = invoke("train", "recipes")
    assert result.exit_code == 0
    for name in ("skinvl-mm", "skinvl-pub", "skinvl-pubmm", "skinvl-demo"):
        assert name in result.output
    assert ("LoRA r=128 alpha=64 dropout=0.05, lr 5e-05 (projector 2e-05) cosine, warmup 0.02, "
            "weight decay 0.01, batch 16/device, epochs 1, conversation v1, DeepSpeed zero3"
            in result.output)


def test_harness_run_skinvl_on_adapter_and_merged(trained: Any, tmp_path: Path) -> None:
    """`harness run --model skinvl --model-path ADAPTER|MERGED --task vqa/demo`: same answers."""
    pytest.importorskip("harness.plugins.skinvl")
    from harness.runner import RunOptions, run
    from harness.training.merge import merge_adapter

    result, _ = trained
    merged = merge_adapter(result.output, tmp_path / "merged")
    outputs = {}
    for label, path in (("adapter", result.output), ("merged", merged)):
        (outcome,) = run(get_registries(), RunOptions(
            model="skinvl", tasks=["vqa/demo"], output=tmp_path / label, model_path=str(path),
            limit=16, batch_size=16, task_options={"bootstrap": "0", "metrics": "bleu4,rougeL"},
            protocol="sound"))  # greedy: the answers are the model's, not a sampling draw
        assert outcome.failed == 0 and outcome.metrics.n == 16
        lines = (outcome.folder / "predictions.jsonl").read_text().splitlines()
        outputs[label] = {json.loads(x)["id"]: json.loads(x)["output"] for x in lines}
        assert outcome.metrics.scores.overall["rougeL"] > 0
    assert outputs["adapter"] == outputs["merged"]
    from harness.demo import data

    openings = tuple({" ".join(s.answer.split()[:2]) for s in data.vqa_samples("train")
                      if s.answer})  # how the demo's answers begin ("Under the", "Yes, its")
    assert any(o.startswith(openings) for o in outputs["adapter"].values())


def test_trains_the_shared_tiny_llava_fixture(tmp_path: Path) -> None:
    """The plugins' own tiny LLaVA-Med-layout checkpoint (tests/tiny_models.py) trains too,
    with the paper recipes' gradient checkpointing on."""
    tiny_models = pytest.importorskip("tiny_models")
    from harness.training.loop import TrainOptions, train

    base = tiny_models.build_llava(tmp_path / "tiny-llava")
    result = train(get_registries(), TrainOptions(
        recipe=demo_recipe(logging_steps=2, gradient_checkpointing=True), base=base,
        output=tmp_path / "run", max_steps=6, use_deepspeed=False, leakage_check="off"),
        say=lambda _: None)
    losses = result.losses()
    assert result.steps == 6 and len(losses) == 3 and losses[-1] < losses[0]
    assert result.model.base_model.model.is_gradient_checkpointing
