#!/usr/bin/env bash
# Ensures what `npm test` needs beyond node_modules (run first by `npm test` and by .ci/run):
#   consul      on the PATH: every integration test starts a Consul dev agent
#   chromium    /usr/bin/chromium: test/browser drives the real Consul UI
#   prometheus  /usr/bin/prometheus: test/prometheus-scrape.test.ts runs a Prometheus of its own
# All present: prints nothing and exits 0 at once. Something missing, on Debian/Ubuntu as root: installs
# it with apt (consul through scripts/install-consul.sh; `apt-get update` only then). Elsewhere: says
# what is missing and how to get it, and exits 1.
#
# For testing this script without removing anything:
#   MESHLESS_SETUP_ASSUME_MISSING="consul chromium"  treats those as missing
#   MESHLESS_SETUP_DRY_RUN=1                         prints the commands it would run as root on
#                                                    Debian/Ubuntu, and runs none
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dry_run="${MESHLESS_SETUP_DRY_RUN:-}"
assume_missing=" ${MESHLESS_SETUP_ASSUME_MISSING:-} "

present() {
  [[ "$assume_missing" != *" $1 "* ]] || return 1
  case "$1" in
    consul) command -v consul >/dev/null 2>&1 ;;
    *) [ -x "/usr/bin/$1" ] ;;
  esac
}

missing=()
for tool in consul chromium prometheus; do
  present "$tool" || missing+=("$tool")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

say() { echo "setup-test-deps: $*"; }
run() {
  if [ -n "$dry_run" ]; then
    say "would run: $*"
  else
    "$@"
  fi
}
# For steps that may not apply (no sysvinit scripts, no systemd): best effort, no output.
run_quietly() {
  if [ -n "$dry_run" ]; then
    say "would run: $*"
  else
    "$@" >/dev/null 2>&1 || true
  fi
}

if [ -n "$dry_run" ] || { [ -r /etc/debian_version ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }; then
  say "missing: ${missing[*]}; installing with apt"
  export DEBIAN_FRONTEND=noninteractive
  packages=()
  updated=
  for tool in "${missing[@]}"; do
    if [ "$tool" = consul ]; then
      run bash "$here/install-consul.sh" # runs apt-get update itself
      updated=1
    else
      packages+=("$tool")
    fi
  done
  if [ "${#packages[@]}" -gt 0 ]; then
    [ -n "$updated" ] || run apt-get update -q
    # The prometheus package starts a system daemon on :9090 and enables it at boot. The test runs its
    # own instance on a free port and needs only the binary: keep the daemon from starting (policy-rc.d
    # 101 = "not now", honoured by invoke-rc.d and deb-systemd-invoke) and from starting at boot.
    policy=/usr/sbin/policy-rc.d
    own_policy=
    if [[ " ${packages[*]} " == *" prometheus "* ]] && [ ! -e "$policy" ]; then
      if [ -n "$dry_run" ]; then
        say "would write $policy (exit 101) for the install, then remove it"
      else
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
        trap 'rm -f "$policy"' EXIT
      fi
    fi
    if ! run apt-get install -y -q --no-install-recommends "${packages[@]}"; then
      say "apt-get install ${packages[*]} failed (on Ubuntu, Chromium is a snap: put a chromium at /usr/bin/chromium)" >&2
      exit 1
    fi
    if [ -n "$own_policy" ]; then
      rm -f "$policy"
      trap - EXIT
    fi
    if [[ " ${packages[*]} " == *" prometheus "* ]]; then
      run_quietly update-rc.d prometheus disable
      run_quietly deb-systemd-helper disable prometheus.service
    fi
  fi
  [ -n "$dry_run" ] && exit 0
  still=()
  for tool in "${missing[@]}"; do
    present "$tool" || still+=("$tool")
  done
  if [ "${#still[@]}" -gt 0 ]; then
    say "still missing after the install: ${still[*]}" >&2
    exit 1
  fi
  say "installed ${missing[*]}"
  exit 0
fi

{
  say "npm test needs these, missing here: ${missing[*]}"
  for tool in "${missing[@]}"; do
    case "$tool" in
      consul)
        echo "  consul      Consul 1.8 or newer on the PATH (the integration tests start a dev agent):"
        echo "              Debian/Ubuntu: run scripts/install-consul.sh as root; elsewhere a release"
        echo "              from https://developer.hashicorp.com/consul/install" ;;
      chromium)
        echo "  chromium    /usr/bin/chromium (the browser test drives the real Consul UI):"
        echo "              Debian: apt-get install --no-install-recommends chromium; Ubuntu ships it as a"
        echo "              snap: install one and link its binary to /usr/bin/chromium" ;;
      prometheus)
        echo "  prometheus  /usr/bin/prometheus (a real Prometheus scrapes a mesh; the test runs its own):"
        echo "              Debian/Ubuntu: apt-get install --no-install-recommends prometheus" ;;
    esac
  done
  echo "As root on Debian or Ubuntu, this script installs them itself: sudo bash scripts/setup-test-deps.sh"
} >&2
exit 1
