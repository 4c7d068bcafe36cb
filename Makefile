# Two commands: `make run` (set up + quickstart search) and `make test` (set up + lint + every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU torch wheel ships on these machines under /opt/wheels; use it when present.
PIP_FLAGS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
export WANDB_MODE ?= offline

.PHONY: run test lint pytest warm install install-dev clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[dev,tflm,timeseries]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(BIN)/python -m core.run $(ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check core plugins conf tests benchmarks hydra_plugins
	$(BIN)/ruff format --check core plugins tests benchmarks hydra_plugins
	$(BIN)/mypy

# BoTorch's log-EI fused kernel is compiled on first use (~40 s); do it once, outside any test's timing.
warm: $(VENV)/.installed-dev
	$(BIN)/python -m tests.warm_kernels

# tests/test_report_html.py renders report.html in headless Chromium (Debian's package); install it when missing
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing and not root: tests/test_report_html.py will skip its browser test"; fi; }

# Test files run in PYTEST_WORKERS processes (pytest-xdist; 0: in this one), each file's tests in one of them, and each
# with one torch/BLAS thread (tests/conftest.py): two processes with two threads each oversubscribe two cores.
PYTEST_WORKERS ?= 2
pytest: $(VENV)/.installed-dev warm chromium
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test: lint pytest

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache .mypy_cache .ruff_cache .hypothesis
