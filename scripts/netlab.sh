#!/usr/bin/env bash
# The network lab for testing network changes by hand (and in scripts): two network
# namespaces, "server" and "client", joined by two veth links, "wifi" (10.201.N.0/24) and
# "cell" (10.202.N.0/24). The client prefers wifi. Needs root, iproute2 and nftables.
#
#   sudo scripts/netlab.sh up                 # build lab 1 (LAB=N for another)
#   sudo scripts/netlab.sh up --delayable     # ... with wifi through the delay relay
#   sudo scripts/netlab.sh server convene-cli server --dev --bind 10.201.1.1:7880
#   sudo scripts/netlab.sh client convene-cli join --url ws://10.201.1.1:7880 ...
#   sudo -E scripts/netlab.sh client target/debug/convene    # the app (keeps DISPLAY)
#   sudo scripts/netlab.sh link wifi down     # WiFi drops (and `up` again)
#   sudo scripts/netlab.sh link wifi gone     # WiFi drops and its address goes (`up` restores)
#   sudo scripts/netlab.sh prefer cell        # traffic moves to the cellular path
#   sudo scripts/netlab.sh readdress wifi     # the client gets a new address on wifi
#   sudo scripts/netlab.sh block-udp on       # only TCP gets through (ICE over TCP, TURN/TCP)
#   sudo scripts/netlab.sh block-udp on 3478  # ... and UDP to/from port 3478 (TURN over UDP)
#   sudo scripts/netlab.sh only-tcp 7880,443  # only TCP to/from these ports (off: undo)
#   sudo scripts/netlab.sh loss 10            # drop 10 % of the client's packets each way (0: off)
#   sudo scripts/netlab.sh loss 40 udp        # ... of its UDP only (signaling over TCP untouched)
#   sudo scripts/netlab.sh limit 500kbit      # cap the client's upload on both links (off)
#   sudo scripts/netlab.sh delay 150 20       # wifi: 150 ms each way, +-20 ms jitter (0: off;
#                                             # needs `up --delayable`)
#   sudo scripts/netlab.sh status
#   sudo scripts/netlab.sh down
#
# Delay: this kernel has no netem qdisc (tc says "Specified qdisc kind is unknown"), so with
# `up --delayable` the wifi link is a pair of TAP devices bridged by a small user-space relay
# (scripts/netlab_delay.py, python3 only) that holds each frame for the delay asked for.
set -euo pipefail

lab="${LAB:-1}"
server_ns="convene-lab${lab}-server"
client_ns="convene-lab${lab}-client"
wifi_net="10.201.${lab}"
cell_net="10.202.${lab}"

in_client() { ip netns exec "$client_ns" "$@"; }
in_server() { ip netns exec "$server_ns" "$@"; }
link_of() {
  case "$1" in
    wifi) echo "wifi${lab}c" ;;
    cell) echo "cell${lab}c" ;;
    *) echo "unknown path '$1' (wifi or cell)" >&2; exit 2 ;;
  esac
}
preference_file="/run/convene-lab${lab}.prefer"
delay_file="/run/convene-lab${lab}.delay"
relay_pid_file="/run/convene-lab${lab}.relay"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
net_of() { if [ "$1" = wifi ]; then echo "$wifi_net"; else echo "$cell_net"; fi; }

# The link of `path` made of two TAP devices that the delay relay bridges (frames cross it
# after the delay in $delay_file), moved into the namespaces like a veth pair's ends.
relayed_link() {
  local path="$1"
  echo "0 0" > "$delay_file"
  rm -f "$relay_pid_file"
  setsid python3 "$here/netlab_delay.py" "${path}${lab}s" "${path}${lab}c" "$delay_file" \
    "$relay_pid_file" </dev/null >/dev/null 2>&1 &
  for _ in $(seq 50); do [ -s "$relay_pid_file" ] && break; sleep 0.1; done
  [ -s "$relay_pid_file" ] || { echo "the delay relay did not start" >&2; exit 1; }
  ip link set "${path}${lab}s" netns "$server_ns"
  ip link set "${path}${lab}c" netns "$client_ns"
}

up() {
  ip netns add "$server_ns"
  ip netns add "$client_ns"
  for path in wifi cell; do
    local net; net="$(net_of "$path")"
    if [ "$path" = wifi ] && [ "${1:-}" = --delayable ]; then
      relayed_link "$path"
    else
      ip link add "${path}${lab}s" netns "$server_ns" type veth peer name "${path}${lab}c" netns "$client_ns"
    fi
    ip -n "$server_ns" addr add "${net}.1/24" dev "${path}${lab}s"
    ip -n "$client_ns" addr add "${net}.2/24" dev "${path}${lab}c"
    ip -n "$server_ns" link set "${path}${lab}s" up
    ip -n "$client_ns" link set "${path}${lab}c" up
  done
  for ns in "$server_ns" "$client_ns"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  done
  prefer wifi
  echo "lab $lab up: server ${wifi_net}.1 (wifi) and ${cell_net}.1 (cell); client prefers wifi"
}

