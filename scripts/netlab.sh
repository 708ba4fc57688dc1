#!/usr/bin/env bash
# The network lab for testing network changes by hand (and in scripts): two network
# namespaces, "server" and "client", joined by two veth links, "wifi" (10.201.N.0/24) and
# "cell" (10.202.N.0/24). The client prefers wifi. Needs root, iproute2 and nftables.
#
#   sudo scripts/netlab.sh up                 # build lab 1 (LAB=N for another)
#   sudo scripts/netlab.sh server convene-cli server --bind 10.201.1.1:7880
#   sudo scripts/netlab.sh client convene-cli join --url ws://10.201.1.1:7880 ...
#   sudo -E scripts/netlab.sh client target/debug/convene    # the app (keeps DISPLAY)
#   sudo scripts/netlab.sh link wifi down     # WiFi drops (and `up` again)
#   sudo scripts/netlab.sh link wifi gone     # WiFi drops and its address goes (`up` restores)
#   sudo scripts/netlab.sh prefer cell        # traffic moves to the cellular path
#   sudo scripts/netlab.sh readdress wifi     # the client gets a new address on wifi
#   sudo scripts/netlab.sh block-udp on       # only TCP gets through (ICE over TCP, TURN/TCP)
#   sudo scripts/netlab.sh loss 10            # drop 10 % of the client's packets each way (0: off)
#   sudo scripts/netlab.sh loss 40 udp        # ... of its UDP only (signaling over TCP untouched)
#   sudo scripts/netlab.sh limit 500kbit      # cap the client's upload on both links (off)
#   sudo scripts/netlab.sh status
#   sudo scripts/netlab.sh down
#
# Delay is not offered: this kernel has no netem qdisc (tc says "Specified qdisc kind is
# unknown"); see issue 7.
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
net_of() { if [ "$1" = wifi ]; then echo "$wifi_net"; else echo "$cell_net"; fi; }

up() {
  ip netns add "$server_ns"
  ip netns add "$client_ns"
  for path in wifi cell; do
    local net; net="$(net_of "$path")"
    ip link add "${path}${lab}s" netns "$server_ns" type veth peer name "${path}${lab}c" netns "$client_ns"
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
  rm -f "$preference_file"
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
  # One table per knob, so each can be turned off alone.
  local table="$1" rule="$2"
  in_client nft delete table inet "$table" 2>/dev/null || true
  [ -z "$rule" ] && return 0
  in_client nft add table inet "$table"
  in_client nft add chain inet "$table" out "{ type filter hook output priority 0 ; }"
  in_client nft add chain inet "$table" in "{ type filter hook input priority 0 ; }"
  in_client nft add rule inet "$table" out $rule
  in_client nft add rule inet "$table" in $rule
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
  up) up ;;
  down) down ;;
  server) in_server "$@" ;;
  client) in_client "$@" ;;
  link) link "$1" "$2" ;;
  prefer) prefer "$1" ;;
  readdress) readdress "$1" ;;
  block-udp) nft_rule convene_block_udp "$([ "${1:-on}" = on ] && echo "meta l4proto udp drop")" ;;
  loss) nft_rule convene_loss "$([ "${1:-0}" != 0 ] && echo "$([ "${2:-all}" = udp ] && echo "meta l4proto udp ")numgen random mod 100 < $1 drop")" ;;
  limit) limit "${1:-off}" ;;
  status) status ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
