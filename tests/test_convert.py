"""The original-LLaVA-format converter against an independent forward of the source format.

The original LLaVA code cannot be installed here, so the source checkpoint is a
tiny one written with the original key names and config fields, and its logits
are computed by re-implementing the original model's forward from those weights
alone: a CLIP tower (hidden state ``mm_vision_select_layer``, CLS dropped), the
``mlp2x_gelu`` projector, the prompt split on ``<image>`` with the image
features spliced in its place (``tokenizer_image_token``), and the causal LM.
This proves the renaming, the config mapping, the added image token and the
pad-to-square preprocessing; it does not prove that a real SentencePiece
tokenizer splits text the same way around the image (see docs/models.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from harness.plugins.huatuo import make_huatuo
from harness.plugins.llava_convert import RECORD, convert, convert_command, ensure_converted
from harness.plugins.llava_med import make_llava_med
from safetensors.torch import load_file, save_file
from tiny_models import IMAGE, build_original_llava, write_images

from harness.errors import HarnessError, UsageError

QUESTION = "What is the diagnosis?"


def original_forward(folder: Path, image_path: Path, prompt: str) -> Any:
    """Logits of the original LLaVA model, computed from the original-format files only."""
    import torch
    from PIL import Image
    from transformers import (
        CONFIG_MAPPING,
        AutoModelForCausalLM,
        AutoTokenizer,
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
    )

    cfg = json.loads((folder / "config.json").read_text())
    state = load_file(str(folder / "model.safetensors"))
    tower_cfg = CLIPVisionConfig.from_pretrained(cfg["mm_vision_tower"])
    tower = CLIPVisionModel(tower_cfg).eval()
    prefix = "model.vision_tower.vision_tower.vision_model."
    tower_state = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
    if not tower_state:  # the tower was published separately
        tower_state = {k.removeprefix("vision_model."): v for k, v in load_file(
            str(Path(cfg["mm_vision_tower"]) / "model.safetensors")).items()}
    tower.load_state_dict(tower_state, strict=True)
    text_type = {"llava_mistral": "mistral", "llava_qwen2": "qwen2"}[cfg["model_type"]]
    fields = {k: v for k, v in cfg.items() if not k.startswith(("mm_", "tokenizer_"))
              and k not in ("architectures", "model_type", "image_aspect_ratio", "use_mm_proj",
                            "tune_mm_mlp_adapter", "freeze_mm_mlp_adapter", "torch_dtype")}
    lm = AutoModelForCausalLM.from_config(CONFIG_MAPPING[text_type](**fields)).eval()
    lm.load_state_dict({k: v for k, v in state.items()
                        if k.startswith(("model.layers", "model.embed", "model.norm", "lm_head"))},
                       strict=True)
    hidden = cfg["hidden_size"]
    projector = torch.nn.Sequential(torch.nn.Linear(cfg["mm_hidden_size"], hidden),
                                    torch.nn.GELU(), torch.nn.Linear(hidden, hidden))
    projector.load_state_dict({k.removeprefix("model.mm_projector."): v for k, v in state.items()
                               if k.startswith("model.mm_projector.")}, strict=True)
    # expand2square with the CLIP mean colour, then the CLIP processor
    processor = CLIPImageProcessor(size={"shortest_edge": IMAGE},
                                   crop_size={"height": IMAGE, "width": IMAGE})
    image = Image.open(image_path).convert("RGB")
    w, h = image.size
    square = Image.new("RGB", (max(w, h),) * 2, tuple(int(x * 255) for x in processor.image_mean))
    square.paste(image, ((max(w, h) - w) // 2, (max(w, h) - h) // 2))
    pixels = processor(square, return_tensors="pt")["pixel_values"]
    tok = AutoTokenizer.from_pretrained(folder)
    before, after = prompt.split("<image>")
    ids_before = tok(before).input_ids
    ids_after = tok(after).input_ids
    if tok.bos_token_id is not None and ids_after[:1] == [tok.bos_token_id]:
        ids_after = ids_after[1:]
    with torch.no_grad():
        hs = tower(pixels, output_hidden_states=True).hidden_states[cfg["mm_vision_select_layer"]]
        feats = projector(hs[:, 1:])[0]
        embed = lm.get_input_embeddings()
        embeds = torch.cat([embed(torch.tensor(ids_before)), feats, embed(torch.tensor(ids_after))])
        return lm(inputs_embeds=embeds[None]).logits[0]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_images(tmp_path_factory.mktemp("images"))


@pytest.mark.parametrize(("text", "factory", "prompt"), [
    ("mistral", make_llava_med, f"[INST] <image>\n{QUESTION} [/INST]"),
    ("qwen2", make_huatuo, f"<|user|>\n<image>\n{QUESTION}\n<|assistant|>\n"),
])
@pytest.mark.parametrize("tower_in_checkpoint", [True, False])
def test_converted_logits_equal_the_source(tmp_path: Path, images: list[Path], text: str,
                                           factory: Any, prompt: str,
                                           tower_in_checkpoint: bool) -> None:
    import torch

    source = build_original_llava(tmp_path / "src", text, tower_in_checkpoint=tower_in_checkpoint)
    model = factory(model_path=str(source), device="cpu", seed=0)
    for image in images[:2]:  # one wide, one tall: both padded to square
        expected = original_forward(source, image, prompt)
        enc = model._encode([model.prompt_text(QUESTION, 1)], model._images([image]))
        with torch.no_grad():
            got = model.model(**enc).logits[0]
        vocab = expected.shape[-1]
        assert got.shape == (expected.shape[0], vocab + 1)  # + the added <image> token
        torch.testing.assert_close(got[:, :vocab], expected, rtol=1e-4, atol=1e-4)
    record = json.loads((model.folder / RECORD).read_text())
    assert record["tower_in_checkpoint"] is tower_in_checkpoint


def test_conversion_is_cached_by_source_hash(tmp_path: Path) -> None:
    source = build_original_llava(tmp_path / "src", "mistral")
    first, _ = ensure_converted("t", source, None, False)
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    again, _ = ensure_converted("t", source, None, False)
    assert again == first and (first / "model.safetensors").stat().st_mtime_ns == stamp
    config = json.loads((source / "config.json").read_text())
    config["mm_vision_select_layer"] = -1  # a different source: a different cache entry
    (source / "config.json").write_text(json.dumps(config))
    other, _ = ensure_converted("t", source, None, False)
    assert other != first


def test_missing_projector_weight_is_an_error(tmp_path: Path) -> None:
    source = build_original_llava(tmp_path / "src", "mistral",
                                  drop_keys=["model.mm_projector.2.bias"])
    with pytest.raises(HarnessError, match="multi_modal_projector"):
        make_llava_med(model_path=str(source), device="cpu", seed=0)


def test_unexpected_weight_is_an_error(tmp_path: Path) -> None:
    source = build_original_llava(tmp_path / "src", "mistral")
    state = load_file(str(source / "model.safetensors"))
    state["model.image_newline"] = state["model.norm.weight"].clone()
    save_file(state, str(source / "model.safetensors"))
    with pytest.raises(HarnessError, match="model.image_newline"):
        convert(source, tmp_path / "out")


def test_pickle_source_needs_permission(tmp_path: Path) -> None:
    import torch

    source = build_original_llava(tmp_path / "src", "mistral")
    torch.save(load_file(str(source / "model.safetensors")), source / "pytorch_model.bin")
    (source / "model.safetensors").unlink()
    with pytest.raises(UsageError, match="allow-pickle"):
        convert(source, tmp_path / "out")
    out = convert(source, tmp_path / "out2", allow_pickle=True)
    assert (out / "model.safetensors").is_file()


def test_convert_command(tmp_path: Path) -> None:
    source = build_original_llava(tmp_path / "src", "qwen2")
    out = tmp_path / "converted"
    result = CliRunner().invoke(convert_command, [str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlavaForConditionalGeneration"]
    assert config["text_config"]["model_type"] == "qwen2"
    again = CliRunner().invoke(convert_command, [str(source), "--output", str(out)])
    # the CLI group turns this UsageError into one sentence and exit code 2
    assert isinstance(again.exception, UsageError) and "not empty" in str(again.exception)


def test_converted_features_differ_per_image(tmp_path: Path, images: list[Path]) -> None:
    source = build_original_llava(tmp_path / "src", "mistral")
    model = make_llava_med(model_path=str(source), device="cpu", seed=0)
    feats = model.encode_images(images)
    assert feats.shape[0] == len(images) and not np.allclose(feats[0], feats[2])
