# syntax=docker/dockerfile:1
#
# The gateway image. Build:  docker build -t llm-governance-gateway .
# Run:    docker run -p 8080:8080 -v "$PWD/gateway.yaml:/etc/gateway/gateway.yaml:ro" llm-governance-gateway
#
# Stage 1 turns the committed lock into a virtual environment with uv (no dev extra, the project
# installed as a normal package, not editable). Stage 2 carries only that environment and the
# shipped policies, and runs as a non-root user; uv, pip caches and build tools stay behind.
# See docs/deployment.md.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/gateway/venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN pip install "uv==0.13.9"

WORKDIR /src

# Dependencies first, so this layer is rebuilt only when the lock changes. The spaCy model the
# PII analyzer loads is an ordinary locked dependency: nothing is downloaded at run time.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --no-install-project

COPY gateway ./gateway
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="llm-governance-gateway" \
      org.opencontainers.image.description="OpenAI-compatible governance gateway: PII redaction, Rego policy, tamper-evident audit, rate limits" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /srv/gateway --no-create-home \
        --shell /usr/sbin/nologin gateway \
 && mkdir -p /srv/gateway /etc/gateway \
 && chown gateway:gateway /srv/gateway

COPY --from=build /opt/gateway/venv /opt/gateway/venv
# The shipped policies, for the embedded engine (`policy.dir: policies/` relative to the working
# directory). Mount your own over /srv/gateway/policies; owned by root, so read-only to the gateway.
COPY policies /srv/gateway/policies

# The working directory is the gateway user's, so the embedded SQLite audit log
# (./gateway-audit.db) works in a bare `docker run`; production points the audit log at PostgreSQL.
WORKDIR /srv/gateway

ENV PATH="/opt/gateway/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GATEWAY_CONFIG=/etc/gateway/gateway.yaml

USER gateway:gateway

EXPOSE 8080

# Liveness only (/healthz); /readyz also checks backends and stores and is for load balancers.
# The probe uses the port from GATEWAY_SERVER__PORT, else 8080. The image has no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=40s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GATEWAY_SERVER__PORT', '8080'), timeout=2)"]

ENTRYPOINT ["gateway"]
CMD ["serve"]
