#!/usr/bin/env bash
# System packages the build and the end-to-end tests use: a compiler for
# better-sqlite3, python3 (pty driver), openssl (private CA), tinyproxy (a real
# HTTP proxy), tcpdump (capture of loopback traffic), iptables (a blackholed
# route on a 127.x address), chromium (the admin page in a real browser).
# Idempotent: installs only what is missing.
set -euo pipefail
need=()
check() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
check make make
check g++ g++
check python3 python3
check openssl openssl
check tinyproxy tinyproxy
check tcpdump tcpdump
check iptables iptables
check chromium chromium
# The packaged agent for other platforms (npm run test:platforms): wine runs the
# win-x64 executable, qemu-user the linux-arm64 one (with arm64 libc and
# libstdc++); osslsigncode signs, wixl builds the MSI.
check wine wine
[ -x /usr/lib/wine/wine64 ] || need+=(wine64)
check qemu-aarch64-static qemu-user-static
[ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || need+=(libc6-arm64-cross)
[ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || need+=(libstdc++6-arm64-cross)
check osslsigncode osslsigncode
check wixl wixl
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages: ${need[*]} (run as root, or install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