down() {
  ip netns del "$client_ns" 2>/dev/null || true
  ip netns del "$server_ns" 2>/dev/null || true
  if [ -s "$relay_pid_file" ]; then kill "$(cat "$relay_pid_file")" 2>/dev/null || true; fi
  rm -f "$preference_file" "$delay_file" "$relay_pid_file"
  echo "lab $lab down"
}

prefer() {
  local first="$1" second
  second=$([ "$first" = wifi ] && echo cell || echo wifi)
  in_client ip route flush default 2>/dev/null || true
  in_client ip route add default via "$(net_of "$first").1" metric 100 2>/dev/null || true
  in_client ip route add default via "$(net_of "$second").1" metric 200 2>/dev/null || true
  echo "$first" > "$preference_file"
}

link() {
  local device; device="$(link_of "$1")"
  case "$2" in
    gone)
      in_client ip link set "$device" down
      in_client ip addr flush dev "$device"
      ;;
    up)
      if [ -z "$(in_client ip -4 -o addr show dev "$device")" ]; then
        in_client ip addr add "$(net_of "$1").2/24" dev "$device"
      fi
      in_client ip link set "$device" up
      # A link going down takes its routes with it: restore them, keeping the preference.
      prefer "$(cat "$preference_file" 2>/dev/null || echo wifi)"
      ;;
    *) in_client ip link set "$device" "$2" ;;
  esac
}

readdress() {
  local device net old new
  device="$(link_of "$1")"; net="$(net_of "$1")"
  old="$(in_client ip -4 -o addr show dev "$device" | awk '{print $4}' | head -1)"
  local host="${old#"${net}".}"; host="${host%/24}"
  new="${net}.$(( host >= 250 ? 2 : host + 1 ))/24"
  in_client ip addr del "$old" dev "$device"
  in_client ip addr add "$new" dev "$device"
  prefer "$(in_client ip route show default | awk 'NR==1 {print ($3 ~ /^10\.201/) ? "wifi" : "cell"}')"
  echo "client $1 address: $old -> $new"
}

nft_rule() {
  # One table per knob, so each can be turned off alone. Several rules are separated by ";".
  local table="$1" rules="$2" rule
  in_client nft delete table inet "$table" 2>/dev/null || true
  [ -z "$rules" ] && return 0
  in_client nft add table inet "$table"
  in_client nft add chain inet "$table" out "{ type filter hook output priority 0 ; }"
  in_client nft add chain inet "$table" in "{ type filter hook input priority 0 ; }"
  IFS=';' read -ra parts <<< "$rules"
  for rule in "${parts[@]}"; do
    in_client nft add rule inet "$table" out $rule
    in_client nft add rule inet "$table" in $rule
  done
}

limit() {
  for path in wifi cell; do
    local device; device="$(link_of "$path")"
    in_client tc qdisc del dev "$device" root 2>/dev/null || true
    if [ "$1" != off ]; then
      in_client tc qdisc add dev "$device" root tbf rate "$1" burst 32kbit latency 400ms
    fi
  done
}

status() {
  echo "== client addresses"; in_client ip -4 -br addr
  echo "== client routes"; in_client ip route
  echo "== client filters"; in_client nft list ruleset
  echo "== client queues"; for path in wifi cell; do in_client tc qdisc show dev "$(link_of "$path")"; done
}

command="${1:-}"; shift || true
case "$command" in
  up) up "${1:-}" ;;
  down) down ;;
  server) in_server "$@" ;;
  client) in_client "$@" ;;
  link) link "$1" "$2" ;;
  prefer) prefer "$1" ;;
  readdress) readdress "$1" ;;
  block-udp)
    # With a port, UDP to and from it still passes (a TURN server on 3478). Accept rules
    # first: nft merges "sport != P dport != P" into one comparison that drops both ways.
    rule="meta l4proto udp drop"
    [ -n "${2:-}" ] && rule="udp dport $2 accept;udp sport $2 accept;$rule"
    nft_rule convene_block_udp "$([ "${1:-on}" = on ] && echo "$rule")" ;;
  only-tcp)
    # A hotel or corporate network: no UDP, TCP only to a few ports (signaling, TURN/TLS).
    nft_rule convene_only_tcp "$([ "${1:-off}" != off ] && echo "tcp dport { $1 } accept;tcp sport { $1 } accept;meta l4proto { tcp, udp } drop")" ;;
  loss) nft_rule convene_loss "$([ "${1:-0}" != 0 ] && echo "$([ "${2:-all}" = udp ] && echo "meta l4proto udp ")numgen random mod 100 < $1 drop")" ;;
  limit) limit "${1:-off}" ;;
  delay)
    [ -s "$relay_pid_file" ] || { echo "lab $lab has no delay relay: build it with 'up --delayable'" >&2; exit 2; }
    echo "${1:-0} ${2:-0}" > "$delay_file" ;;
  status) status ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
