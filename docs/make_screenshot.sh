#!/usr/bin/env bash
# Remake docs/img/report.png: a real 12-trial csp_densenet search (digits, ~1-2 minutes on
# 2 CPU cores), its report, and a headless-Chromium picture of the report's top (the header
# and the two accuracy-against-compute figures). Needs cspsearch installed and Debian's chromium.
# Usage: docs/make_screenshot.sh [WORK_DIR]   (default: a fresh temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$(mktemp -d)}"
mkdir -p "$work" docs/img
work="$(cd "$work" && pwd)"
rm -f "$work/s.db"

cspsearch run --space csp_densenet --n-trials 12 --storage "sqlite:///$work/s.db" \
  --artifacts "$work/artifacts"
cspsearch report csp_densenet --storage "sqlite:///$work/s.db" --out "$work/r.html"

profile="$(mktemp -d)"
chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
  --window-size=1280,1340 --screenshot="$PWD/docs/img/report.png" "file://$work/r.html"
rm -rf "$profile"
ls -l docs/img/report.png
