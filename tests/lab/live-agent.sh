# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034,SC2154  # SC_*, SPLIT: read by scenarios.sh; here, build: set by the sourcing script
# live-agent.sh - the lab with netguardd running live on its sensor, for the lab's e2e tests
# (sourced, not executable). The sourcing script sets LAB_PREFIX, `here` (tests/lab) and `build`
# (the build directory), then calls live_lab_up; everything it starts (the lab, the daemon, an
# attack's process group, BPF pins, temporary files) is removed on exit, also on failure.
#
#   live_lab_up TOOLS...       skip (77) without root or a tool; bring the lab up; $state is a
#                              scratch directory, $pins the daemon's BPF pin directory
#   agent_start CONFIG         netguardd on the sensor interface with CONFIG (a netguard.yaml) until
#                              it reports the interface attached
#   agent_stop                 SIGTERM, then SIGKILL after 10 s
#   ctl ARGS...                ngctl -o json against the running daemon
#   scenario NAME SPLIT SEED   define scenarios.sh's NAME (SC_CMD, SC_NS, SC_ATTACKERS, ...)
#   attack_start LOG           SC_CMD in SC_NS in its own process group, bounded by SC_BOUND
#   attack_stop                stop that process group
#   wait_until SECONDS CMD...  poll CMD every 0.5 s while the attack runs, then up to SECONDS more
NETGUARDD=$build/agent/netguardd
NGCTL=$build/ctl/ngctl

skip() {
  echo "SKIPPED: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  [ ! -s "${state:-/nonexistent}/netguardd.log" ] || tail -n 40 "$state/netguardd.log" >&2
  exit 1
}

state="" pins="" daemon_pid="" attack_pid=""
live_lab_cleanup() {
  attack_stop
  agent_stop
  "$here/lab.sh" down >/dev/null 2>&1 || true
  rm -rf "$pins" "$state" "$LAB_DIR"
}

live_lab_up() {
  [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, eBPF)"
  local tool binary
  for tool in nsenter "$@"; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || skip "$tool missing (scripts/install-deps.sh)"
  done
  for binary in "$NETGUARDD" "$NGCTL"; do
    [ -x "$binary" ] || fail "$binary missing (cmake --build $build --target netguardd ngctl)"
  done
  LAB_DIR=$(mktemp -d "/tmp/$LAB_PREFIX-lab.XXXXXX")
  export LAB_PREFIX LAB_DIR
  # shellcheck source=lab-env.sh
  source "$here/lab-env.sh"
  # shellcheck source=scenarios.sh
  source "$here/scenarios.sh"
  state=$(mktemp -d "/tmp/$LAB_PREFIX-state.XXXXXX")
  pins=/sys/fs/bpf/$LAB_PREFIX-$$
  trap live_lab_cleanup EXIT
  "$here/lab.sh" up >"$state/lab-up.log" 2>&1 || fail "lab.sh up: $(tail -n 5 "$state/lab-up.log")"
}

ctl() { timeout -k 2 10 "$NGCTL" --socket "$state/ngd.sock" -o json "$@"; }

agent_start() {
  mkdir -p "$pins"
  nsenter --net="/run/netns/$NS_SENSOR" "$NETGUARDD" --config "$1" -i "$SENSOR_IF" \
    --bpf-pin-dir "$pins" --store "$state/netguard.db" --socket "$state/ngd.sock" \
    >>"$state/netguardd.log" 2>&1 &
  daemon_pid=$!
  local _
  for _ in $(seq 100); do
    kill -0 "$daemon_pid" 2>/dev/null || fail "netguardd exited"
    ctl status 2>/dev/null | grep -q "\"name\":\"$SENSOR_IF\"" && return 0
    sleep 0.2
  done
  fail "netguardd did not attach to $SENSOR_IF within 20 s"
}

agent_stop() {
  [ -n "$daemon_pid" ] || return 0
  kill -TERM "$daemon_pid" 2>/dev/null || true
  local _
  for _ in $(seq 50); do kill -0 "$daemon_pid" 2>/dev/null || break && sleep 0.2; done
  kill -KILL "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=""
}

scenario() {
  SC_NAME=$1 SPLIT=$2 SEED=$3
  SC_CLASS="" SC_NS="" SC_ATTACKERS="" SC_BOUND="" SC_CMD="" SC_PARAMS="" SC_TECHNIQUE=""
  WORK=$state/work-$1
  mkdir -p "$WORK"
  "sc_$1"
  echo "$1 ($SPLIT, seed $SEED): $SC_PARAMS${SC_ATTACKERS:+, attacker $SC_ATTACKERS}"
}

attack_start() {
  # setsid: the tool and its children form one process group, stopped as a whole
  setsid timeout -k 5 "$SC_BOUND" nsenter --net="/run/netns/$SC_NS" bash -c "$SC_CMD" >"$1" 2>&1 &
  attack_pid=$!
}

attack_stop() {
  [ -n "$attack_pid" ] || return 0
  kill -TERM -- "-$attack_pid" 2>/dev/null || true
  wait "$attack_pid" 2>/dev/null || true
  attack_pid=""
  # a spoofing rule (scenarios.sh's floods) never outlives its flood
  [ -z "${SC_NS:-}" ] || nsx "$SC_NS" nft delete table ip ngl_spoof 2>/dev/null || true
}

wait_until() {
  local seconds=$1 deadline
  shift
  while [ -n "$attack_pid" ] && kill -0 "$attack_pid" 2>/dev/null; do
    "$@" && return 0
    kill -0 "$daemon_pid" 2>/dev/null || fail "netguardd exited"
    sleep 0.5
  done
  deadline=$((SECONDS + seconds))
  while [ $SECONDS -lt "$deadline" ]; do
    "$@" && return 0
    kill -0 "$daemon_pid" 2>/dev/null || fail "netguardd exited"
    sleep 0.5
  done
  "$@"
}
