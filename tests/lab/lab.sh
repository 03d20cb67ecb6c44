#!/usr/bin/env bash
# lab.sh - the traffic lab: network namespaces joined by veth pairs, real services on a victim.
#
#   att1   10.200.1.66 ─┐
#   att2   10.200.1.67 ─┤ ns lan: bridge nglbr0
#   cli    10.200.1.20 ─┤
#                       └─ nglp-up ══ nglup0 10.200.1.1  ┐ ns sensor: router (ip_forward=1,
#   victim 10.200.2.10 ngleth0 ═══════ nglvic0 10.200.2.1 ┘ no default route); capture on nglup0
#          + 10.200.3.11-22 (sshd only; routed by the sensor)
#
# Namespaces are "$LAB_PREFIX-<role>" (default prefix ngl). The victim runs nginx :80 (static
# files and /item, a SQL-injectable app), sshd :22, dnsmasq :53 (zone lab.test), vsftpd :21 and
# iperf3 :5201; labuser/labpass logs in to ssh and ftp. Offloads are off on every veth, so
# captures hold wire-sized packets with valid checksums. Nothing is routed out of the lab.
#
# Usage: lab.sh up | down | status | x ROLE CMD...   (ROLE: lan sensor victim att1 att2 cli)
# Env: LAB_PREFIX (ngl), LAB_DIR (/tmp/$LAB_PREFIX-lab).
set -Eeuo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab-env.sh
source "$HERE/lab-env.sh"

die() {
  echo "lab.sh: $*" >&2
  exit 1
}

