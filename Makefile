# Two commands on a fresh machine with only Python 3.11:
#   make run    the daily batch over data_samples/ (push list, 免申即享 list, report under out/)
#   make test   ruff + the whole pytest suite
# Both create or reuse the project's own .venv; nothing relies on what is already installed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DATE   ?= 2025-07-01
OUT    ?= out
PYTEST_WORKERS ?= 2

.PHONY: run test lint venv bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,spark]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	MLFLOW_DISABLE_TELEMETRY=true $(BIN)/quanhuiqi push --date $(DATE) --data data_samples --out $(OUT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

test: $(STAMP) lint
	MLFLOW_DISABLE_TELEMETRY=true $(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
