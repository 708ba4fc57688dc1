#!/usr/bin/env bash
# Builds Convene's Linux installers, .deb and .rpm, with `tauri build` (release); prints
# where they are and their sizes. The AppImage is left out here: its tooling is downloaded
# (the hosted workflow .github/workflows/bundles.yml builds it, and the Windows and macOS
# installers).
#
#   scripts/package.sh               release build, target/release/bundle/{deb,rpm}/
#   scripts/package.sh --from-debug  bundle the debug build `cargo build` made (debug info
#                                    stripped; built as `cargo test` builds it), target/debug/bundle/: the same package in
#                                    a fraction of the time, for the install test in CI
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/setup.sh"
tauri="$repo/ui/node_modules/.bin/tauri"

if [ "${1:-}" = "--from-debug" ]; then
  step "bundling the debug build (.deb, .rpm)"
  # Built the way the tests build it (dev-dependency features unified), so after
  # `cargo test` nothing is rebuilt.
  cargo test --locked --no-run --test installed_package
  # Debug info makes the binary ~0.5 GB; the package test needs none of it.
  objcopy --strip-debug target/debug/convene
  "$tauri" bundle --ci --debug --bundles deb,rpm
  out="target/debug/bundle"
else
  step "tauri build (release .deb, .rpm)"
  "$tauri" build --ci --bundles deb,rpm
  out="target/release/bundle"
fi
step "installers"
ls -l "$out"/deb/*.deb "$out"/rpm/*.rpm
