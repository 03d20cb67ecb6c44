#!/usr/bin/env bash
# ML live e2e: the agent as deployed, on live lab traffic. Brings up its own lab (tests/lab/lab.sh,
# prefix nglm: real sshd, nginx, ... in the victim namespace), runs netguardd (eBPF backend) on the
# lab's sensor interface with the shipped bundle (models/default), then runs two held-out attacks
# from the lab's attacker namespace and checks, through `ngctl alerts -o json`, that each raised
# an ML alert (detector ml.xgboost) of its class and MITRE technique from the attacker's address:
#   - nmap_syn, held-out split, seed 1001 (tests/lab/scenarios.sh: ports 7467-7923 plus
#     21,22,53,80, -T4, 2 retries) -> PortScan T1046;
#   - hydra_ssh, held-out split, seed 1001 (28 seeded wrong passwords, 1 user, 8 tasks) ->
#     BruteForce T1110. Bounded for the e2e budget: the run is stopped as soon as the alert is
#     visible, or after HYDRA_BOUND seconds (a whole run takes ~45 s). Its parameters are the
#     held-out ones unchanged; only its length is cut.
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
for tool in nsenter nginx sshd dnsmasq vsftpd iperf3 nmap hydra curl dig openssl; do
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

# The agent on the sensor: the default configuration but for its paths, and a short sweep so
# ended flows reach the model quickly. The rule detectors stay on; the checks below only count
# ML alerts.
cat >"$state/netguard.yaml" <<EOF
flows:
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
# from SRC.
ml_alert() {
  ctl alerts --class "$1" --src "$3" 2>/dev/null | grep '"detector":"ml.xgboost"' |
    grep -q "\"mitreTechnique\":\"$2\""
}

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
wait_alert PortScan T1046 "$scan_src" "$ALERT_WAIT" ||
  fail "no ML PortScan (T1046) alert from $scan_src: $(ctl alerts --src "$scan_src")"
echo "ok: nmap_syn -> ML PortScan (T1046) from $scan_src"

scenario hydra_ssh
[ "$SC_CLASS" = BruteForce ] || fail "hydra_ssh is $SC_CLASS"
brute_src=$SC_ATTACKERS
started=$SECONDS
# setsid: hydra and its tasks form one process group, stopped as a whole once the alert is seen
setsid timeout -k 5 "$HYDRA_BOUND" nsenter --net="/run/netns/$SC_NS" bash -c "$SC_CMD" \
  >"$state/hydra.log" 2>&1 &
attack_pid=$!
wait_alert BruteForce T1110 "$brute_src" "$ALERT_WAIT" "$attack_pid" ||
  fail "no ML BruteForce (T1110) alert from $brute_src after $((SECONDS - started)) s:" \
    "$(ctl alerts --src "$brute_src")"
echo "ok: hydra_ssh -> ML BruteForce (T1110) from $brute_src after $((SECONDS - started)) s"
kill -TERM -- "-$attack_pid" 2>/dev/null || true
wait "$attack_pid" 2>/dev/null || true
attack_pid=""
# The benign sessions ended before the scan, so their flows were judged long ago.
[ "$(ctl flows --addr "$CLIENT_IP" --port 22 | grep -c .)" -ge 2 ] ||
  fail "the agent recorded no SSH flows of the benign client"
! ml_alert BruteForce T1110 "$CLIENT_IP" ||
  fail "benign SSH from $CLIENT_IP raised an ML BruteForce alert: $(ctl alerts --src "$CLIENT_IP")"
echo "ok: benign_ssh -> no ML BruteForce alert from $CLIENT_IP"
echo "PASS"
