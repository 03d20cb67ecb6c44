#!/usr/bin/env bash
# Browser end-to-end test of the dashboard (ctest label e2e): a sensor and a peer network
# namespace joined by a veth pair, the real netguardd on the sensor's side serving the built
# dashboard on the sensor's loopback, and headless Chromium (playwright-core, Debian's
# /usr/bin/chromium) driven by e2e/dashboard.e2e.mjs inside the sensor namespace. The peer runs
# nmap and curl, from private addresses and from one in 198.51.100.0/24 (routed over the veth
# only) that the test .mmdb places in Japan. First, the agent must refuse a plain-HTTP listener
# on the sensor's veth address. Everything is removed on exit, also when the test fails.
#
# usage: run.sh NETGUARDD DASHBOARD_DIST ARTIFACT_DIR
# Exit 77 (skipped) without root, chromium, nmap or node.
set -euo pipefail
NETGUARDD=$(realpath "$1")
DIST=$(realpath "$2")
mkdir -p "$3"
ARTIFACTS=$(realpath "$3")
HERE=$(cd "$(dirname "$0")" && pwd)

[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (namespaces, BPF)"; exit 77; }
for tool in /usr/bin/chromium nmap node curl nsenter ip; do
  command -v "$tool" >/dev/null || { echo "skip: $tool missing (scripts/install-deps.sh)"; exit 77; }
done
[ -f "$DIST/index.html" ] || { echo "the dashboard is not built: $DIST/index.html"; exit 1; }

TAG=ngd-$$
SENSOR=$TAG-s
PEER=$TAG-p
SIF=ngd$$s
PIF=ngd$$p
NET=10.201.$(( $$ % 250 ))
STATE=/tmp/$TAG
PINS=/sys/fs/bpf/$TAG
PUBLIC=198.51.100.$(( $$ % 250 + 1 ))
DAEMON_PID=

cleanup() {
  local rc=$?
  # The browser test restarts the agent once; the new one's pid is in daemon.pid.
  [ -f "$STATE/daemon.pid" ] && DAEMON_PID=$(cat "$STATE/daemon.pid")
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ]; then
    for log in "$STATE"/netguardd*.log; do
      [ -f "$log" ] && { echo "---- $(basename "$log") ----"; tail -n 60 "$log"; }
    done
  fi
  ip netns del "$SENSOR" 2>/dev/null || true
  ip netns del "$PEER" 2>/dev/null || true
  rm -rf "$STATE" "$PINS" "$PINS-refused"
  exit "$rc"
}
trap cleanup EXIT INT TERM

mkdir -p "$STATE" "$ARTIFACTS"
ip netns add "$SENSOR"
ip netns add "$PEER"
ip link add "$SIF" netns "$SENSOR" type veth peer name "$PIF" netns "$PEER"
ip -n "$SENSOR" addr add "$NET.1/24" dev "$SIF"
ip -n "$PEER" addr add "$NET.2/24" dev "$PIF"
ip -n "$PEER" addr add "$NET.3/24" dev "$PIF"
# A public-looking source (RFC 5737 documentation range, Japan in the test .mmdb) for the Map.
ip -n "$PEER" addr add "$PUBLIC/32" dev "$PIF"
for ns in "$SENSOR" "$PEER"; do ip -n "$ns" link set lo up; done
ip -n "$SENSOR" link set "$SIF" up
ip -n "$PEER" link set "$PIF" up
ip -n "$SENSOR" route add "$PUBLIC/32" dev "$SIF"

TOKEN=ngd-e2e-$RANDOM$RANDOM
printf '%s\n' "$TOKEN" > "$STATE/token"
chmod 600 "$STATE/token"
# The Map's countries come from a MaxMind .mmdb written now (libmaxmind-db-writer-perl); without
# the writer the agent falls back to Debian's geoip-database and the Map check is skipped.
MMDB=
if perl "$HERE/../../tests/unit/make_test_mmdb.pl" "$STATE/test-country.mmdb"; then
  MMDB=$STATE/test-country.mmdb
else
  echo "note: no .mmdb (apt install libmaxmind-db-writer-perl): the Map's country check is skipped"
fi
# http.address is overridden by --http below.
cat > "$STATE/netguard.yaml" <<YAML
flows:
  idle_timeout: 2s
  sweep_interval: 200ms
port_scan:
  distinct_ports: 20
  window: 60s
http:
  address: 127.0.0.1:8799
  dashboard_dir: $DIST
  token_file: $STATE/token
model:
  path: $HERE/../../models/default
geoip:
  mmdb: "$MMDB"
YAML

# A non-loopback listener without TLS stops the agent at start, saying why.
if nsenter --net="/run/netns/$SENSOR" timeout 60 "$NETGUARDD" --config "$STATE/netguard.yaml" \
    -i "$SIF" --http "$NET.1:8788" --bpf-pin-dir "$PINS-refused" --store "$STATE/refused.db" \
    --socket "$STATE/refused.sock" >"$STATE/refused.log" 2>&1; then
  echo "netguardd started with a plain-HTTP listener on $NET.1"; exit 1
fi
grep -q "is not loopback: it needs http.tls_cert" "$STATE/refused.log" || {
  echo "netguardd refused --http $NET.1:8788 without saying why:"; cat "$STATE/refused.log"; exit 1; }
echo "ok: --http $NET.1:8788 without TLS was refused"

# nsenter --net: the daemon keeps this mount namespace and so the real /sys/fs/bpf.
ARGS=(--config "$STATE/netguard.yaml" -i "$SIF" --bpf-pin-dir "$PINS" --store "$STATE/netguard.db"
  --socket "$STATE/netguard.sock" --http 127.0.0.1:8787)
nsenter --net="/run/netns/$SENSOR" "$NETGUARDD" "${ARGS[@]}" >"$STATE/netguardd.log" 2>&1 &
DAEMON_PID=$!
ready=
for _ in $(seq 100); do
  if nsenter --net="/run/netns/$SENSOR" curl -sf --max-time 1 http://127.0.0.1:8787/api/v1/GetStatus \
      | grep -q '"tcEgress":true'; then ready=1; break; fi
  kill -0 "$DAEMON_PID" 2>/dev/null || break
  sleep 0.2
done
[ -n "$ready" ] || { echo "netguardd did not serve http://127.0.0.1:8787 with $SIF attached"; exit 1; }

cd "$HERE/.."
BASE_URL=http://127.0.0.1:8787 TOKEN=$TOKEN PEER_NS=$PEER SENSOR_IP=$NET.1 ATTACKER_IP=$NET.3 \
  BYSTANDER_IP=$NET.2 PUBLIC_IP=$PUBLIC PEER_IF=$PIF ARTIFACTS=$ARTIFACTS MMDB=$MMDB \
  NETGUARDD=$NETGUARDD DAEMON_ARGS="$(printf '%s\n' "${ARGS[@]}")" DAEMON_PID=$DAEMON_PID STATE=$STATE \
  timeout -k 10 300 nsenter --net="/run/netns/$SENSOR" node e2e/dashboard.e2e.mjs
