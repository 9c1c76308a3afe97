# syntax=docker/dockerfile:1.7
# One image for the five services: `python -m services.<name>` (the Deployments pass the name).
# Built from the repository root: docker build -f deploy/docker/services.Dockerfile .  (make images)
ARG PYTHON_VERSION=3.11

# --- the portal, built once; the gateway serves its dist/ and needs no Node.js at run time
FROM node:20-bookworm-slim AS portal
WORKDIR /src/portal
COPY portal/package.json portal/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY portal/ ./
RUN npm run build

# --- the Python environment: the SDK (./sdk) and the services (.), compiled to bytecode,
# since the running containers' root filesystem is read-only
FROM python:${PYTHON_VERSION}-slim-bookworm AS python
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN python -m venv /opt/feather/venv \
 && /opt/feather/venv/bin/pip install --no-cache-dir "uv>=0.5"
WORKDIR /opt/feather
COPY sdk/ /tmp/sdk/
COPY pyproject.toml ./
COPY services/ services/
# The services are installed in place (editable): the gateway finds the portal at
# <checkout>/portal/dist beside the services package (services/kit/portal.py). The SDK is a
# regular install: the executor mounts its installed folder read-only into every sandbox.
RUN /opt/feather/venv/bin/uv pip install --no-cache --python /opt/feather/venv/bin/python /tmp/sdk -e . \
 && /opt/feather/venv/bin/python -m compileall -q services
COPY --from=portal /src/portal/dist/ portal/dist/

# --- the Docker CLI and buildx, for the builder when it makes Lambda images (the aws overlay)
FROM docker:27-cli AS docker

# --- what runs
FROM python:${PYTHON_VERSION}-slim-bookworm
# bubblewrap 0.8 (sandbox), libseccomp's Python bindings for Debian's /usr/bin/python3 (the
# workers' seccomp filter, FEATHER_SECCOMP_PYTHON), util-linux (setpriv, prlimit), tini (reaps
# what the builder's and the sandboxes' children leave behind, and passes on signals)
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      bubblewrap python3-seccomp util-linux tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# the uid the Deployments run as; it owns nothing in the image
RUN groupadd --system --gid 10001 feather \
 && useradd --system --uid 10001 --gid feather --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin feather
COPY --from=docker /usr/local/bin/docker /usr/local/bin/docker
COPY --from=docker /usr/local/libexec/docker/cli-plugins/docker-buildx /usr/local/libexec/docker/cli-plugins/docker-buildx
COPY --from=python /opt/feather/ /opt/feather/
ENV PATH=/opt/feather/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
WORKDIR /opt/feather
USER 10001:10001
EXPOSE 8080 8081 8082 8083 8084 9090
ENTRYPOINT ["/usr/bin/tini", "--", "python", "-m"]
CMD ["services.gateway"]
