#!/usr/bin/env bash
# README command 2: install everything and run every test and gate. .ci/run calls this.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/setup.sh"

export CARGO_TERM_COLOR=never
# End-to-end tests fail (instead of skipping) when their display is missing.
export CONVENE_REQUIRE_E2E=1

step "cargo fmt --check"
cargo fmt --all -- --check

step "crate graph (which crate may depend on which)"
python3 scripts/check-crate-graph.py

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "UI type check and unit tests"
(cd ui && npm run --silent typecheck && npm run --silent test:unit)

step "UI in headless Chromium with mocked IPC"
(cd ui && npm run --silent test:browser)

step "cargo test --workspace (end-to-end tests on a virtual display)"
xvfb-run -a -s "-screen 0 1280x800x24" cargo test --workspace --locked

step "the .deb installed with dpkg: desktop entry, scheme, dependencies, join screen"
bash scripts/test-package.sh

step "all gates passed"
