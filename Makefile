# One entry point for people and CI. `make up` runs the platform, `make test` the test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv

.PHONY: setup system portal up test bench clean

setup: $(VENV)/.installed system portal/dist/index.html

# bubblewrap sandboxes model workers; without it they run unsandboxed (with a warning)
system:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; \
	  else echo "note: install bubblewrap (apt-get install bubblewrap) to sandbox model workers"; fi; }

# the portal is built once here; running the platform needs no Node.js
portal/dist/index.html: portal/package.json portal/package-lock.json $(shell find portal/src portal/index.html -type f 2>/dev/null)
	@command -v npm >/dev/null || { echo "error: Node.js 20+ and npm are needed to build the portal"; exit 1; }
	cd portal && npm ci --no-audit --no-fund --loglevel=error && npm run build

portal: portal/dist/index.html

$(VENV)/.installed: pyproject.toml
	@command -v python3 >/dev/null || { echo "error: python3 (3.11+) is required"; exit 1; }
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(UV) pip install --quiet --python $(PY) -e '.[test]'
	@touch $@

up: setup
	$(VENV)/bin/feather up

test: setup
	cd portal && npm test && npm run size
	$(PY) -m pytest

bench: setup
	$(PY) bench/run_latency.py

clean:
	rm -rf $(VENV) .pytest_cache
