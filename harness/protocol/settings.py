"""Every setting of the MM-Skin protocols as data: its value, where the authors' code sets it,
and where the paper says it.

``paper`` is what the authors' released code does (ZwQ803/MM-Skin at ``AUTHORS_COMMIT``: the
code that produced Tables 3-5), wherever it is more precise than the paper's text or
disagrees with it. ``sound`` is the harness's alternative where that code does something
questionable; ``SAME`` where both protocols agree. ``source`` is ``file:lines`` in the
authors' repository (or in ``repo`` for the compared models' own code), and ``quote`` is
text that stands at those lines: ``tests/test_protocol.py`` checks every quote against the
authors' files. Nothing here imports the rest of the harness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.protocol.candidates import CANDIDATE_SOURCES, CANDIDATES

AUTHORS_REPO = "ZwQ803/MM-Skin"
AUTHORS_COMMIT = "31d105c01e6723aa2c052a03414f921a447ff196"
AUTHORS = f"{AUTHORS_REPO}@{AUTHORS_COMMIT[:7]}"
PROTOCOLS = ("paper", "sound")
DEFAULT_PROTOCOL = "paper"


class _Same:
    def __repr__(self) -> str:
        return "SAME"


SAME: Any = _Same()  # the sound protocol uses the paper's value


@dataclass(frozen=True)
class Setting:
    key: str  # dotted name, e.g. "zeroshot.decoding.temperature"
    paper: Any  # under --protocol paper: what the authors' code does
    source: str  # "file:lines" in ``repo``; "" where no code sets it
    quote: str  # text found at those lines (checked by the tests)
    section: str  # where the paper states it ("4.1", "Table 6"); "-" where it does not
    sound: Any = SAME  # under --protocol sound
    note: str = ""  # why sound differs, or where paper and code disagree
    repo: str = AUTHORS

    def value(self, protocol: str) -> Any:
        return self.paper if protocol == "paper" or self.sound is SAME else self.sound


ZS, VQA, SFT = "ZS_classification.py", "VQA_test.py", "SFT_classification.py"
FT, EVAL, CONV = "finetune_lora.sh", "utils/eval_help.py", "llava/conversation.py"
MM, TRAIN, TRAINER = "llava/mm_utils.py", "llava/train/train.py", "llava/train/llava_trainer.py"
GREEDY = "greedy (not sampled)"

# The decoding of each generation task, under transformers' argument names.
PAPER_DECODING: dict[str, dict[str, Any]] = {
    "zeroshot": {"do_sample": True, "temperature": 0.5, "top_p": 0.9, "num_beams": 5,
                 "min_new_tokens": 1, "max_new_tokens": 256},
    "vqa": {"do_sample": True, "temperature": 0.2, "top_p": 0.9, "num_beams": 5,
            "min_new_tokens": 20, "max_new_tokens": 256},
}
SOUND_DECODING: dict[str, dict[str, Any]] = {
    "zeroshot": {"do_sample": False, "num_beams": 1, "min_new_tokens": 0, "max_new_tokens": 64},
    "vqa": {"do_sample": False, "num_beams": 1, "min_new_tokens": 0, "max_new_tokens": 256},
}
_DECODING_SOURCES = {
    "zeroshot": {"do_sample": ("227", "do_sample=True"), "temperature": ("228,284", "default=0.5"),
                 "top_p": ("229,285", "default=0.9"), "num_beams": ("230,286", "default=5"),
                 "min_new_tokens": ("231", "min_new_tokens=1"),
                 "max_new_tokens": ("232", "max_new_tokens=256")},
    "vqa": {"do_sample": ("152", "do_sample=True"), "temperature": ("153,232", "default=0.2"),
            "top_p": ("154,233", "default=0.9"), "num_beams": ("155,234", "default=5"),
            "min_new_tokens": ("156", "min_new_tokens=20"),
            "max_new_tokens": ("157", "max_new_tokens=256")},
}
_SOUND_DECODING_NOTE = ("sound: deterministic greedy decoding, so a rerun gives the same answers "
                        "and model differences are not sampling noise")


def _decoding_settings() -> list[Setting]:
    out = []
    for kind, script in (("zeroshot", ZS), ("vqa", VQA)):
        for arg, value in PAPER_DECODING[kind].items():
            lines, quote = _DECODING_SOURCES[kind][arg]
            sound = SOUND_DECODING[kind].get(arg, GREEDY)
            out.append(Setting(f"{kind}.decoding.{arg}", value, f"{script}:{lines}", quote, "-",
                               sound=sound, note=_SOUND_DECODING_NOTE if sound != value else ""))
    return out


def _candidate_settings() -> list[Setting]:
    return [
        Setting(f"zeroshot.candidates.{ds}", CANDIDATES[ds], f"{ZS}:{lines}",
                f'"{experiment}"', "Appendix C",
                sound="the dataset's own vocabulary (its test labels, sorted)",
                note="the authors' list and order: the prompt lists them and the first-"
                     "substring matcher tries them in this order")
        for ds, (experiment, lines) in CANDIDATE_SOURCES.items()
    ]


SETTINGS: tuple[Setting, ...] = (
    # ---- zero-shot classification (Table 5)
    Setting("zeroshot.datasets", ("patch16", "pad-ufes-20", "ham10000"), "ZS_classify_test.sh:2-6",
            '"PAD"', "4.1, Table 5",
            note="section 4.1 names Dermnet, Table 5 and the script use PAD-UFES-20: the harness "
                 "follows the code that produced the table"),
    Setting("zeroshot.prompt", "This is a skin lesion image. From the following categories: "
            "{classes}, which one is the diagnosis?", f"{ZS}:200",
            "This is a skin lesion image. From the following categories: ", "Figure 5"),
    Setting("zeroshot.classes_separator", ", ", f"{ZS}:200", "', '.join(possible_diseases)",
            "Figure 5"),
    Setting("zeroshot.image_token", "<image>\\n before the question", f"{ZS}:210",
            "DEFAULT_IMAGE_TOKEN + '\\n' + question", "Figure 5"),
    *_decoding_settings(),
    Setting("zeroshot.matcher", "first candidate (list order) whose name, lower-cased, is a "
            "substring of the lower-cased answer", f"{ZS}:243-246",
            "if disease.lower() in predicted_answer.lower():", "3.3.2",
            sound="whole-word mentions, synonyms and number forms; negated mentions dropped; "
                  "two classes named = ambiguous (unmatched)",
            note="first-substring matching counts 'not melanoma' as melanoma and picks by list "
                 "order when two classes are named"),
    Setting("zeroshot.matcher.rewrite", ("actinic keratosis", "actinic keratoses"), f"{ZS}:242",
            'predicted_answer.replace("actinic keratosis", "actinic keratoses")', "-",
            sound=None,
            note="applied before matching, case-sensitively (str.replace): 'Actinic Keratosis' "
                 "is left as it is although the comment above the line speaks of case "
                 "conversion; on PAD-UFES-20, whose class is 'Actinic Keratosis', a lower-case "
                 "'actinic keratosis' answer is rewritten and then matches no class"),
    Setting("zeroshot.unmatched", "label -1, counted wrong", f"{ZS}:250-251",
            "predicted_label = -1", "-"),
    Setting("zeroshot.ground_truth", "one label drawn at random where a row lists several",
            f"{ZS}:156-159", "random.choice(category_list)", "-",
            note="the harness skips such rows with a reason instead; only MSKCC_test.csv has "
                 "any (3 of 259 rows), and no table of the paper uses MSKCC"),
    Setting("zeroshot.accuracy", "share of answers whose label equals the true one",
            f"{EVAL}:19", "accuracy_score(targets, preds)", "4.1"),
    Setting("zeroshot.precision", "precision_macro_union: scikit-learn's macro precision over "
            "every label among the true and predicted ones, the unmatched -1 included",
            f"{EVAL}:57", "precision_score(targets, preds, average='macro', zero_division=0.)",
            "Table 5", sound="precision_macro: macro precision over the true labels' classes",
            note="the unmatched label always has precision 0, so the authors' average falls "
                 "with every unmatched answer; both are reported, the paper's under its column"),
    *_candidate_settings(),
    # ---- open-ended VQA (Table 3)
    Setting("vqa.prompt", "the question, after <image>\\n", f"{VQA}:129",
            "DEFAULT_IMAGE_TOKEN + '\\n' + question", "3.3.2"),
    Setting("vqa.stopping", "end-of-sequence only (the keyword criterion is built, never passed)",
            f"{VQA}:144-160", "stopping_criteria = KeywordsStoppingCriteria", "-"),
    Setting("vqa.bleu4", "corpus BLEU, whitespace tokens, weights 0.25 x 4", f"{VQA}:30-31",
            "weights=(0.25, 0.25, 0.25, 0.25)", "4.1"),
    Setting("vqa.meteor", "mean sentence METEOR on whitespace tokens", f"{VQA}:45-47",
            "meteor_score([truth.split()], pred.split())", "4.1"),
    Setting("vqa.rougeL", "ROUGE-L F of the rouge package, averaged", f"{VQA}:38-39,198",
            "rouge.get_scores(predictions, ground_truths, avg=True)", "4.1"),
    Setting("vqa.bertscore", "BERTScore F1 with bert-base-uncased", f"{VQA}:52-54",
            "bert-base-uncased", "4.1"),
    Setting("vqa.recall", "share of the reference's distinct words found in the answer",
            f"{VQA}:72-75", "len(pred_tokens.intersection(truth_tokens)) / len(truth_tokens)",
            "4.1"),
    # ---- conversation formats (every task)
    Setting("conversation.llava-med", "mistral_instruct: <s>[INST] <image>\\nQ [/INST]",
            f"{ZS}:289; {VQA}:219; {CONV}:350-359", 'default="mistral_instruct"', "-",
            note="the authors' default for their LLaVA-Med-architecture models: SkinVL and "
                 "LLaVA-Med"),
    Setting("conversation.llava-next", "v1: 'A chat between a curious user ...' USER: <image>\\nQ "
            "ASSISTANT:", f"{VQA}:228; {CONV}:242-244", "A chat between a curious user", "-",
            note="VQA_test.py's LLaVA-1.6 settings name conv-mode v1, whose system sentence says "
                 "'user' (LLaVA's llava_v1 says 'human')"),
    Setting("conversation.huatuogpt-vision", "<|user|>\\n<image>\\nQ\\n<|assistant|>\\n",
            "cli.py:151-152", "<|user|>\\n{h}\\n<|assistant|>\\n", "4.2",
            repo="FreedomIntelligence/HuatuoGPT-Vision@a6476ac",
            note="the authors publish no HuatuoGPT script; the paper sets every model 'according "
                 "to their respective open-source codes'"),
    Setting("conversation.internvl", "internvl2_5: ChatML with InternVL's system message",
            "internvl_chat/internvl/conversation.py:395-401", "name='internvl2_5'", "4.2",
            repo="OpenGVLab/InternVL@2410d1d", note="as for HuatuoGPT"),
    Setting("conversation.qwen2.5-vl", "the checkpoint's own chat template", "", "", "4.2",
            note="as for HuatuoGPT"),
    # ---- image preprocessing at evaluation (every task)
    Setting("image.skinvl", "crop", f"{MM}:175-178", "# image = expand2square(", "-",
            sound="pad",
            note="the authors' process_images has expand2square commented out, so an "
                 "'image_aspect_ratio: pad' model is resized and centre-cropped by the CLIP "
                 "processor; sound pads to a square with the processor's mean colour, as the "
                 "models were trained (train.py:705-719); -M square=pad|crop overrides"),
    Setting("image.llava-med", "crop", f"{MM}:175-178", "# image = expand2square(", "-",
            sound="pad",
            note="LLaVA-Med went through the same scripts (their defaults are LLaVA-Med's "
                 "architecture and conversation), hence the same cropping"),
    Setting("image.huatuogpt-vision", "pad", "cli.py:214-227", "expand2square(image,", "-",
            repo="FreedomIntelligence/HuatuoGPT-Vision@a6476ac"),
    # ---- linear probe (Table 4)
    Setting("probe.datasets", ("ham10000", "ddi", "dermnet", "fitzpatrick17k", "hiba",
                               "isic2019", "pad-ufes-20", "patch16"),
            "SFT_classify_test.sh:8-17", '"Patch16_2class"', "4.3, Table 4"),
    Setting("probe.features", "encode_images: the projector's output, mean over image tokens",
            f"{SFT}:247,275", "np.mean(features, axis=1)", "3.3.2"),
    Setting("probe.classifier", "StandardScaler + LogisticRegression(max_iter=1000)",
            f"{SFT}:284-287", "max_iter=1000", "3.3.2"),
    Setting("probe.C_grid", "10 ** linspace(-5, 1, 10)", f"{SFT}:289",
            "10**np.linspace(-5, 1, 10)", "3.3.2"),
    Setting("probe.cv_scoring", "roc_auc_ovr", f"{SFT}:319", "scoring='roc_auc_ovr'", "3.3.2"),
    Setting("probe.folds", "plain", f"{SFT}:309", "StratifiedKFold(n_splits=5)", "3.3.2",
            sound="grouped",
            note="plain: unshuffled StratifiedKFold(5) over the training images in shuffled "
                 "order (their DataLoader shuffles, SFT_classification.py:229), then the "
                 "validation images; grouped: shuffled StratifiedGroupKFold by lesion or "
                 "patient id, so no lesion sits on both sides of a fold"),
    Setting("probe.grid_on", "train+val", f"{SFT}:319-320",
            "np.concatenate((train_X, val_X))", "-", sound="train",
            note="the paper says the grid search runs on the training set; the code adds the "
                 "validation images"),
    Setting("probe.refit_on", "train", f"{SFT}:322-325", "pipe.fit(train_X, train_Y)", "3.3.2"),
    Setting("probe.val", "random", f"{SFT}:202,213-219", "val_split=0.2", "4.3",
            sound="dataset",
            note="random: a seeded random 20% of the training images (int(0.2 n), as "
                 "random_split) unless the authors publish a validation file (Patch16); "
                 "dataset: the adapter's seeded 3:1 split, grouped by lesion or patient"),
    Setting("probe.patch16_fraction", 0.1, f"{SFT}:221-227", "len(train_dataset) * 0.1", "4.3"),
    Setting("probe.binary_threshold", 0.5, f"{SFT}:332-334", "preds >= 0.5", "-"),
    Setting("probe.recall", "scikit-learn macro recall", f"{EVAL}:58",
            "recall_score(targets, preds, average='macro', zero_division=0.)", "Table 4"),
    # ---- data splits
    Setting("data.pad-ufes-20.split", "test = ceil(0.2 n) = 460 of 2,298 images", "", "",
            "4.1, Tables 4-6",
            note="no split file is published; every PAD-UFES-20 accuracy in Tables 4 and 5 is "
                 "k/460 (none is k/461), Table 6's 1,839/461 count each file's header row "
                 "(1,838 + 460 = 2,298); the harness holds out exactly 460 images, stratified "
                 "by diagnosis and grouped by patient. Section 4.3 speaks of 6:2:2 for the "
                 "probe, yet Table 4's accuracies are k/460 too: the code's 20% validation "
                 "draw from the 1,838 makes the 6:2 (SFT_classification.py:202-219)"),
    # ---- training (finetune_lora.sh)
    Setting("train.lora_rank", 128, f"{FT}:4", "--lora_r 128", "4.1"),
    Setting("train.lora_alpha", 64, f"{FT}:4", "--lora_alpha 64", "4.1"),
    Setting("train.lora_dropout", 0.05, f"{TRAIN}:108", "lora_dropout: float = 0.05", "-"),
    Setting("train.lora_targets", "every linear layer of the language model",
            f"{TRAIN}:169-182", "multimodal_keywords = ['mm_projector', 'vision_tower'", "3.3.1"),
    Setting("train.projector_trained", True, "llava/model/llava_arch.py:88-90",
            "# In case it is frozen by LoRA", "3.3.1"),
    Setting("train.mm_projector_lr", 2e-5, f"{FT}:4", "--mm_projector_lr 2e-5", "-",
            note="a separate learning rate for the projector (llava_trainer.py:165-194)"),
    Setting("train.deepspeed", "zero3", f"{FT}:5", "zero3.json", "4.1",
            note="section 4.1 says FSDP; the script runs DeepSpeed ZeRO-3"),
    Setting("train.conversation", "v1", f"{FT}:7; {TRAIN}:910-914", "--version v1", "-",
            note="trained with vicuna_v1 ('USER: ... ASSISTANT: ...</s>'), evaluated with "
                 "mistral_instruct: the authors' own mismatch, kept"),
    Setting("train.image_aspect_ratio", "pad", f"{FT}:14; {TRAIN}:705-719",
            "--image_aspect_ratio pad", "-"),
    Setting("train.group_by_modality_length", True, f"{FT}:15", "--group_by_modality_length True",
            "-"),
    Setting("train.bf16", True, f"{FT}:16", "--bf16 True", "4.1"),
    Setting("train.epochs", 1, f"{FT}:18", "--num_train_epochs 1", "-"),
    Setting("train.per_device_batch", 16, f"{FT}:19", "--per_device_train_batch_size 16", "4.1"),
    Setting("train.grad_accum", 1, f"{FT}:21", "--gradient_accumulation_steps 1", "-"),
    Setting("train.save_steps", 100, f"{FT}:24", "--save_steps 100", "4.1"),
    Setting("train.save_total_limit", 3, f"{FT}:25", "--save_total_limit 3", "-"),
    Setting("train.learning_rate", 5e-5, f"{FT}:26", "--learning_rate 5e-5", "4.1"),
    Setting("train.weight_decay", 0.01, f"{FT}:27", "--weight_decay 0.01", "-"),
    Setting("train.warmup_ratio", 0.02, f"{FT}:28", "--warmup_ratio 0.02", "-"),
    Setting("train.lr_scheduler", "cosine", f"{FT}:29", '--lr_scheduler_type "cosine"', "4.1"),
    Setting("train.logging_steps", 1, f"{FT}:30", "--logging_steps 1", "-"),
    Setting("train.tf32", True, f"{FT}:31", "--tf32 True", "-"),
    Setting("train.max_length", 2048, f"{FT}:32", "--model_max_length 2048", "-"),
    Setting("train.gradient_checkpointing", True, f"{FT}:33", "--gradient_checkpointing True",
            "4.1"),
    Setting("train.dataloader_workers", 4, f"{FT}:34", "--dataloader_num_workers 4", "-"),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}

# Table 6's training counts. Where a split file exists, each of Table 6's counts is that
# file's row count plus one (e.g. HAM10000: 1,511 rows, "1512"): the header was counted,
# so the images are one fewer than printed. PAD-UFES-20: 1,838 + 460 = 2,298 images.
PAPER_TRAIN_IMAGES: dict[str, int] = {
    "scin": 10407, "ddi": 525, "fitzpatrick17k": 12772, "pad-ufes-20": 1839, "isic2019": 17732,
    "bcn20000": 15157, "hiba": 1309, "mskcc": 1037, "patch16": 88972, "mm-skin": 21807,
}
PAPER_MIXTURE_TOTALS = {"skinvl-pub": "149k (section 3.3)", "skinvl-pubmm": "171.6k (section 3.3)",
                        "skinvl-mm": "21.8k (section 3.3)"}


