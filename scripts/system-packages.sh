#!/usr/bin/env bash
# Installs every Debian 12 package Convene needs to build, run and test.
# The one list of system packages: the setup scripts call this, nothing else runs apt.
# Idempotent and quick when everything is present (dpkg is consulted before apt runs).
set -euo pipefail

PACKAGES=(
  # build: Tauri/WebKitGTK shell and C libraries behind -sys crates
  build-essential pkg-config file curl ca-certificates
  libwebkit2gtk-4.1-dev libssl-dev librsvg2-dev libxdo-dev
  libopus-dev libvpx-dev cmake nasm libclang-dev clang libasound2-dev
  # run and test under a virtual display, drive the real window
  xvfb xauth x11-utils imagemagick webkit2gtk-driver python3-xlib
  # fake audio devices for the real cpal path
  pulseaudio pulseaudio-utils libasound2-plugins
  # a private D-Bus session bus per app in the end-to-end tests (one instance per bus)
  dbus-daemon
  # browser and Python peers, UI tests
  chromium python3-venv
  # network-switch lab
  iproute2 nftables iputils-ping
  # TURN server for the relay path tests (run by the tests, never as a service), and the
  # openssl tool for its TLS test certificate
  coturn openssl
  # the installed-package test checks the desktop entry
  desktop-file-utils
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
