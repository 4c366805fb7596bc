#!/usr/bin/env bash
# Idempotent setup for the README commands: installs the Debian packages the project needs (only the
# missing ones), Java for the Allure report generator when absent, and the npm dependencies when
# node_modules does not match package-lock.json. Safe to run every time.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != "0" ]; then
  echo "overlay-twin needs root (network namespaces, nftables, FRR). Run as root or with sudo." >&2
  exit 2
fi

mapfile -t wanted < <(grep -v '^\s*#' scripts/packages.txt | awk 'NF {print $1}')
command -v java >/dev/null 2>&1 || wanted+=(openjdk-17-jre-headless)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts these services on install; the project runs its own instances inside namespaces
# (labs/ovn.clab.yml: OVN daemons per node, state in the lab directory) and must not share the host's.
for svc in frr openvswitch-switch ovsdb-server ovs-vswitchd ovn-central ovn-host ovn-northd \
  ovn-controller ovn-ovsdb-server-nb ovn-ovsdb-server-sb; do
  systemctl is-active --quiet "$svc" 2>/dev/null && systemctl stop "$svc" >/dev/null 2>&1 || true
done

stamp=node_modules/.otwin-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund >/dev/null
  echo "$want" > "$stamp"
fi
# Compiles the CLI and the reference-impl bins to dist/ when any source changed since the last build
# (npm ci's `prepare` builds too); without it everything still runs, only slower, through tsx.
node scripts/build.mjs
