#!/usr/bin/env bash
# dataset.sh - run the lab's scenarios with a split's seeds, capture each run on the sensor,
# turn each capture into flows with netguardd and label every flow.
#
# Usage: dataset.sh --split train|holdout|rules --out DIR [--seeds "N ..."] [--scenarios "NAME ..."]
#                   [--build BUILD_DIR] [--dry-run]
#        dataset.sh --from DIR --out DIR2 [--build BUILD_DIR]
#   --seeds      default: train "1 2 3 4 5 6 7 8 9 10", holdout and rules "1001 1002" (never the
#                training seeds; rules: attacks at a real attack's size, scenarios.sh)
#   --scenarios  default: every scenario of scenarios.sh
#   --build      the build directory holding agent/netguardd (default: <repo>/build)
#   --dry-run    write the manifest's parameters only: no lab, no traffic
#   --from       no lab, no traffic: the runs of an earlier output DIR (its manifest.tsv and
#                pcaps/) turned into flows again by this netguardd and labelled as they were (for
#                new feature columns); DIR2 gets the CSVs, a manifest with the new row counts and
#                links to DIR's captures
# Output in DIR: SCENARIO-sSEED.csv (netguardd's flows CSV + a final " Label" column),
# manifest.tsv (one row per run), pcaps/, logs/. The lab is brought up when it is not up, and
# then taken down at the end, also on failure. Env: LAB_PREFIX, LAB_DIR (see lab-env.sh).
#
# Labelling rule: a flow with an address of SC_ATTACKERS (the attacker namespace's address, and
# SPOOF_NET for spoofed floods) at either end gets the scenario's class; every other flow (the
# benign client's background traffic) is BENIGN.
set -Eeuo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab-env.sh
source "$HERE/lab-env.sh"
# shellcheck source=scenarios.sh
source "$HERE/scenarios.sh"

die() {
  echo "dataset.sh: $*" >&2
  exit 1
}

split="" out="" seeds="" scenarios=$ALL_SCENARIOS dry_run="" from=""
build=${NETGUARD_BUILD:-$HERE/../../build}
while [ $# -gt 0 ]; do
  case "$1" in
    --split) split=$2 && shift 2 ;;
    --out) out=$2 && shift 2 ;;
    --seeds) seeds=$2 && shift 2 ;;
    --scenarios) scenarios=$2 && shift 2 ;;
    --build) build=$2 && shift 2 ;;
    --dry-run) dry_run=1 && shift ;;
    --from) from=$(cd "$2" && pwd) && shift 2 ;;
    *) die "unknown argument '$1' (see the header of $0)" ;;
  esac
done
case "$split" in
  train) seeds=${seeds:-1 2 3 4 5 6 7 8 9 10} ;;
  holdout | rules) seeds=${seeds:-1001 1002} ;;
  *) [ -n "$from" ] || die "--split train|holdout|rules is required" ;;
esac
[ -n "$out" ] || die "--out DIR is required"
for name in $scenarios; do
  declare -F "sc_$name" >/dev/null || die "unknown scenario '$name'"
done
NETGUARDD=$build/agent/netguardd
[ -n "$dry_run" ] || [ -x "$NETGUARDD" ] || die "$NETGUARDD missing: cmake --build $build --target netguardd"
mkdir -p "$out/logs" "$out/work"
[ -n "$from" ] || mkdir -p "$out/pcaps"
out=$(cd "$out" && pwd)
MANIFEST=$out/manifest.tsv
[ -s "$MANIFEST" ] || printf 'split\tscenario\tseed\tclass\tmitre\tnamespace\tattackers\tparams\trc\twall_s\tflows\tflows_class\tflows_benign\tcsv\n' >"$MANIFEST"

# define NAME SEED: run the scenario's function with fresh SC_* variables and an empty WORK.
define() {
  SC_NAME=$1 SEED=$2 SPLIT=$split
  SC_CLASS="" SC_NS="" SC_ATTACKERS="" SC_BOUND="" SC_CMD="" SC_PARAMS="" SC_TECHNIQUE=""
  WORK=$out/work/$1-s$2
  rm -rf "$WORK" && mkdir -p "$WORK"
  "sc_$1"
}

