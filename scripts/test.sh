#!/usr/bin/env bash
# Install everything the test suite needs (when missing), then run lint, the type check and the
# whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v pdftotext >/dev/null 2>&1 || need_apt+=(poppler-utils)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# The deployment topology (tests/e2e/test_topology.py) runs Debian's nginx and coturn.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v turnserver >/dev/null 2>&1 || [ -x /usr/bin/turnserver ] || need_apt+=(coturn)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# axe-core (accessibility checks in the browser tests), into the git-ignored build/axe.
if [ ! -f build/axe/node_modules/axe-core/axe.min.js ]; then
  mkdir -p build/axe
  npm install --silent --no-audit --no-fund --prefix build/axe axe-core@4
fi

python3 -m ruff check .
python3 -m ruff format --check .
python3 -m mypy companion
python3 -m pytest -q "$@"