new_ns() {
  ip netns add "$1"
  nsx "$1" ip link set lo up
  # IPv4 only: no router solicitations or MLD reports in the captures
  nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# Bring a link up with segmentation and checksum offloads off (else tcpdump sees 64 KB GSO
# super-packets and bad checksums, and the flow features are wrong).
link_up() {
  nsx "$1" ip link set "$2" up
  nsx "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true
}

# veth NS_A NAME_A NS_B NAME_B
veth() {
  ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
  link_up "$1" "$2"
  link_up "$3" "$4"
}

build_topology() {
  local ns
  for ns in $LAB_NAMESPACES; do new_ns "$ns"; done
  nsx "$NS_LAN" ip link add nglbr0 type bridge
  nsx "$NS_LAN" ip link set nglbr0 up
  veth "$NS_ATT1" "$HOST_IF" "$NS_LAN" nglp-att1
  veth "$NS_ATT2" "$HOST_IF" "$NS_LAN" nglp-att2
  veth "$NS_CLIENT" "$HOST_IF" "$NS_LAN" nglp-cli
  veth "$NS_SENSOR" "$SENSOR_IF" "$NS_LAN" nglp-up
  veth "$NS_VICTIM" "$HOST_IF" "$NS_SENSOR" "$SENSOR_VIC_IF"
  for port in nglp-att1 nglp-att2 nglp-cli nglp-up; do nsx "$NS_LAN" ip link set "$port" master nglbr0; done
  nsx "$NS_ATT1" ip addr add "$ATT1_IP/24" dev "$HOST_IF"
  nsx "$NS_ATT2" ip addr add "$ATT2_IP/24" dev "$HOST_IF"
  nsx "$NS_CLIENT" ip addr add "$CLIENT_IP/24" dev "$HOST_IF"
  nsx "$NS_SENSOR" ip addr add "$SENSOR_LAN_IP/24" dev "$SENSOR_IF"
  nsx "$NS_SENSOR" ip addr add "$SENSOR_VIC_IP/24" dev "$SENSOR_VIC_IF"
  nsx "$NS_VICTIM" ip addr add "$VICTIM_IP/24" dev "$HOST_IF"
  local farm
  for farm in $FARM_HOSTS; do nsx "$NS_VICTIM" ip addr add "$farm/32" dev "$HOST_IF"; done
  nsx "$NS_SENSOR" ip route add "$FARM_NET" via "$VICTIM_IP"
  for ns in "$NS_ATT1" "$NS_ATT2" "$NS_CLIENT"; do
    nsx "$ns" ip route add "$VICTIM_NET" via "$SENSOR_LAN_IP"
    nsx "$ns" ip route add "$FARM_NET" via "$SENSOR_LAN_IP"
  done
  # The victim routes back to the LAN only: replies to spoofed sources are dropped right there.
  nsx "$NS_VICTIM" ip route add 10.200.1.0/24 via "$SENSOR_VIC_IP"
  # rp_filter off: the sensor must forward the spoofed floods to the victim like a plain router.
  nsx "$NS_SENSOR" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0 "net.ipv4.conf.$SENSOR_IF.rp_filter=0"
}

# Services need their own pid, log and temp paths: the host's /run and /var/log belong to others.
write_configs() {
  local www=$LAB_DIR/www
  mkdir -p "$LAB_RUN/nginx-tmp" "$www" /run/sshd /var/run/vsftpd/empty
  chown www-data "$LAB_RUN/nginx-tmp"
  chmod 755 "$LAB_DIR" "$www"
  echo '<html><body><h1>lab shop</h1><a href="/item?id=1">lamp</a></body></html>' >"$www/index.html"
  # Downloads of several sizes for the benign client (random bytes: nothing compresses them).
  local size
  for size in 4 32 256 1024 4096; do
    [ -s "$www/f$size.bin" ] || head -c "${size}K" /dev/urandom >"$www/f$size.bin"
  done
  chmod 644 "$www"/*
  cat >"$LAB_DIR/nginx.conf" <<EOF
user www-data;
worker_processes 1;
pid $LAB_RUN/nginx.pid;
error_log $LAB_RUN/nginx-error.log;
events { worker_connections 2048; }
http {
  access_log $LAB_RUN/nginx-access.log;
  client_body_temp_path $LAB_RUN/nginx-tmp/body;
  proxy_temp_path $LAB_RUN/nginx-tmp/proxy;
  fastcgi_temp_path $LAB_RUN/nginx-tmp/fastcgi;
  uwsgi_temp_path $LAB_RUN/nginx-tmp/uwsgi;
  scgi_temp_path $LAB_RUN/nginx-tmp/scgi;
  types { text/html html; application/octet-stream bin; }
  server {
    listen $VICTIM_IP:80 default_server;
    root $www;
    location /item { proxy_pass http://127.0.0.1:8080; }
  }
}
EOF
  # shellcheck disable=SC2086  # FARM_HOSTS: one ListenAddress a word
  cat >"$LAB_DIR/sshd_config" <<EOF
ListenAddress $VICTIM_IP
$(printf 'ListenAddress %s\n' $FARM_HOSTS)
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_rsa_key
PidFile $LAB_RUN/sshd.pid
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM yes
PermitRootLogin no
AllowUsers $LAB_USER
MaxAuthTries 3
MaxStartups 100:30:200
UseDNS no
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
  cat >"$LAB_DIR/vsftpd.conf" <<EOF
listen=YES
listen_address=$VICTIM_IP
listen_ipv6=NO
background=YES
anonymous_enable=NO
local_enable=YES
write_enable=NO
pam_service_name=vsftpd
secure_chroot_dir=/var/run/vsftpd/empty
xferlog_enable=YES
vsftpd_log_file=$LAB_RUN/vsftpd.log
pasv_enable=YES
pasv_min_port=30000
pasv_max_port=30999
max_per_ip=64
max_clients=256
EOF
}

ensure_user() {
  id "$LAB_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$LAB_USER"
  echo "$LAB_USER:$LAB_PASS" | chpasswd
  # Files the benign FTP and scp scenarios fetch.
  local size
  for size in 8 64 512; do
    [ -s "/home/$LAB_USER/doc$size.bin" ] || head -c "${size}K" /dev/urandom >"/home/$LAB_USER/doc$size.bin"
  done
  chown "$LAB_USER:" "/home/$LAB_USER"/doc*.bin
}

start_services() {
  nsx "$NS_VICTIM" /usr/sbin/nginx -c "$LAB_DIR/nginx.conf"
  nsx "$NS_VICTIM" /usr/sbin/sshd -f "$LAB_DIR/sshd_config" -E "$LAB_RUN/sshd.log"
  nsx "$NS_VICTIM" /usr/sbin/dnsmasq --conf-file=/dev/null --no-resolv --no-hosts \
    --bind-interfaces --listen-address="$VICTIM_IP" --port=53 \
    --address=/lab.test/"$VICTIM_IP" --mx-host=lab.test,mail.lab.test,10 \
    --txt-record=lab.test,"v=spf1 -all" --cache-size=0 \
    --pid-file="$LAB_RUN/dnsmasq.pid" --log-facility="$LAB_RUN/dnsmasq.log" --user=dnsmasq
  nsx "$NS_VICTIM" /usr/sbin/vsftpd "$LAB_DIR/vsftpd.conf"
  nsx "$NS_VICTIM" iperf3 -s -D -B "$VICTIM_IP" --pidfile "$LAB_RUN/iperf3.pid" \
    --logfile "$LAB_RUN/iperf3.log"
  nsx "$NS_VICTIM" setsid /usr/bin/python3 "$HERE/vulnapp.py" >"$LAB_RUN/vulnapp.log" 2>&1 </dev/null &
  wait_listening
}

# Wait (<= 10 s) until every service listens, so the first scenario never races a start-up.
wait_listening() {
  local want="$VICTIM_IP:80 $VICTIM_IP:22 $VICTIM_IP:21 $VICTIM_IP:5201 127.0.0.1:8080" i addr listening
  for i in $(seq 50); do
    listening=$(nsx "$NS_VICTIM" ss -Hltn | awk '{print $4}')
    for addr in $want; do grep -qxF "$addr" <<<"$listening" || continue 2; done
    nsx "$NS_VICTIM" ss -Hlun | awk '{print $4}' | grep -qxF "$VICTIM_IP:53" && return 0
    sleep 0.2
  done
  die "services did not come up (logs in $LAB_RUN)"
}

up() {
  local ns
  for ns in $LAB_NAMESPACES; do
    ! ns_exists "$ns" || die "namespace $ns exists: run '$0 down' first"
  done
  mkdir -p "$LAB_RUN"
  # A half-built lab is torn down, never left behind.
  trap 'down >/dev/null 2>&1' ERR
  build_topology
  write_configs
  ensure_user
  start_services
  trap - ERR
  status
}

# Stop everything started in the lab's namespaces (only our own processes live there), then
# delete the namespaces, which deletes every link.
down() {
  local ns
  local -a pids
  for ns in $LAB_NAMESPACES; do
    ns_exists "$ns" || continue
    mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null || true)
    [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  done
  sleep 0.5
  for ns in $LAB_NAMESPACES; do
    ns_exists "$ns" || continue
    mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null || true)
    [ ${#pids[@]} -eq 0 ] || kill -9 "${pids[@]}" 2>/dev/null || true
    # tolerate a namespace that vanished meanwhile: gone is what down wants
    ip netns del "$ns" 2>/dev/null || ! ns_exists "$ns" || die "cannot delete namespace $ns"
  done
  echo "lab $LAB_PREFIX down"
}

status() {
  local ns
  for ns in $LAB_NAMESPACES; do
    if ns_exists "$ns"; then
      echo "$ns: $(nsx "$ns" ip -br -4 addr | awk '$1 != "lo" {printf "%s %s  ", $1, $3}')"
    else
      echo "$ns: absent"
    fi
  done
  if ns_exists "$NS_VICTIM"; then
    nsx "$NS_VICTIM" ss -Hlntu | awk '{print "  victim listens", $1, $5}'
  fi
}

role_ns() {
  case "$1" in
    lan | sensor | victim | att1 | att2) echo "$LAB_PREFIX-$1" ;;
    cli) echo "$NS_CLIENT" ;;
    *) die "unknown role '$1' (lan sensor victim att1 att2 cli)" ;;
  esac
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  x)
    [ $# -ge 3 ] || die "usage: lab.sh x ROLE CMD..."
    ns=$(role_ns "$2")
    shift 2
    nsx "$ns" "$@"
    ;;
  *)
    sed -n '2,16p' "$0"
    exit 2
    ;;
esac
