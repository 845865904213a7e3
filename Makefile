# Two commands for a municipality IT person:  make run  /  make test
# Everything installs into .venv from the package index; no GPU, no other downloads.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test setup translations translations-extract lint format clean

run: setup
	$(BIN)/disaster-ai models assemble
	$(BIN)/disaster-ai init --sample yaizu
	$(BIN)/disaster-ai run

test: setup lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest

setup: $(STAMP) translations

$(STAMP): pyproject.toml plugins/hello_municipality/pyproject.toml plugins/jma/pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("disaster-ai needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q -e plugins/hello_municipality
	$(BIN)/python -m pip install -q -e plugins/jma
	# openai-whisper, the second engine: CPU torch 2.13.0 from the extra, then the package
	# itself without its own requirements (they would pull triton and a CUDA build).
	$(BIN)/python -m pip install -q -e '.[openai-whisper]'
	$(BIN)/python -m pip install -q --no-deps openai-whisper==20250625
	# transformers: the third Whisper engine and the local LLM client for notice polish.
	$(BIN)/python -m pip install -q -e '.[transformers]'
	touch $(STAMP)

translations: $(STAMP)
	$(BIN)/pybabel -q compile -d disaster_ai/translations

# Developers: re-extract messages after changing user-visible strings (rewrites the .pot and .po files).
translations-extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --add-comments=TRANSLATORS: --project=disaster-ai --copyright-holder="disaster-ai contributors" -o disaster_ai/translations/messages.pot disaster_ai plugins/jma/dai_jma
	$(BIN)/pybabel update -i disaster_ai/translations/messages.pot -d disaster_ai/translations --no-fuzzy-matching --ignore-obsolete

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
