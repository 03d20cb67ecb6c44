#!/usr/bin/env bash
# First run on this host: installs the build dependencies, builds NetGuard, builds and installs
# its .deb (netguardd, ngctl, ngtrain, the shipped model bundle, the dashboard, the hardened
# unit, /etc/netguard/netguard.yaml) and starts the agent on the interface of the default route,
# with auto-block in dry-run (the shipped default: it records what it would block, blocks
# nothing). XDP passes everything it does not block (fail-open).
#
# With systemd as PID 1 the agent runs as netguard.service (a drop-in names the interface);
# elsewhere (containers, chroots) the unit's command runs in the background with the unit's
# capabilities. Run it again to rebuild, upgrade and restart.
#   NETGUARD_INTERFACE=IF  monitor IF instead of the default-route interface
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart.sh: run as root (sudo $0): it installs a package and loads BPF programs" >&2
  exit 1
fi
IFACE=${NETGUARD_INTERFACE:-$(ip -o route show default | awk '{print $5; exit}')}
if [ -z "$IFACE" ] || ! ip link show dev "$IFACE" >/dev/null 2>&1; then
  echo "quickstart.sh: no default-route interface found; set NETGUARD_INTERFACE=<interface>" >&2
  exit 1
fi

scripts/install-deps.sh
BUILD=build-release
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DNETGUARD_BUILD_TESTS=OFF -DNETGUARD_BUILD_BENCH=OFF
cmake --build "$BUILD" -j "$(nproc)"
rm -f "$BUILD"/netguard_*.deb
(cd "$BUILD" && cpack -G DEB >/dev/null)
deb=$(ls "$BUILD"/netguard_*.deb)
echo "quickstart.sh: installing $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall "./$deb" >/dev/null

exec_start="/usr/sbin/netguardd --config /etc/netguard/netguard.yaml --interface $IFACE"
if [ -d /run/systemd/system ]; then
  mkdir -p /etc/systemd/system/netguard.service.d
  cat >/etc/systemd/system/netguard.service.d/quickstart.conf <<EOF
# Written by scripts/quickstart.sh: monitor $IFACE. Delete this file to use only the config.
[Service]
ExecStart=
ExecStart=$exec_start
EOF
  systemctl daemon-reload
  systemctl enable netguard.service >/dev/null 2>&1
  systemctl restart netguard.service
  how="systemctl status netguard; journalctl -u netguard -f"
else
  # No systemd: what the unit would run, with its capabilities, group and directories.
  pidfile=/run/netguard-quickstart.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill -TERM "$(cat "$pidfile")"
    for _ in $(seq 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
  fi
  caps=$(sed -n 's/^CapabilityBoundingSet=//p' /lib/systemd/system/netguard.service |
    tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
  mkdir -p -m 0755 /run/netguard /var/log/netguard
  mkdir -p -m 0750 /var/lib/netguard
  # shellcheck disable=SC2086
  setsid setpriv --bounding-set "-all,$caps" --inh-caps "-all,$caps" --ambient-caps "-all,$caps" \
    --no-new-privs --groups "$(getent group netguard | cut -d: -f3)" -- $exec_start \
    >>/var/log/netguard/netguardd.log 2>&1 </dev/null &
  echo $! >"$pidfile"
  how="tail -f /var/log/netguard/netguardd.log; stop: kill \$(cat $pidfile)"
fi

for _ in $(seq 100); do
  ngctl status >/dev/null 2>&1 && break
  sleep 0.2
done
if ! ngctl status; then
  echo "quickstart.sh: the agent did not come up; see: $how" >&2
  exit 1
fi
# The http: section's address (the only "  address:" key outside comments).
http=$(sed -n '/^http:/,/^[a-z]/s/^  address: *\([^ #]*\).*/\1/p' /etc/netguard/netguard.yaml | head -n 1)
cat <<EOM

NetGuard is monitoring $IFACE (auto-block: dry-run, see response: in /etc/netguard/netguard.yaml).
  ngctl status | ngctl alerts --follow | ngctl flows | ngctl blocks   (root, or a member of
  group netguard: usermod -aG netguard \$USER)
  dashboard: http://${http:-127.0.0.1:8787}/ (changes need the API token: http.token_file)
  logs: $how
EOM
