#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR disable=SC2034,SC2154  # variables shared with live-agent.sh
# Rules live e2e: every scenario of the lab through the behavioural rules as shipped. Brings up
# its own lab (tests/lab/lab.sh, prefix nglr) and runs netguardd (eBPF backend) on the lab's
# sensor interface with packaging/rules.yaml, unchanged.
#   - Each attack scenario of scenarios.sh (ATTACK_SCENARIOS, and RULE_SCENARIOS: credential
#     spraying, ARP spoofing, beaconing), split "rules" (the attack at a real attack's size),
#     seed 1001, against a freshly started agent (so no earlier alert's aggregation window hides
#     it): `ngctl alerts` must show an alert of its rule (SCENARIO_RULES) with its class's MITRE
#     technique (CLASS_MITRE), from the attacker or against the victim. The attack is stopped as
#     soon as the alert is visible, or at its bound. sqlmap has no rule (the ML detector's).
#   - Then every benign scenario (held-out split, seed 1001) against one agent: no rule alert.
# Needs root and the lab's tools (scripts/install-deps.sh), else exit 77 (ctest: skipped). Traffic
# stays between the lab's namespaces; the daemon, the tools, the namespaces and the BPF pins are
# removed on exit, also on failure. Usage: rules_live_e2e_test.sh BUILD_DIR [SCENARIO ...] (default:
# every scenario).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: rules_live_e2e_test.sh BUILD_DIR [SCENARIO ...]}" && pwd)
shift
ALERT_WAIT=15 # s after an attack ended: flow end -> sweep -> rules -> store
SEED=1001

LAB_PREFIX=nglr
# shellcheck source=live-agent.sh
source "$here/live-agent.sh"
live_lab_up nginx sshd dnsmasq vsftpd iperf3 nmap nping hydra sshpass hping3 nft slowhttptest \
  curl wget dig openssl

# The shipped rules and flow timeouts (slow_http needs connections idle 11 s between headers
# to stay one flow), a short sweep interval. The ML detector is off: its live test is ml_live_e2e.
cat >"$state/netguard.yaml" <<EOF
flows:
  sweep_interval: 200ms
rules:
  file: $repo/packaging/rules.yaml
model:
  enabled: false
EOF

# Alerts stored after alert id $after, one JSON object a line.
after=0
new_alerts() {
  ctl alerts --limit 10000 2>/dev/null | awk -v after="$after" \
    'match($0, /"id":"?[0-9]+/) { id = substr($0, RSTART + 5); gsub(/"/, "", id); if (id + 0 > after) print }'
}
last_alert_id() {
  ctl alerts --limit 1 | grep -Eo '"id":"?[0-9]+' | grep -Eo '[0-9]+$' || echo 0
}

# rule_alert RULES TECHNIQUE: a new alert of one of RULES with TECHNIQUE, from one of the
# scenario's attackers (the spoofed range included) or against the victim.
rule_alert() {
  local rule n
  for rule in $1; do
    n=$(new_alerts | grep -F "\"detector\":\"rule.$rule\"" | grep -F "\"mitreTechnique\":\"$2\"" |
      grep -Ec "\"srcAddr\":\"(${attackers_re})\"|\"dstAddr\":\"${VICTIM_IP//./\\.}\"" || true)
    [ "${n:-0}" -eq 0 ] || return 0
  done
  return 1
}

# alert_source_is RULE SOURCE: a new alert of RULE whose evidence says "source": SOURCE.
alert_source_is() {
  local n # grep -c, not -q: an early exit would fail the pipeline (pipefail, SIGPIPE)
  n=$(new_alerts | grep -F "\"detector\":\"rule.$1\"" | grep -Fc "\\\"source\\\":\\\"$2\\\"" || true)
  [ "${n:-0}" -gt 0 ]
}

# Arguments name the scenarios to run (default: all).
attack_scenarios="$ATTACK_SCENARIOS $RULE_SCENARIOS" benign_scenarios=$BENIGN_SCENARIOS
if [ $# -gt 0 ]; then
  attack_scenarios=$(printf '%s\n' "$@" | grep -Fxf <(tr -s ' ' '\n' <<<"$ATTACK_SCENARIOS $RULE_SCENARIOS") || true)
  benign_scenarios=$(printf '%s\n' "$@" | grep -Fxf <(tr -s ' ' '\n' <<<"$BENIGN_SCENARIOS") || true)
fi
for name in $attack_scenarios; do
  rules=${SCENARIO_RULES[$name]:?no SCENARIO_RULES entry for $name}
  if [ "$rules" = - ]; then
    echo "skip: $name has no behavioural rule (the ML detector's)"
    continue
  fi
  scenario "$name" rules "$SEED"
  technique=${SC_TECHNIQUE:-${CLASS_MITRE[$SC_CLASS]}}
  attackers_re=""
  for address in $SC_ATTACKERS; do
    # SPOOF_NET (198.18.0.0/15) as a pattern; other entries are addresses
    [ "$address" = "$SPOOF_NET" ] && address='198\.1[89]\.[0-9]+\.[0-9]+' || address=${address//./\\.}
    attackers_re+=${attackers_re:+|}$address
  done
  # ARP spoofing is alerted on the address whose MAC changed: the client's
  [ "$name" != arp_spoof ] || attackers_re=${CLIENT_IP//./\\.}
  agent_start "$state/netguard.yaml"
  after=$(last_alert_id)
  started=$SECONDS
  attack_start "$state/$name.log"
  wait_until "$ALERT_WAIT" rule_alert "$rules" "$technique" ||
    fail "$name raised no $rules ($technique) alert in $((SECONDS - started)) s: $(new_alerts)"
  # A flood rule names its sender only when that sender made the flood (docs/rules.md).
  case "$name" in
    flood_*_spoofed) source=sampled ;;
    flood_*) source=dominant ;;
    *) source="" ;;
  esac
  [ -z "$source" ] || alert_source_is "$rules" "$source" ||
    fail "$name: the $rules alert's source is not $source: $(new_alerts)"
  echo "ok: $name -> $(new_alerts | grep -Eo '"rule\.[a-z_]+"' | tr -d '"' | sort -u | tr '\n' ' ')" \
    "($technique) after $((SECONDS - started)) s"
  attack_stop
  agent_stop
done

[ -n "$benign_scenarios" ] || exit 0
agent_start "$state/netguard.yaml"
after=$(last_alert_id)
for name in $benign_scenarios; do
  scenario "$name" holdout "$SEED"
  started=$SECONDS
  timeout -k 5 "$SC_BOUND" nsenter --net="/run/netns/$SC_NS" bash -c "$SC_CMD" >"$state/$name.log" 2>&1 ||
    fail "$name exited $?: $(tail -n 5 "$state/$name.log")"
  echo "$name done in $((SECONDS - started)) s"
done
sleep 32 # the last flows end (idle timeout 30 s) and reach the rules
[ "$(ctl flows --addr "$CLIENT_IP" --limit 10000 | grep -c .)" -ge 50 ] ||
  fail "the agent recorded under 50 flows of the benign client"
benign_alerts=$(new_alerts | grep -F '"detector":"rule.' || true)
[ -z "$benign_alerts" ] || fail "the benign scenarios raised rule alerts: $benign_alerts"
echo "ok: the benign scenarios raised no rule alert"
echo "PASS"
