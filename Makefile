# Each target sets up what it needs on a fresh machine (a virtualenv in .venv), then runs.
PYTHON ?= python3
VENV ?= .venv
# CPU machines: pin PyTorch's CPU build. GPU machines: make install PIP_CONSTRAINTS=
PIP_CONSTRAINTS ?= -c constraints/cpu.txt

.PHONY: install smoke test test-fast benchmark clean browser

# The report test opens pages in a real headless Chromium (Debian's package); installed once if missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(VENV)/.installed: pyproject.toml constraints/cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install $(PIP_CONSTRAINTS) -e '.[test]'
	touch $@

install: $(VENV)/.installed browser

browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

smoke: install
	$(VENV)/bin/raylife submit suites/smoke.toml

test: install
	$(VENV)/bin/pytest

# The inner loop: the unit and CLI tests, no Ray (about a minute here); `make test` is the whole default run.
test-fast: install
	$(VENV)/bin/pytest tests/unit tests/cli

benchmark: install
	$(VENV)/bin/python benchmarks/smoke_wall.py

clean:
	rm -rf $(VENV) raylife-artifacts raylife.duckdb raylife.duckdb.wal
