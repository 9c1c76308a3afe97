# One entry point for people and CI. `make up` runs the platform, `make test` the test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv

.PHONY: setup system portal up test bench images clean

setup: $(VENV)/.installed system portal/dist/index.html

# Model workers run in a bubblewrap sandbox under a seccomp filter (compiled with libseccomp's
# Python bindings), as an unprivileged user that owns nothing. Without these the executor refuses runs.
SYSTEM_PACKAGES := bubblewrap python3-seccomp util-linux
WORKER_USER ?= feather-worker
system:
	@missing=""; command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	  /usr/bin/python3 -c "import seccomp" 2>/dev/null || missing="$$missing python3-seccomp"; \
	  command -v setpriv >/dev/null || missing="$$missing util-linux"; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	    else echo "note: install$$missing (apt-get install$$missing): the executor runs no model without them"; fi; \
	  fi
	@if [ "$$(id -u)" = 0 ] && ! id -u $(WORKER_USER) >/dev/null 2>&1; then \
	  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group $(WORKER_USER); \
	fi

# the portal is built once here; running the platform needs no Node.js
portal/dist/index.html: portal/package.json portal/package-lock.json $(shell find portal/src portal/index.html -type f 2>/dev/null)
	@command -v npm >/dev/null || { echo "error: Node.js 20+ and npm are needed to build the portal"; exit 1; }
	cd portal && npm ci --no-audit --no-fund --loglevel=error && npm run build

portal: portal/dist/index.html

$(VENV)/.installed: pyproject.toml sdk/pyproject.toml
	@command -v python3 >/dev/null || { echo "error: python3 (3.11+) is required"; exit 1; }
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	@# two distributions: the SDK (feather, from sdk/) and the services (feather-platform), which needs it
	$(UV) pip install --quiet --python $(PY) -e ./sdk -e '.[test]'
	@touch $@

up: setup
	$(VENV)/bin/feather up

test: setup
	cd portal && npm test && npm run size
	$(PY) -m pytest

bench: setup
	$(PY) bench/run_latency.py

# The images of deploy/docker: the services (one for all five) and the base of models' Lambda
# images. BuildKit (docker buildx) reads each Dockerfile's own .dockerignore beside it.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE_PREFIX ?=
images:
	@command -v docker >/dev/null 2>&1 || { echo "error: make images needs Docker (docker with buildx), and there is no docker command here"; exit 1; }
	@docker buildx version >/dev/null 2>&1 || { echo "error: make images needs docker buildx (BuildKit), which this Docker lacks"; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "error: make images cannot reach a Docker daemon (docker info fails)"; exit 1; }
	docker buildx build --load -f deploy/docker/services.Dockerfile -t $(IMAGE_PREFIX)feather-services:$(VERSION) .
	docker buildx build --load -f deploy/docker/lambda-model.Dockerfile -t $(IMAGE_PREFIX)feather-lambda-model:$(VERSION) .

clean:
	rm -rf $(VENV) .pytest_cache
