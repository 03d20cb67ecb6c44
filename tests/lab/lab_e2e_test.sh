#!/usr/bin/env bash
# Lab e2e test: brings up its own lab (prefix nglt, so it can run beside a dataset run), runs one
# benign scenario (benign_web) and one attack (nmap_syn) with a fixed seed through dataset.sh, and
# checks the labelled CSVs: attack flows labelled PortScan, background and benign flows BENIGN,
# every row labelled by the attacker-address rule; the same seed gives the same parameters, another
# seed or the holdout split other ones. The lab is torn down on exit, also on failure.
# Usage: lab_e2e_test.sh BUILD_DIR. Exit 77 (ctest: skipped) without root or a lab tool.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: lab_e2e_test.sh BUILD_DIR}" && pwd)

skip() {
  echo "SKIPPED: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
for tool in nsenter tcpdump nginx sshd dnsmasq vsftpd iperf3 nmap curl dig openssl; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || skip "$tool missing (scripts/install-deps.sh)"
done

export LAB_PREFIX=nglt
LAB_DIR=$(mktemp -d /tmp/nglt-lab.XXXXXX)
export LAB_DIR
work=$(mktemp -d /tmp/nglt-data.XXXXXX)
cleanup() {
  "$here/lab.sh" down >/dev/null 2>&1 || true
  rm -rf "$work" "$LAB_DIR"
}
trap cleanup EXIT

seed=22
scenarios="benign_web nmap_syn"
"$here/dataset.sh" --split train --out "$work/run" --seeds "$seed" --scenarios "$scenarios" \
  --build "$build"
for ns in nglt-victim nglt-sensor; do
  [ ! -e "/run/netns/$ns" ] || fail "dataset.sh left namespace $ns behind"
done

manifest=$work/run/manifest.tsv
# field NAME SCENARIO: a manifest column of the scenario's row.
field() {
  awk -F'\t' -v name="$1" -v sc="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $2 == sc { print $c[name] }' "$manifest"
}
[ "$(awk 'END { print NR }' "$manifest")" = 3 ] || fail "manifest should hold 2 runs: $(cat "$manifest")"
for sc in $scenarios; do
  [ "$(field rc "$sc")" = 0 ] || fail "$sc exited $(field rc "$sc")"
  csv=$work/run/$(field csv "$sc")
  [ "$(head -n 1 "$csv" | awk -F, '{ print $NF }')" = " Label" ] || fail "$csv: last column is not ' Label'"
  [ "$(awk 'END { print NR - 1 }' "$csv")" = "$(field flows "$sc")" ] || fail "$sc: manifest row count"
done

# Benign run: flows, all BENIGN.
web=$work/run/$(field csv benign_web)
[ "$(field flows benign_web)" -ge 50 ] || fail "benign_web: only $(field flows benign_web) flows"
awk -F, 'NR > 1 && $NF != "BENIGN" { exit 1 }' "$web" || fail "benign_web: a flow not labelled BENIGN"

# Attack run: every flow touching the attacker is PortScan, every other one BENIGN; the scan
# covers its port range; the client's background traffic is in the capture and stays BENIGN.
scan=$work/run/$(field csv nmap_syn)
attacker=$(field attackers nmap_syn)
ports=$(field params nmap_syn | tr ' ' '\n' | sed -n 's/^ports=//p')
awk -F, -v a="$attacker" 'NR > 1 { touches = $2 == a || $4 == a
    if ((touches && $NF != "PortScan") || (!touches && $NF != "BENIGN")) { print "bad row: " $0; exit 1 } }' \
  "$scan" || fail "nmap_syn: a flow labelled against the attacker-address rule"
[ "$(field flows_class nmap_syn)" -ge "$ports" ] ||
  fail "nmap_syn: $(field flows_class nmap_syn) PortScan flows for $ports ports"
[ "$(field flows_benign nmap_syn)" -ge 1 ] || fail "nmap_syn: no benign background flow"

# Parameters: a function of split, seed and scenario only.
params_of() { # SPLIT SEED DIR
  "$here/dataset.sh" --split "$1" --seeds "$2" --out "$3" --scenarios "$scenarios" --dry-run
  cut -f2,8 "$3/manifest.tsv"
}
[ "$(params_of train "$seed" "$work/again")" = "$(cut -f2,8 "$manifest")" ] ||
  fail "same seed, different parameters"
[ "$(params_of train $((seed + 1)) "$work/other-seed")" != "$(cut -f2,8 "$manifest")" ] ||
  fail "another seed gave the same parameters"
[ "$(params_of holdout "$seed" "$work/holdout")" != "$(cut -f2,8 "$manifest")" ] ||
  fail "the holdout split gave the training parameters"
echo "PASS: $(field flows benign_web) benign flows; nmap_syn $(field flows_class nmap_syn) PortScan +" \
  "$(field flows_benign nmap_syn) BENIGN flows"
