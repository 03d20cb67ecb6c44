#!/usr/bin/env bash
# Installs dependencies, builds NetGuard and runs the agent in the foreground on the interface
# of the default route with the shipped configuration. XDP passes everything it does not block
# (fail-open); Ctrl-C detaches. The store goes to /var/lib/netguard, the API socket to
# /run/netguard.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart.sh: run as root (sudo $0): the agent loads BPF programs" >&2
  exit 1
fi
scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DNETGUARD_BUILD_TESTS=OFF -DNETGUARD_BUILD_BENCH=OFF
cmake --build build-release -j "$(nproc)"

IFACE=${NETGUARD_INTERFACE:-$(ip -o route show default | awk '{print $5; exit}')}
if [ -z "$IFACE" ]; then
  echo "quickstart.sh: no default route; set NETGUARD_INTERFACE=<interface>" >&2
  exit 1
fi
cat <<EOM
netguardd: monitoring $IFACE; Ctrl-C stops (blocks stay pinned under /sys/fs/bpf/netguard).
In another terminal:
  $PWD/build-release/ctl/ngctl status
  $PWD/build-release/ctl/ngctl alerts --follow
  $PWD/build-release/ctl/ngctl flows
EOM
exec ./build-release/agent/netguardd --interface "$IFACE" --config packaging/netguard.yaml
