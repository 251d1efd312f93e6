# One command to see it, one to test it. Both build .venv themselves.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo demo-ib2 test lint bench setup screenshot clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/find_python.sh
	@PYTHON=$$(bash scripts/find_python.sh) && echo "using $$PYTHON" && "$$PYTHON" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	bash scripts/system_packages.sh gui
	bash scripts/run_gui.sh $(VENV)/bin/kibo-console --demo

# The same, with the robot in Int-Ball2's own UDP format through ib2-bridge.
demo-ib2: $(STAMP)
	bash scripts/system_packages.sh gui
	bash scripts/demo_ib2.sh

test: $(STAMP)
	bash scripts/system_packages.sh test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest -q

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/kibo-console bench all

clean:
	rm -rf $(VENV)
