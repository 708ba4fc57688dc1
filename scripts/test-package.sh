#!/usr/bin/env bash
# Installs the .deb the way people do (dpkg), checks it and opens the installed app on a
# virtual display (tests/installed_package.rs), then removes it again. Needs root or sudo.
# Called by scripts/test.sh; `--release` tests the release package instead of a debug one.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if [ "${1:-}" = "--release" ]; then
  bash scripts/package.sh
  deb="$(ls -t target/release/bundle/deb/*.deb | head -1)"
else
  bash scripts/package.sh --from-debug
  deb="$(ls -t target/debug/bundle/deb/*.deb | head -1)"
fi

printf '\n==> installing %s\n' "$deb"
$SUDO dpkg -i "$deb"
trap '$SUDO dpkg -r convene >/dev/null' EXIT
xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo test --locked --test installed_package -- --ignored --test-threads 1
