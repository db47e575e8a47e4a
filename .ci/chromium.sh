#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (test/integration/report-browser.test.ts).
# Idempotent: does nothing when /usr/bin/chromium already runs. Playwright's own
# browser download is not used (it needs network access beyond the package registries).
set -euo pipefail

if [ -x /usr/bin/chromium ] && /usr/bin/chromium --headless --no-sandbox --version >/dev/null 2>&1; then
  echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null || true)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
  if $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; then
    break
  fi
  if [ "$attempt" -eq 3 ]; then
    echo "chromium install failed after $attempt attempts" >&2
    exit 1
  fi
  sleep $((attempt * 5))
done

/usr/bin/chromium --version
