# Two commands do all set-up: `make demo` (the main job) and `make test` (the test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench-baselines clean

# The `cpu` extra pins torch==2.13.0 (the CPU wheel here); on a GPU box install your CUDA
# torch first and run `pip install -e '.[dev]'` instead.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[cpu,serve,stack,dev]'
	touch $(STAMP)

install: $(STAMP)

# Baselines (and SASRec's embeddings), then semantic IDs for every item and user.
demo: $(STAMP)
	$(BIN)/genrec baselines --dataset synthetic --epochs 40
	$(BIN)/genrec tokenize --dataset synthetic

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The figures in reports/baselines.* (Beauty was trained on an H100; see the report's rows).
bench-baselines: $(STAMP)
	$(BIN)/genrec baselines -d beauty -d instruments -d scientific -d ml-100k -d synthetic \
		--report reports/baselines.json --no-progress

clean:
	rm -rf $(VENV) artifacts .pytest_cache .ruff_cache
