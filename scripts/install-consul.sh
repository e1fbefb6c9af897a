#!/usr/bin/env bash
# Ensures a `consul` binary (1.8+) is on the PATH.
# 1. A consul already on the PATH is used as is.
# 2. On Debian/Ubuntu as root: add Debian's bullseye suite, pinned so that only the
#    package `consul` (1.8.7, MPL-2.0, with the web UI) comes from it, and install it.
# 3. Otherwise: print how to install Consul and exit non-zero.
set -euo pipefail

if command -v consul >/dev/null 2>&1; then
  echo "install-consul: using $(command -v consul) ($(consul version | head -n 1))"
  exit 0
fi

if [ -r /etc/debian_version ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  list=/etc/apt/sources.list.d/meshless-bullseye.list
  pin=/etc/apt/preferences.d/meshless-consul
  if [ ! -f "$list" ]; then
    echo "deb http://deb.debian.org/debian bullseye main" > "$list"
  fi
  # Nothing from bullseye unless named here: priority -1 keeps every other package on its own suite.
  cat > "$pin" <<'PIN'
Package: *
Pin: release n=bullseye
Pin-Priority: -1

Package: consul
Pin: release n=bullseye
Pin-Priority: 500
PIN
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends consul >/dev/null
  echo "install-consul: installed $(consul version | head -n 1)"
  exit 0
fi

cat >&2 <<'MSG'
install-consul: no `consul` on the PATH and this is not Debian/Ubuntu as root.
Install Consul 1.8 or newer yourself, then re-run:
  - Debian/Ubuntu (as root): run this script with sudo, or
  - download a release from HashiCorp and put `consul` on the PATH, or
  - point the tools at an existing agent with CONSUL_HTTP_ADDR=host:port.
MSG
exit 1
