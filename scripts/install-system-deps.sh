#!/usr/bin/env bash
# System packages the build and the tests use, installed only where missing.
#   (no argument) or "test": what `npm test` needs: a compiler for
#     better-sqlite3, python3 (pty driver), openssl (private CA), tinyproxy (a
#     real HTTP proxy), tcpdump (capture of loopback traffic), iptables (a
#     blackholed route, a lossy link), strace (no program started during a
#     registration), chromium (the admin page in a browser).
#   "platforms": what `npm run test:platforms` needs besides: wine runs the
#     win-x64 executable, qemu-user the linux-arm64 one (with arm64 libc and
#     libstdc++); osslsigncode signs, wixl builds the MSI.
#   "fleet": what `npm run test:fleet` needs besides: nats-server (JetStream)
#     joins the relay instances, nginx balances them, PostgreSQL 15 holds the
#     server instances' shared store (the tests run their own cluster).
#   "all": every set (CI).
# As root it installs them with apt; otherwise it stops at once and prints the
# one command to run.
set -euo pipefail
what="${1:-test}"
need=()
check() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
if [ "$what" = test ] || [ "$what" = all ]; then
  check make make
  check g++ g++
  check python3 python3
  check openssl openssl
  check tinyproxy tinyproxy
  check tcpdump tcpdump
  check iptables iptables
  check strace strace
  check chromium chromium
fi
if [ "$what" = platforms ] || [ "$what" = all ]; then
  check wine wine
  [ -x /usr/lib/wine/wine64 ] || need+=(wine64)
  check qemu-aarch64-static qemu-user-static
  [ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || need+=(libc6-arm64-cross)
  [ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || need+=(libstdc++6-arm64-cross)
  check osslsigncode osslsigncode
  check wixl wixl
fi
if [ "$what" = fleet ] || [ "$what" = all ]; then
  [ -x /usr/sbin/nats-server ] || check nats-server nats-server
  [ -x /usr/sbin/nginx ] || check nginx nginx-light
  [ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "the tests need system packages that are missing: ${need[*]}" >&2
  echo "install them, then run the tests again:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi
echo "installing the system packages the tests need: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
