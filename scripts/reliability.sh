#!/usr/bin/env bash
# Produces docs/RELIABILITY.md: every network scenario of issue 7 run in the network lab
# (scripts/netlab.sh) against the local server, measured from `convene-cli join`'s JSON
# lines (crates/cli/tests/reliability.rs). Needs root (network namespaces), iproute2 and
# nftables; takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

table="$(mktemp)"
trap 'rm -f "$table"' EXIT
RUST_LOG="${RUST_LOG:-off}" RELIABILITY_TABLE="$table" cargo test --release --locked -p convene-cli --test reliability \
  -- --ignored --nocapture --test-threads=1

{
  cat <<'HEADER'
# Reliability under network changes

Produced by `scripts/reliability.sh` (root; a few minutes). Each scenario runs in a fresh
network lab (`scripts/netlab.sh`: a server namespace and a client namespace joined by a
"wifi" and a "cell" link). On the server side run the local server and a publisher sending
Opus silence and a numbered reliable data message every 100 ms; on the client side runs the
participant under test, `convene-cli join` (the app's room client, watching its network,
reporting received audio packets every 100 ms). Figures come from its JSON lines:

- **reconnection**: what the client did (`resume` = ICE restart on the same session,
  `full` = rejoined the room), or that none was needed;
- **change to `Reconnected`**: from the moment the change began (for a flap, the link going
  down) to the `Reconnected` event;
- **longest audio gap**: the longest time without a new audio packet from the publisher,
  from one second before the change on (reports every 100 ms, so +-0.1 s);
- **data messages lost**: numbered reliable messages missing in the received range;
- **track lost**: whether the publisher's audio was not flowing at the end.

Loss is made with nftables (`numgen random`) because this kernel has no netem; it drops
UDP only, so signaling (TCP) is untouched. The client always has a second path (cell), so
when WiFi goes down it moves there at once (the first `Reconnected`) and resumes again when
WiFi comes back. With UDP blocked the client notices the silent path (ICE timers: 3 s
to disconnected, up to 10 s more to failed), resumes, gives UDP its 1-2 s and carries on
over ICE/TCP (docs/CONNECTIVITY.md), so that figure is mostly detection time. After a server restart,
reliable messages the publisher sent into the dead connection before noticing are lost.

HEADER
  cat "$table"
  echo
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, $(uname -sr)."
} > docs/RELIABILITY.md
echo "wrote docs/RELIABILITY.md"
