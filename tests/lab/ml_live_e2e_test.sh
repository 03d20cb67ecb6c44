#!/usr/bin/env bash
# ML live e2e: the agent as deployed, on live lab traffic. Brings up its own lab (tests/lab/lab.sh,
# prefix nglm: real sshd, nginx, ... in the victim namespace), runs netguardd (eBPF backend) on the
# lab's sensor interface with the shipped bundle (models/default), then runs held-out attacks
# from the lab's attacker namespace and checks, through `ngctl alerts -o json`, that each raised
# an ML alert (detector ml.xgboost) of its class and MITRE technique from the attacker's address:
#   - nmap_syn, held-out split, seed 1001 (tests/lab/scenarios.sh: ports 7467-7923 plus
#     21,22,53,80, -T4, 2 retries) -> PortScan T1046;
#   - hydra_ssh, held-out split, seed 1001 (28 seeded wrong passwords, 1 user, 8 tasks) ->
#     BruteForce T1110. Bounded for the e2e budget: the run is stopped as soon as the alert is
#     visible, or after HYDRA_BOUND seconds (a whole run takes ~45 s). Its parameters are the
#     held-out ones unchanged; only its length is cut.
#   - flood_icmp_spoofed, held-out split, seed 1001 (2512 echo requests 119 us apart, 200 B,
#     random sources rewritten into 198.18.0.0/15) -> DoS-Flood T1498 from a spoofed source.
# Before them, benign_ssh (held-out, seed 1001: interactive sessions and scp from the benign
# client) must raise no ML BruteForce alert: the model tells SSH logins from SSH guessing.
# Neither seed nor range was used to train the bundle (models/README.md). No external data: the
# test needs root and the lab's tools (scripts/install-deps.sh), else exit 77 (ctest: skipped).
# Traffic stays between the lab's namespaces; the daemon, the attack tools, the namespaces and
# the BPF pins are removed on exit, also on failure. Usage: ml_live_e2e_test.sh BUILD_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: ml_live_e2e_test.sh BUILD_DIR}" && pwd)
NETGUARDD=$build/agent/netguardd
NGCTL=$build/ctl/ngctl
HYDRA_BOUND=50 # s, hydra run
ALERT_WAIT=30  # s, after the nmap scan / after hydra ended: flow end -> sweep -> batch -> store

