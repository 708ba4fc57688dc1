#!/usr/bin/env bash
# Prepares this checkout to build, run and test Convene on Debian 12. Sourced by app.sh and
# test.sh; safe to run again (each step checks before it works).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
bash scripts/system-packages.sh

step "toolchains"
if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || {
  echo "Rust is missing: install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
}
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  echo "Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "Install it from https://nodejs.org or NodeSource, then run this again." >&2
  exit 1
fi
cargo --version
echo "node $(node --version), npm $(npm --version)"

step "UI dependencies (npm ci)"
# Reinstall only when the lockfile changed since the last install.
stamp="ui/node_modules/.convene-lock-stamp"
if [ ! -f "$stamp" ] || ! cmp -s ui/package-lock.json "$stamp"; then
  (cd ui && npm ci --no-audit --no-fund)
  cp ui/package-lock.json "$stamp"
else
  echo "up to date"
fi

step "UI build (embedded into the app binary)"
(cd ui && npm run --silent build)
