#!/usr/bin/env bash
# ML held-out e2e: the shipped bundle (models/default) through the agent's own path
# (netguardd --read --model) on the lab's held-out captures of a hydra SSH run and an nmap SYN
# scan (held-out seeds, never trained on): each must raise an ML alert of its class and MITRE
# technique (BruteForce T1110, PortScan T1046) from the run's attacker. Replayed captures, not a
# live run: a held-out hydra run alone takes 45-75 s on the lab, so lab + agent + hydra do not
# fit the e2e budget. Usage: ml_holdout_e2e_test.sh BUILD_DIR. Data: $NETGUARD_LABDATA (default
# ../labdata beside the source tree: tests/lab/dataset.sh --split holdout output); exit 77
# (ctest: skipped) without it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: ml_holdout_e2e_test.sh BUILD_DIR}" && pwd)
data=${NETGUARD_LABDATA:-$repo/../labdata}/holdout
manifest=$data/manifest.tsv

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[ -s "$manifest" ] || { echo "SKIPPED: no held-out lab data in $data" && exit 77; }
work=$(mktemp -d /tmp/ngm-mlho.XXXXXX)
trap 'rm -rf "$work"' EXIT

# check SCENARIO CLASS TECHNIQUE: the scenario's first held-out run raises an ML alert of CLASS
# with TECHNIQUE from its attacker.
check() {
  local row seed attacker pcap alerts
  row=$(awk -F'\t' -v sc="$1" '$1 == "holdout" && $2 == sc { print; exit }' "$manifest")
  [ -n "$row" ] || fail "$1: no held-out run in $manifest"
  seed=$(cut -f3 <<<"$row")
  attacker=$(cut -f7 <<<"$row")
  pcap=$data/pcaps/$1-s$seed.pcap
  [ -s "$pcap" ] || fail "$pcap missing"
  alerts=$work/$1.jsonl
  timeout -k 5 60 "$build/agent/netguardd" --read "$pcap" --features corrected \
    --model "$repo/models/default" --alerts-json "$alerts" --log-level warn ||
    fail "netguardd --read $pcap failed"
  grep '"detector":"ml.xgboost"' "$alerts" | grep "\"class\":\"$2\"" |
    grep "\"mitre_technique\":\"$3\"" | grep -q "\"src_addr\":\"$attacker\"" ||
    fail "$1 seed $seed: no ML $2 ($3) alert from $attacker; ML alerts: $(grep -c ml.xgboost "$alerts")"
  echo "ok: $1 seed $seed -> ML $2 ($3) from $attacker"
}
check hydra_ssh BruteForce T1110
check nmap_syn PortScan T1046
