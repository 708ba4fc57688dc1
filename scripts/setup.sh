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

step "npm dependencies (npm ci: the UI, and the official LiveKit client used as a test peer)"
# Reinstall a package only when its lockfile changed since the last install.
for dir in ui tests/peers; do
  stamp="$dir/node_modules/.convene-lock-stamp"
  if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
    (cd "$dir" && npm ci --no-audit --no-fund)
    cp "$dir/package-lock.json" "$stamp"
  else
    echo "$dir: up to date"
  fi
done

step "Python test peer (the official livekit SDK from PyPI, in tests/peers/.venv)"
venv="tests/peers/.venv"
stamp="$venv/.convene-requirements-stamp"
if [ ! -f "$stamp" ] || ! cmp -s tests/peers/requirements.txt "$stamp"; then
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/peers/requirements.txt
  cp tests/peers/requirements.txt "$stamp"
else
  echo "up to date"
fi

step "UI build (embedded into the app binary)"
(cd ui && npm run --silent build)