skip() {
  echo "SKIPPED: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  [ ! -s "${state:-/nonexistent}/netguardd.log" ] || tail -n 40 "$state/netguardd.log" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, eBPF)"
for tool in nsenter nginx sshd dnsmasq vsftpd iperf3 nmap hydra sshpass hping3 nft curl dig openssl; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || skip "$tool missing (scripts/install-deps.sh)"
done
for binary in "$NETGUARDD" "$NGCTL"; do
  [ -x "$binary" ] || fail "$binary missing (cmake --build $build --target netguardd ngctl)"
done

export LAB_PREFIX=nglm
LAB_DIR=$(mktemp -d /tmp/nglm-lab.XXXXXX)
export LAB_DIR
# shellcheck source=lab-env.sh
source "$here/lab-env.sh"
# shellcheck source=scenarios.sh
source "$here/scenarios.sh"
state=$(mktemp -d /tmp/nglm-state.XXXXXX)
pins=/sys/fs/bpf/nglm-$$
daemon_pid="" attack_pid=""
cleanup() {
  [ -z "$attack_pid" ] || kill -TERM -- "-$attack_pid" 2>/dev/null || true
  if [ -n "$daemon_pid" ]; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$daemon_pid" 2>/dev/null || break && sleep 0.2; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  "$here/lab.sh" down >/dev/null 2>&1 || true
  rm -rf "$pins" "$state" "$LAB_DIR"
}
trap cleanup EXIT

"$here/lab.sh" up >"$state/lab-up.log" 2>&1 || fail "lab.sh up: $(tail -n 5 "$state/lab-up.log")"

# The agent on the sensor: the default configuration but for its paths, a short sweep and a 5 s
# idle timeout, so ended flows reach the model quickly (features do not depend on either). The
# rule detectors stay on; the checks below only count ML alerts.
cat >"$state/netguard.yaml" <<EOF
flows:
  idle_timeout: 5s
  sweep_interval: 200ms
model:
  enabled: true
  path: $repo/models/default
EOF
mkdir -p "$pins"
nsenter --net="/run/netns/$NS_SENSOR" "$NETGUARDD" --config "$state/netguard.yaml" -i "$SENSOR_IF" \
  --bpf-pin-dir "$pins" --store "$state/netguard.db" --socket "$state/ngd.sock" \
  >"$state/netguardd.log" 2>&1 &
daemon_pid=$!
ctl() { timeout -k 2 10 "$NGCTL" --socket "$state/ngd.sock" -o json "$@"; }
ready=""
for _ in $(seq 100); do
  kill -0 "$daemon_pid" 2>/dev/null || fail "netguardd exited"
  if ctl status 2>/dev/null | grep -q "\"name\":\"$SENSOR_IF\""; then ready=1 && break; fi
  sleep 0.2
done
[ -n "$ready" ] || fail "netguardd did not attach to $SENSOR_IF within 20 s"
ctl status | grep -q '"activeModel":"default (' || fail "models/default is not the active model"

# scenario NAME: the held-out seed-1001 run of scenarios.sh's NAME (SC_CMD, SC_NS, SC_ATTACKERS).
scenario() {
  # shellcheck disable=SC2034  # SC_NAME and SPLIT are read by scenarios.sh
  SC_NAME=$1 SEED=1001 SPLIT=holdout
  SC_CLASS="" SC_NS="" SC_ATTACKERS="" SC_BOUND="" SC_CMD="" SC_PARAMS=""
  WORK=$state/work-$1
  mkdir -p "$WORK"
  "sc_$1"
  echo "$1 (holdout, seed $SEED): $SC_PARAMS, attacker $SC_ATTACKERS"
}

# ml_alert CLASS TECHNIQUE SRC: true when the store holds an ML alert of CLASS and TECHNIQUE
# from SRC (a grep -E pattern of the address).
ml_alert() {
  local n # grep -c, not -q: an early exit would fail the pipeline (pipefail, SIGPIPE)
  n=$(ctl alerts --class "$1" --limit 10000 2>/dev/null | grep -F '"detector":"ml.xgboost"' |
    grep -F "\"mitreTechnique\":\"$2\"" | grep -Ec "\"srcAddr\":\"$3\"" || true)
  [ "${n:-0}" -gt 0 ]
}
# re ADDRESS: the address as a grep -E pattern
re() { echo "${1//./\\.}"; }

# wait_alert CLASS TECHNIQUE SRC SECONDS [PID]: polls every 0.5 s while the process group PID (an
# attack still running) lives, then for up to SECONDS.
wait_alert() {
  local deadline
  while [ -n "${5:-}" ] && kill -0 "$5" 2>/dev/null; do
    ml_alert "$1" "$2" "$3" && return 0
    sleep 0.5
  done
  deadline=$((SECONDS + $4))
  while [ $SECONDS -lt "$deadline" ]; do
    ml_alert "$1" "$2" "$3" && return 0
    kill -0 "$daemon_pid" 2>/dev/null || fail "netguardd exited"
    sleep 0.5
  done
  ml_alert "$1" "$2" "$3"
}

scenario benign_ssh
timeout -k 5 "$SC_BOUND" nsenter --net="/run/netns/$SC_NS" bash -c "$SC_CMD" \
  >"$state/benign_ssh.log" 2>&1 || fail "benign_ssh exited $?: $(tail -n 5 "$state/benign_ssh.log")"
echo "benign_ssh done"

scenario nmap_syn
[ "$SC_CLASS" = PortScan ] || fail "nmap_syn is $SC_CLASS"
scan_src=$SC_ATTACKERS
timeout -k 5 "$SC_BOUND" nsenter --net="/run/netns/$SC_NS" bash -c "$SC_CMD" ||
  fail "nmap exited $?"
wait_alert PortScan T1046 "$(re "$scan_src")" "$ALERT_WAIT" ||
  fail "no ML PortScan (T1046) alert from $scan_src: $(ctl alerts --src "$scan_src")"
echo "ok: nmap_syn -> ML PortScan (T1046) from $scan_src"

scenario hydra_ssh
[ "$SC_CLASS" = BruteForce ] || fail "hydra_ssh is $SC_CLASS"
brute_src=$SC_ATTACKERS
# the same attacker scanned port 22 a moment ago: that must not count as the brute force
! ml_alert BruteForce T1110 "$(re "$brute_src")" ||
  fail "an ML BruteForce alert from $brute_src before hydra ran: $(ctl alerts --class BruteForce)"
started=$SECONDS
# setsid: hydra and its tasks form one process group, stopped as a whole once the alert is seen
setsid timeout -k 5 "$HYDRA_BOUND" nsenter --net="/run/netns/$SC_NS" bash -c "$SC_CMD" \
  >"$state/hydra.log" 2>&1 &
attack_pid=$!
wait_alert BruteForce T1110 "$(re "$brute_src")" "$ALERT_WAIT" "$attack_pid" ||
  fail "no ML BruteForce (T1110) alert from $brute_src after $((SECONDS - started)) s:" \
    "$(ctl alerts --src "$brute_src")"
echo "ok: hydra_ssh -> ML BruteForce (T1110) from $brute_src after $((SECONDS - started)) s"
kill -TERM -- "-$attack_pid" 2>/dev/null || true
wait "$attack_pid" 2>/dev/null || true
attack_pid=""
# The benign sessions ended before the scan, so their flows were judged long ago.
[ "$(ctl flows --addr "$CLIENT_IP" --port 22 | grep -c .)" -ge 2 ] ||
  fail "the agent recorded no SSH flows of the benign client"
! ml_alert BruteForce T1110 "$(re "$CLIENT_IP")" ||
  fail "benign SSH from $CLIENT_IP raised an ML BruteForce alert: $(ctl alerts --src "$CLIENT_IP")"
echo "ok: benign_ssh -> no ML BruteForce alert from $CLIENT_IP"

# A random-source ICMP flood: one packet per spoofed source (198.18.0.0/15), alike per flow to a
# probe of a host sweep; the context features (many flows to one destination service) tell it.
scenario flood_icmp_spoofed
[ "$SC_CLASS" = DoS-Flood ] || fail "flood_icmp_spoofed is $SC_CLASS"
timeout -k 5 "$SC_BOUND" nsenter --net="/run/netns/$SC_NS" bash -c "$SC_CMD" \
  >"$state/flood.log" 2>&1 || fail "flood_icmp_spoofed exited $?: $(tail -n 5 "$state/flood.log")"
# single-packet flows end after the idle timeout (5 s here)
wait_alert DoS-Flood T1498 '198\.1[89]\.[0-9.]+' "$ALERT_WAIT" ||
  fail "no ML DoS-Flood (T1498) alert from a spoofed source: $(ctl alerts --class DoS-Flood --limit 5)"
echo "ok: flood_icmp_spoofed -> ML DoS-Flood (T1498) from spoofed sources" \
  "($(ctl alerts --class DoS-Flood --limit 10000 | grep -c ml.xgboost) alerts)"
echo "PASS"
