"""The zero-shot candidate lists of the authors' ``ZS_classification.py``, in their order.

Order matters under the paper's matcher: the first candidate, in this order, whose
name occurs in the answer wins, and the prompt lists them in this order. Each list
is the ``targets`` of one experiment in ``get_experiment_setting`` (ZwQ803/MM-Skin
at 31d105c, ZS_classification.py, line numbers in ``CANDIDATE_SOURCES``), keyed by
the harness's dataset name. The spelling is theirs, including Dermnet's double
spaces ("Hair loss  alopecia ...").
"""

from __future__ import annotations

CANDIDATES: dict[str, tuple[str, ...]] = {
    "isic2019": (
        "Actinic Keratosis", "Basal Cell Carcinoma", "Benign Keratosis-like Lesions",
        "Dermatofibroma", "Melanoma", "Nevus", "Squamous Cell Carcinoma", "Vascular Lesions",
    ),
    "mskcc": (
        "AIMP", "acrochordon", "actinic keratosis", "angiokeratoma",
        "atypical melanocytic proliferation", "basal cell carcinoma", "cafe-au-lait macule",
        "dermatofibroma", "lentigo NOS", "lentigo simplex", "lichenoid keratosis", "melanoma",
        "neurofibroma", "nevus", "other", "scar", "seborrheic keratosis", "solar lentigo",
        "squamous cell carcinoma", "vascular lesion", "verruca",
    ),
    "pad-ufes-20": (
        "Actinic Keratosis", "Basal Cell Carcinoma", "Melanoma", "Nevus",
        "Seborrheic Keratosis", "Squamous Cell Carcinoma",
    ),
    "hiba": ("benign", "malignant"),
    "bcn20000": (
        "actinic keratosis", "basal cell carcinoma", "dermatofibroma", "melanoma",
        "melanoma metastasis", "nevus", "other", "scar", "seborrheic keratosis", "solar lentigo",
        "squamous cell carcinoma", "vascular lesion",
    ),
    "fitzpatrick17k": ("benign", "malignant", "non-neoplastic"),
    "ham10000": (
        "Actinic Keratoses", "Basal Cell Carcinoma", "Benign Keratosis", "Dermatofibroma",
        "Melanoma", "Nevus", "Vascular lesions",
    ),
    "dermnet": (
        "Acne and rosacea", "Actinic Keratosis Basal Cell Carcinoma and other Malignant Lesions",
        "Atopic dermatitis", "Bullous disease",
        "Cellulitis Impetigo and other Bacterial Infections", "Eczema",
        "Exanthems and Drug Eruptions", "Hair loss  alopecia and other hair diseases",
        "Herpes hpv and other stds", "Light Diseases and Disorders of Pigmentation",
        "Lupus and other Connective Tissue diseases", "Melanoma Skin Cancer Nevi and Moles",
        "Nail Fungus and other Nail Disease", "Poison ivy  and other contact dermatitis",
        "Psoriasis pictures Lichen Planus and related diseases",
        "Scabies Lyme Disease and other Infestations and Bites",
        "Seborrheic Keratoses and other Benign Tumors", "Systemic Disease",
        "Tinea Ringworm Candidiasis and other Fungal Infections", "Urticaria Hives",
        "Vascular Tumors", "Vasculitis", "Warts Molluscum and other Viral Infections",
    ),
    "patch16": ("nontumor", "tumor"),  # the authors' Patch16_2class experiment
    "ddi": ("Non-Malignant", "Malignant"),  # their DDI_2class experiment: Non-Malignant first
}

# Where each list stands in ZS_classification.py, and the experiment name it has there.
CANDIDATE_SOURCES: dict[str, tuple[str, str]] = {
    "isic2019": ("ISIC", "24-29"),
    "mskcc": ("MSKCC", "31-39"),
    "pad-ufes-20": ("PAD", "41-45"),
    "hiba": ("HIBA_2class", "54-57"),
    "bcn20000": ("BCN20000", "59-64"),
    "fitzpatrick17k": ("Fitzpatrick", "66-69"),
    "ham10000": ("HAM10000", "71-75"),
    "dermnet": ("Dermnet", "77-94"),
    "patch16": ("Patch16_2class", "107-110"),
    "ddi": ("DDI_2class", "140-143"),
}
