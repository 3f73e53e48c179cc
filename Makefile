# Each target sets up what it needs on a fresh machine (a virtualenv in .venv), then runs.
PYTHON ?= python3
VENV ?= .venv
# CPU machines: pin PyTorch's CPU build. GPU machines: make install PIP_CONSTRAINTS=
PIP_CONSTRAINTS ?= -c constraints/cpu.txt

.PHONY: install smoke test benchmark clean

$(VENV)/.installed: pyproject.toml constraints/cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install $(PIP_CONSTRAINTS) -e '.[test]'
	touch $@

install: $(VENV)/.installed

smoke: install
	$(VENV)/bin/raylife submit suites/smoke.toml

test: install
	$(VENV)/bin/pytest

benchmark: install
	$(VENV)/bin/python benchmarks/smoke_wall.py

clean:
	rm -rf $(VENV) raylife-artifacts raylife.duckdb raylife.duckdb.wal
