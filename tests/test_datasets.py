"""Dataset adapters against the real metadata and the paper's real split files."""

from __future__ import annotations

import ast
import csv
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from datasets_helpers import REPO, linked_root, shared_or_skip, write_image

from harness.datasets import adapter, adapters, splitfiles
from harness.datasets.common import Skips, seeded_split
from harness.errors import DataError

# Rows of the paper's split files. Table 6 of the paper prints each plus one (it counts
# the header line: HAM10000 1512, DDI 133, ...); these are the data rows.
TEST_ROWS = {"ham10000": 1511, "isic2019": 7600, "bcn20000": 3790, "hiba": 327,
             "fitzpatrick17k": 3193, "ddi": 132, "dermnet": 4002, "patch16": 28039}
SPLIT_FILES = {"ham10000": "HAM10000_test.csv", "isic2019": "ISIC_test.csv",
               "bcn20000": "BCN20000_test.csv", "hiba": "HIBA_2class_test.csv",
               "mskcc": "MSKCC_test.csv", "fitzpatrick17k": "Fitzpatrick_test.csv",
               "ddi": "DDI_2class_test.csv", "dermnet": "Dermnet_test.csv",
               "patch16": "Patch16_2class_test.csv"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return linked_root(tmp_path_factory.mktemp("data-root"))


def test_ham10000_test_split_matches_published_counts(root: Path) -> None:
    test = adapter("ham10000").load(root, "test")
    assert len(test) == 1511 and not test.skipped
    counts = Counter(s.label for s in test)
    assert counts["Nevus"] == 908 and counts["Melanoma"] == 171 and len(counts) == 7
    s = test[0]
    assert s.id == "ISIC_0034524" and s.modality == "dermoscopy" and s.split == "test"
    assert s.image == root / "HAM10000/ISIC2018_Task3_Test_Images/ISIC_0034524.jpg"
    assert s.meta["row"] == 2 and s.meta["source_file"].endswith("HAM10000_test.csv")


@pytest.mark.parametrize("name", sorted(TEST_ROWS))
def test_test_split_rows(root: Path, name: str) -> None:
    loaded = adapter(name).load(root, "test")
    assert len(loaded) == TEST_ROWS[name] and loaded.skipped == []
    assert len({s.id for s in loaded}) == len(loaded)


def test_mskcc_rows_without_label_are_skipped_and_named(root: Path) -> None:
    loaded = adapter("mskcc").load(root, "test")
    assert len(loaded) == 256 and len(loaded.skipped) == 3  # 259 rows, 3 with categories []
    assert all("MSKCC_test.csv, row " in m and "found 0" in m for m in loaded.skipped)


@pytest.mark.parametrize("name", sorted(SPLIT_FILES))
def test_vocabulary_is_the_split_files_categories_sorted(name: str) -> None:
    shared = shared_or_skip()
    found: set[str] = set()
    with open(shared / "mmskin-splits/classification" / SPLIT_FILES[name], newline="") as fh:
        for row in csv.DictReader(fh):
            found.update(ast.literal_eval(row["categories"]))
    assert adapter(name).classes == tuple(sorted(found))


def test_ham10000_train_is_the_official_metadata(root: Path) -> None:
    train = adapter("ham10000").load(root, "train")
    assert len(train) == 10015 and not train.skipped
    assert Counter(s.label for s in train)["Nevus"] == 6705
    s = next(x for x in train if x.id == "ISIC_0027419")
    assert s.meta["lesion_id"] == "HAM_0000118" and s.meta["age"] == 80 and s.meta["sex"] == "male"
    val = adapter("ham10000").load(root, "val")  # official validation file absent: said, not faked
    assert len(val) == 0 and val.skipped == [] and "not found" in val.notes[0]


def test_isic2019_train_val_are_ground_truth_minus_paper_test(root: Path) -> None:
    a = adapter("isic2019")
    train, val, test = (a.load(root, s) for s in ("train", "val", "test"))
    assert len(train) + len(val) == 25331 - 7600  # Table 6: 17,732 (header counted)
    ids = [{s.id for s in x} for x in (train, val, test)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert abs(len(val) / (len(train) + len(val)) - 0.25) < 0.01
    # The paper's test labels agree with the official one-hot ground truth.
    gt = {s.id: s.label for s in a.pool(root, Skips())}
    assert all(gt[s.id] == s.label for s in test)


def test_fitzpatrick_and_ddi_carry_skin_type(root: Path) -> None:
    fitz = adapter("fitzpatrick17k")
    test = fitz.load(root, "test")
    assert sum(1 for s in test if s.meta.get("fitzpatrick") in range(1, 7)) > 3000
    assert len(fitz.load(root, "train")) + len(fitz.load(root, "val")) == 16577 - 3193
    ddi = adapter("ddi")
    t = ddi.load(root, "test")
    assert {s.meta["fitzpatrick"] for s in t} <= {"I-II", "III-IV", "V-VI"}
    # This copy lacks DDI_ID 8, 54, 55: 653 rows, 132 of them test.
    assert len(ddi.load(root, "train")) + len(ddi.load(root, "val")) == 653 - 132


def test_pad_seeded_split_is_grouped_stratified_and_stable(root: Path) -> None:
    a = adapter("pad-ufes-20")
    parts = {s: a.load(root, s) for s in ("train", "val", "test")}
    assert sum(len(p) for p in parts.values()) == 2298
    patients = {s: {x.meta["patient_id"] for x in p} for s, p in parts.items()}
    assert not (patients["train"] & patients["test"]) and not (patients["val"] & patients["test"])
    assert not (patients["train"] & patients["val"])
    assert len(parts["test"]) == 460  # the paper's n (8:2; tests/test_protocol.py)
    assert {x.label for x in parts["test"]} == set(a.classes)
    again = adapter("pad-ufes-20").load(root, "test")
    assert [s.id for s in again] == [s.id for s in parts["test"]]
    assert parts["test"][0].meta["split_method"].startswith(
        "seeded-stratified-holdout(seed=0,ratio=8:2,n=460")
    assert parts["train"][0].meta["split_method"].startswith("seeded-stratified(seed=0")
    m = a.manifest(root)
    assert m["splits"]["test"]["n"] == len(parts["test"]) and len(
        m["splits"]["test"]["ids_sha256"]) == 64


def test_seeded_split_does_not_depend_on_input_order() -> None:
    items = [(f"i{k}", "ab"[k % 2], f"g{k // 3}") for k in range(300)]
    one = seeded_split(items, {"train": 6, "val": 2, "test": 2})
    two = seeded_split(list(reversed(items)), {"train": 6, "val": 2, "test": 2})
    assert one == two
    assert Counter(one.values())["test"] in range(54, 67)
    groups: dict[str, set[str]] = {}
    for id_, _, g in items:
        groups.setdefault(g, set()).add(one[id_])
    assert all(len(v) == 1 for v in groups.values())


def test_mmskin_authors_test_file(root: Path) -> None:
    loaded = adapter("mm-skin").load(root, "test")
    assert len(loaded) == 5452 and not loaded.skipped  # DESIGN/paper: 5,452 QA pairs
    assert len({s.id for s in loaded}) == 5452
    assert {s.modality for s in loaded} == {None}  # the authors' file has no modality column
    assert any("no modality" in n for n in loaded.notes)
    assert sum("same image and text" in n for n in loaded.notes) == 3
    s = loaded[0]
    assert s.image == root / "MM-Skin/dataset/bk5_630.png" and s.question and s.answer


def test_mmskin_modality_mapping_file(root: Path, tmp_path: Path) -> None:
    shared = shared_or_skip()
    (tmp_path / "mmskin-splits").symlink_to(shared / "mmskin-splits")
    (tmp_path / "MM-Skin").mkdir()
    (tmp_path / "MM-Skin/modality.csv").write_text(
        "image,modality\ndataset/bk5_630.png,Dermoscopic\nbk3_c18_12.png,pathology\n")
    loaded = adapter("mm-skin").load(tmp_path, "test")
    by_image = {s.image.name: s.modality for s in loaded}
    assert by_image["bk5_630.png"] == "dermoscopy" and by_image["bk3_c18_12.png"] == "pathology"


def test_mmskin_builder_layout_and_caption_subset(tmp_path: Path) -> None:
    base = tmp_path / "MM-Skin"
    for split in ("train", "test"):
        (base / f"Dataframe/{split}/vqa").mkdir(parents=True)
        (base / f"Dataframe/{split}/caption").mkdir(parents=True)
        (base / f"Dataframe/{split}/vqa/MM-Skin_{split}.csv").write_text(
            "image,question,answer,modality\n"
            f"images/{split}1.png,What colour?,Brown.,clinical\n"
            f"images/{split}1.png,Raised?,\"No, flat.\",clinical\n"
            f"images/{split}2.png,What tissue?,Dermis.,pathology\n"
            f"../../etc/{split}.png,Escape?,Yes.,clinical\n"
            f"images/{split}3.png,Kind?,X.,x-ray\n")
        (base / f"Dataframe/{split}/caption/MM-Skin_{split}.csv").write_text(
            "image,caption,modality,age,sex\n"
            f"images/{split}1.png,A brown macule.,clinical,45,F\n"
            f"images/{split}2.png,Dermis with nests.,pathology,,\n")
    vqa = adapter("mm-skin").load(tmp_path, "train")
    assert [s.id for s in vqa] == ["images/train1.png#1", "images/train1.png#2",
                                   "images/train2.png#1"]
    assert [s.modality for s in vqa] == ["clinical", "clinical", "pathology"]
    assert len(vqa.skipped) == 2
    assert "row 5" in vqa.skipped[0] and "escapes the data root" in vqa.skipped[0]
    assert "row 6" in vqa.skipped[1] and "x-ray" in vqa.skipped[1]
    cap = adapter("mm-skin-caption").load(tmp_path, "test")
    assert [(s.question, s.answer, s.modality) for s in cap] == [
        ("Describe the image.", "A brown macule.", "clinical"),
        ("Describe the image.", "Dermis with nests.", "pathology")]
    assert cap[0].meta["age"] == 45 and cap[0].meta["sex"] == "female"


def _split_root(tmp: Path, body: str, header: str = "image,atributes,categories") -> Path:
    (tmp / "mmskin-splits/classification").mkdir(parents=True)
    (tmp / "mmskin-splits/classification/DDI_2class_test.csv").write_text(f"{header}\n{body}")
    return tmp


@pytest.fixture
def modified_splits_allowed() -> Iterator[None]:
    """The hand-written split files below are not the paper's: read them as --allow-modified-splits
    would (the refusal itself is tested in tests/reliability/test_split_pins.py)."""
    with splitfiles.allowing_modified():
        yield


@pytest.mark.usefixtures("modified_splits_allowed")
def test_bad_rows_are_skipped_with_file_and_row(tmp_path: Path) -> None:
    root = _split_root(tmp_path, (
        "DDI/000001.png,[],['Malignant']\n"
        "DDI/000002.png,[],['Cancerous']\n"          # outside the vocabulary
        "../outside/000003.png,[],['Malignant']\n"   # escapes the data root
        "/abs/000004.png,[],['Malignant']\n"         # absolute
        "DDI/000001.png,[],['Non-Malignant']\n"      # duplicate id
        "DDI/000006.png,[],not-a-list\n"))
    loaded = adapter("ddi").load(root, "test")
    assert [s.id for s in loaded] == ["000001"]
    msgs = loaded.skipped
    assert len(msgs) == 5
    for row, words in [(3, "Cancerous"), (4, "escapes the data root"), (5, "absolute"),
                       (6, "duplicate id '000001'"), (7, "not a list")]:
        assert any(f"DDI_2class_test.csv, row {row}:" in m and words in m for m in msgs), row


@pytest.mark.usefixtures("modified_splits_allowed")
def test_missing_column_and_missing_file_are_one_sentence(tmp_path: Path) -> None:
    root = _split_root(tmp_path, "DDI/000001.png,[]\n", header="image,atributes")
    with pytest.raises(DataError, match=r"DDI_2class_test.csv, row 1: missing column\(s\) "
                                        r"categories"):
        adapter("ddi").load(root, "test")
    with pytest.raises(DataError, match="HIBA_2class_test.csv is missing; run `harness data "
                                        "fetch-splits"):
        adapter("hiba").load(root, "test")


def test_publisher_metadata_bad_values(tmp_path: Path) -> None:
    (tmp_path / "HAM10000").mkdir()
    (tmp_path / "HAM10000/HAM10000_metadata.csv").write_text(
        "lesion_id,image_id,dx,dx_type,age,sex,localization\n"
        "HAM_1,ISIC_1,mel,histo,50.0,male,back\n"
        "HAM_2,ISIC_2,xyz,histo,50.0,male,back\n"
        "HAM_3,../ISIC_3,nv,histo,,female,back\n"
        "HAM_1,ISIC_1,mel,histo,50.0,male,back\n")
    train = adapter("ham10000").load(tmp_path, "train")
    assert [s.id for s in train] == ["ISIC_1"] and len(train.skipped) == 3
    assert "row 3: dx 'xyz'" in train.skipped[0] and "row 4: image_id '../ISIC_3'" in \
        train.skipped[1] and "row 5: duplicate id 'ISIC_1'" in train.skipped[2]


def test_dermnet_and_patch16_train_from_class_folders(tmp_path: Path) -> None:
    shared = shared_or_skip()
    (tmp_path / "mmskin-splits").symlink_to(shared / "mmskin-splits")
    write_image(tmp_path / "Dermnet/train/Eczema Photos/a.jpg", 1)
    write_image(tmp_path / "Dermnet/train/Vasculitis Photos/a.jpg", 2)
    write_image(tmp_path / "Dermnet/train/Not A Class/b.jpg", 3)
    d = adapter("dermnet")
    both = list(d.load(tmp_path, "train")) + list(d.load(tmp_path, "val"))
    assert sorted((s.id, s.label) for s in both) == [
        ("train/Eczema Photos/a.jpg", "Eczema"), ("train/Vasculitis Photos/a.jpg", "Vasculitis")]
    assert "Not A Class" in d.load(tmp_path, "train").skipped[0]
    # Patch16: a file named in the paper's test list is not training data.
    test_file = "nontumor_skin_necrosis_necrosis_ws_92_174.jpg"
    write_image(tmp_path / "Patch16/nontumor_skin_necrosis_necrosis" / test_file, 4)
    write_image(tmp_path / "Patch16/tumor_skin_epithelial_bcc/new_1.jpg", 5)
    p = adapter("patch16")
    train = p.load(tmp_path, "train")
    assert [(s.id, s.label) for s in train] == [("new_1", "tumor")]
    assert len(p.load(tmp_path, "val")) == 12354


def test_scin_top_weighted_condition(tmp_path: Path) -> None:
    base = tmp_path / "SCIN/dataset"
    base.mkdir(parents=True)
    (base / "scin_cases.csv").write_text(
        "case_id,image_1_path,image_2_path,image_3_path,sex_at_birth,age_group,"
        "fitzpatrick_skin_type\n"
        "1,dataset/images/a.png,dataset/images/b.png,,FEMALE,AGE_30_TO_39,FST2\n"
        "2,dataset/images/c.png,,,MALE,AGE_18_TO_29,\n")
    (base / "scin_labels.csv").write_text(
        "case_id,weighted_skin_condition_label\n"
        "1,\"{'Eczema': 0.6, 'Psoriasis': 0.4}\"\n2,\n")
    loaded = adapter("scin").load(tmp_path, "train")
    assert [(s.id, s.label, s.meta["sex"]) for s in loaded] == [
        ("a", "Eczema", "female"), ("b", "Eczema", "female")]
    assert len(loaded.skipped) == 1 and "case 2 has no dermatologist label" in loaded.skipped[0]


def test_registered_names_and_no_torch_on_import() -> None:
    code = ("import sys, harness\n"
            "from harness.plugin_manager import get_registries\n"
            "r = get_registries().datasets\n"
            "names = ['ham10000','isic2019','bcn20000','hiba','mskcc','pad-ufes-20',"
            "'fitzpatrick17k','ddi','dermnet','patch16','scin','mm-skin','mm-skin-caption',"
            "'pad','fitzpatrick','isic']\n"
            "print(all(n in r for n in names), 'torch' in sys.modules,"
            " r.get('patch16').extra['probe_subsample'], r.get('ham10000').extra['group_key'])\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split() == ["True", "False", "0.1", "lesion_id"], out.stderr
    assert len(adapters()) == 16  # 13 classification and VQA sets + DermaVQA iiyi, reddit, MAGIC
