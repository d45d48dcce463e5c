#!/usr/bin/env bash
# What the browser tests of the audit review page (tests/e2e/ui) need:
# - Debian's Chromium (/usr/bin/chromium), installed with apt when running as root;
# Playwright for Python itself is a locked dev dependency (pyproject's dev extra).
# `playwright install` is never run: it downloads a browser build of its own, which this
# project does not use (the tests launch /usr/bin/chromium) and which cannot be fetched here.
# Without these the browser tests skip, except under CI=true, where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "browser: /usr/bin/chromium is missing; install Debian's chromium package" >&2
  fi
fi

