#!/usr/bin/env bash
# Test tools that uv's lock cannot carry:
# - docker-compose (Debian) so tests can validate compose.yaml with `config` (no engine needed);
# - opa-golib-python-bindings, the real OPA engine in-process, used as the exact oracle in the
#   policy differential test. It declares Requires-Python >= 3.14 although it runs on 3.11, so it
#   is installed with pip's --ignore-requires-python, outside the lock.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
  else
    echo "tools: docker-compose missing; compose validation tests will fail" >&2
  fi
fi

if ! .venv/bin/python -c "import opa_bindings" >/dev/null 2>&1; then
  python3 -m uv pip install --quiet --python .venv/bin/python --python-version 3.14 --no-deps opa-golib-python-bindings==0.4.4
fi