# Wait (<= 15 s) until the victim holds no TCP connection but TIME-WAIT ones and the sensor
# resolves no neighbour any more, so the tail of the previous run (vsftpd's delayed "530 Login
# incorrect", the host-unreachable errors of a sweep of absent hosts) never lands in the next
# capture, where it would be labelled by the wrong scenario.
settle() {
  local i
  for i in $(seq 30); do
    [ "$(nsx "$NS_VICTIM" ss -Htn state connected | grep -vc TIME-WAIT || true)" = 0 ] &&
      [ -z "$(nsx "$NS_SENSOR" ip neigh show nud incomplete)" ] && break
    sleep 0.5
  done
}

# Processes of the current run, stopped by the trap on failure.
tcpdump_pid="" background_pid=""
# SIGTERM, not SIGINT: bash starts background commands with SIGINT ignored; timeout forwards
# TERM to tcpdump, which then flushes its file and exits.
stop_run_processes() {
  local pid
  [ -z "$background_pid" ] || kill -TERM -- "-$background_pid" 2>/dev/null || true
  [ -z "$tcpdump_pid" ] || kill -TERM "$tcpdump_pid" 2>/dev/null || true
  for pid in $background_pid $tcpdump_pid; do wait "$pid" 2>/dev/null || true; done
  background_pid="" tcpdump_pid=""
}

# start_capture PCAP LOG: tcpdump on the sensor's LAN side (both directions of every LAN-victim
# packet). 192 bytes a packet hold every header; the flow features use the wire length.
start_capture() {
  # nsenter execs timeout, so $! is timeout itself (a shell function here would add a subshell
  # that the kill below would hit instead)
  nsenter --net="/run/netns/$NS_SENSOR" timeout -k 5 900 tcpdump -n -i "$SENSOR_IF" -s 192 -B 32768 -w "$1" 2>"$2" &
  tcpdump_pid=$!
  local i
  for i in $(seq 50); do
    grep -qs 'listening on' "$2" && return 0
    sleep 0.1
  done
  die "tcpdump did not start (see $2)"
}

# label CLASS ATTACKERS < flows.csv > labelled.csv
label() {
  awk -F, -v OFS=, -v class="$1" -v attackers="$2" '
    function ipnum(a,    p) { split(a, p, "."); return ((p[1] * 256 + p[2]) * 256 + p[3]) * 256 + p[4] }
    # in_set(a): a is one of the attacker addresses or inside one of their CIDRs
    function in_set(a,    i, n) {
      if (a !~ /^[0-9.]+$/) return 0
      n = ipnum(a)
      for (i = 1; i <= nnets; i++) if (int(n / size[i]) == int(net[i] / size[i])) return 1
      return 0
    }
    BEGIN {
      nnets = split(attackers, list, " ")
      for (i = 1; i <= nnets; i++) {
        bits = split(list[i], c, "/") == 2 ? c[2] : 32
        net[i] = ipnum(c[1]); size[i] = 2 ^ (32 - bits)
      }
    }
    NR == 1 {
      for (i = 1; i <= NF; i++) { name = $i; sub(/^ +/, "", name); col[name] = i }
      if (!("Source IP" in col) || !("Destination IP" in col)) { print "no address columns" > "/dev/stderr"; exit 2 }
      print $0, " Label"; next
    }
    { print $0, (in_set($col["Source IP"]) || in_set($col["Destination IP"]) ? class : "BENIGN") }'
}

# flows_of PCAP CSV CLASS ATTACKERS LOG: netguardd's flows of the capture, labelled, into CSV;
# prints "flows<TAB>flows of CLASS<TAB>benign flows".
flows_of() {
  "$NETGUARDD" --read "$1" --features corrected --flows-csv "$out/work/flows.csv" \
    --log-level warn >"$5.netguardd" 2>&1 || die "netguardd --read $1 failed (see $5.netguardd)"
  label "$3" "$4" <"$out/work/flows.csv" >"$2"
  rm -f "$out/work/flows.csv"
  awk -F, 'NR > 1 { n++; if ($NF == "BENIGN") b++; else c++ } END { printf "%d\t%d\t%d", n, c, b }' "$2"
}

