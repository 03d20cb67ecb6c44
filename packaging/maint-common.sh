# Shared by the .deb and .rpm maintainer scripts (pasted in by packaging/CMakeLists.txt).
NG_GROUP=netguard
NG_UNIT=netguard.service
NG_CONFIG=/etc/netguard/netguard.yaml
NG_KEEP_BLOCKS=/etc/netguard/keep-blocks
NG_STATE_DIR=/var/lib/netguard
NG_XDP_PROG=ng_xdp_ingress
NG_TC_PROG=ng_tc_egress
NG_TC_PREF=20039 # 0x4e47, kTcPriority in agent/capture/ebpf_dataplane.cpp

ng_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

ng_create_group() {
  getent group "$NG_GROUP" >/dev/null 2>&1 || groupadd --system "$NG_GROUP"
}

ng_daemon_reload() {
  if ng_systemd; then systemctl daemon-reload || true; fi
}

# Stops the agent; on SIGTERM it detaches its programs itself.
ng_stop() {
  if ng_systemd; then
    systemctl stop "$NG_UNIT" >/dev/null 2>&1 || true
  fi
  # An installed agent started by hand (or where systemd is not PID 1) gets the same SIGTERM;
  # agents run from elsewhere (a build tree) are not the package's business.
  pids=""
  for exe in /proc/[0-9]*/exe; do
    # After an upgrade the running agent's binary reads "/usr/sbin/netguardd (deleted)".
    case "$(readlink "$exe" 2>/dev/null)" in
      "/usr/sbin/netguardd" | "/usr/sbin/netguardd (deleted)") ;;
      *) continue ;;
    esac
    pid=${exe#/proc/}
    pids="$pids ${pid%/exe}"
  done
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 30); do
    alive=""
    for pid in $pids; do [ -d "/proc/$pid" ] && alive=1; done
    [ -n "$alive" ] || return 0
    sleep 1
  done
}

# Detaches what a crashed or killed agent left attached: XDP only where the program is
# ng_xdp_ingress, the TC egress filter only where it is ng_tc_egress at NetGuard's priority.
ng_detach_all() {
  command -v ip >/dev/null 2>&1 || return 0
  for dev in $(ip -o link show | sed -n 's/^[0-9]*: \([^:@ ]*\)[:@].*/\1/p'); do
    if ip -d link show dev "$dev" 2>/dev/null | grep -q "prog/xdp id [0-9]* name $NG_XDP_PROG "; then
      ip link set dev "$dev" xdpgeneric off 2>/dev/null || true
      ip link set dev "$dev" xdpdrv off 2>/dev/null || true
    fi
    if command -v tc >/dev/null 2>&1 &&
      tc filter show dev "$dev" egress 2>/dev/null | grep -q "pref $NG_TC_PREF .*$NG_TC_PROG"; then
      tc filter del dev "$dev" egress pref "$NG_TC_PREF" 2>/dev/null || true
    fi
  done
}

# The pin directory of the installed configuration (capture.bpf_pin_dir), default otherwise.
ng_pin_dir() {
  dir=""
  if [ -r "$NG_CONFIG" ]; then
    dir=$(sed -n 's/^[[:space:]]*bpf_pin_dir:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$NG_CONFIG" |
      head -n 1)
  fi
  echo "${dir:-/sys/fs/bpf/netguard}"
}

# Removes the pinned blocklist and counters unless the administrator asked to keep blocks.
ng_remove_pins() {
  if [ -e "$NG_KEEP_BLOCKS" ]; then
    echo "netguard: $NG_KEEP_BLOCKS exists, keeping the pinned blocklist" >&2
    return 0
  fi
  dir=$(ng_pin_dir)
  case "$dir" in
    /sys/fs/bpf/?*) rm -rf -- "$dir" ;;
    *) echo "netguard: not removing pins outside /sys/fs/bpf: $dir" >&2 ;;
  esac
}

ng_purge_state() {
  rm -rf -- "$NG_STATE_DIR" /run/netguard
  rm -f -- "$NG_KEEP_BLOCKS"
  rmdir /etc/netguard 2>/dev/null || true
}
