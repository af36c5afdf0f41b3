#!/usr/bin/env bash
# Refresh the README's pictures in docs/screenshots by running the browser tests that take them.
# (A plain test run writes its screenshots to build/screenshots and leaves tracked files alone.)
set -euo pipefail
cd "$(dirname "$0")/.."
COMPANION_SCREENSHOTS="$PWD/docs/screenshots" python3 -m pytest -q \
  tests/e2e/test_page_participant.py tests/e2e/test_page_moderator.py \
  tests/e2e/test_page_screen.py tests/e2e/test_polls_browser.py \
  tests/e2e/test_browser_scenario.py tests/e2e/test_stream_browser.py \
  tests/e2e/test_organiser_browser.py tests/e2e/test_programme_browser.py \
  tests/e2e/test_network_page.py tests/e2e/test_schedule_browser.py \
  tests/e2e/test_stage_browser.py tests/e2e/test_fairness_console.py \
  tests/e2e/test_run_of_show_browser.py tests/e2e/test_members_browser.py "$@"