# reflow: every run of $from's manifest again from its capture, with the same labels.
reflow() {
  [ -s "$from/manifest.tsv" ] || die "no manifest.tsv in $from"
  ln -sfn "$from/pcaps" "$out/pcaps"
  head -n 1 "$from/manifest.tsv" >"$MANIFEST"
  local sp name seed class mitre ns attackers params rc wall csv
  # unit separators instead of tabs: read keeps empty fields (benign runs have no attackers); the
  # old row counts (_) are replaced
  tail -n +2 "$from/manifest.tsv" | tr '\t' '\037' |
    while IFS=$'\037' read -r sp name seed class mitre ns attackers params rc wall _ _ _ csv; do
      counts=$(flows_of "$from/pcaps/$name-s$seed.pcap" "$out/$csv" "$class" "$attackers" \
        "$out/logs/$name-s$seed")
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sp" "$name" "$seed" "$class" "$mitre" \
        "$ns" "$attackers" "$params" "$rc" "$wall" "$counts" "$csv" >>"$MANIFEST"
      printf '%-20s seed %-5s %-13s flows/class/benign %s\n' "$name" "$seed" "$class" "$(tr '\t' / <<<"$counts")"
    done
}

# run_scenario NAME SEED: capture one run, convert it, label it, add its manifest row.
run_scenario() {
  local name=$1 seed=$2 id="$1-s$2" rc=0
  define "$name" "$seed"
  local pcap=$out/pcaps/$id.pcap csv=$out/$id.csv log=$out/logs/$id
  # A rerun replaces the run's manifest row.
  awk -F'\t' -v sc="$name" -v seed="$seed" '!($2 == sc && $3 == seed)' "$MANIFEST" >"$MANIFEST.new"
  mv "$MANIFEST.new" "$MANIFEST"
  if [ -n "$dry_run" ]; then
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$split" "$name" "$seed" "$SC_CLASS" \
      "${CLASS_MITRE[$SC_CLASS]}" "$SC_NS" "$SC_ATTACKERS" "$SC_PARAMS" >>"$MANIFEST"
    return 0
  fi
  settle
  start_capture "$pcap" "$log.tcpdump"
  background_script "$WORK/background.sh"
  # setsid: the background loop gets its own process group, stopped as a whole below
  setsid timeout -k 2 $((SC_BOUND + 10)) nsenter --net="/run/netns/$NS_CLIENT" \
    bash "$WORK/background.sh" >"$log.background" 2>&1 &
  background_pid=$!
  sleep 1
  local t0 t1
  t0=$(date +%s.%N)
  timeout -k 5 "$SC_BOUND" nsenter --net="/run/netns/$SC_NS" bash -c "$SC_CMD" >"$log.out" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  # The spoofing rule must never outlive its flood, even when the flood was killed.
  nsx "$SC_NS" nft delete table ip ngl_spoof 2>/dev/null || true
  sleep 1
  stop_run_processes
  local counts
  counts=$(flows_of "$pcap" "$csv" "$SC_CLASS" "$SC_ATTACKERS" "$log")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%s\t%s\n' "$split" "$name" "$seed" "$SC_CLASS" \
    "${CLASS_MITRE[$SC_CLASS]}" "$SC_NS" "$SC_ATTACKERS" "$SC_PARAMS" "$rc" \
    "$(echo "$t1 - $t0" | bc)" "$counts" "$(basename "$csv")" >>"$MANIFEST"
  printf '%-20s seed %-5s %-13s rc %-3s flows/class/benign %s  %s\n' "$name" "$seed" "$SC_CLASS" \
    "$rc" "$(tr '\t' / <<<"$counts")" "$SC_PARAMS"
  rm -rf "$WORK"
}

if [ -n "$from" ]; then
  reflow
  rm -rf "$out/work"
  exit 0
fi

lab_started=""
finish() {
  stop_run_processes
  [ -z "$lab_started" ] || "$HERE/lab.sh" down >/dev/null
}
trap finish EXIT
if [ -z "$dry_run" ] && ! ns_exists "$NS_VICTIM"; then
  lab_started=1
  "$HERE/lab.sh" up >"$out/logs/lab-up.log"
fi

started=$(date +%s)
for seed in $seeds; do
  for name in $scenarios; do run_scenario "$name" "$seed"; done
done
[ -n "$dry_run" ] || echo "split $split: $(($(date +%s) - started)) s of lab time, manifest $MANIFEST"
# Flows per class over every run in the manifest (benign = background and benign scenarios).
[ -n "$dry_run" ] || awk -F'\t' 'NR > 1 { n[$4] += $12; n["BENIGN"] += $13 }
  END { for (c in n) printf "  %-13s %d flows\n", c, n[c] }' "$MANIFEST" | sort
