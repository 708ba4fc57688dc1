#!/usr/bin/env bash
# README command 1: install everything, build, and launch Convene.
# Extra arguments are passed to the app.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/setup.sh"

printf '\n==> building and starting Convene\n'
cargo build --release --bin convene
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "No display found: starting Convene on a virtual display (xvfb-run)."
  exec xvfb-run -a -s "-screen 0 1280x800x24" "$repo/target/release/convene" "$@"
fi
exec "$repo/target/release/convene" "$@"
