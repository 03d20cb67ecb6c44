#!/usr/bin/env bash
# Packaging e2e test: builds the .deb and .rpm with CPack, checks their file lists, conffile,
# dependencies and maintainer scripts, verifies the packaged systemd unit and, as root on a dpkg
# system without netguard installed, installs the .deb, reinstalls it over an edited config,
# removes and purges it. Everything it installs is purged on exit, also on failure.
# Usage: package_test.sh BUILD_DIR. Exit 77 (ctest: skipped) when a packaging tool is missing.
set -euo pipefail

build_dir=$(cd "${1:?usage: package_test.sh BUILD_DIR}" && pwd)
skip() {
  echo "SKIPPED: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
for tool in cpack dpkg-deb dpkg-shlibdeps fakeroot rpmbuild rpm systemd-analyze; do
  command -v "$tool" >/dev/null || skip "$tool not installed (scripts/install-deps.sh)"
done
[ -x "$build_dir/agent/netguardd" ] && [ -x "$build_dir/ctl/ngctl" ] ||
  skip "netguardd and ngctl are not built in $build_dir"

work=$(mktemp -d /tmp/netguard-package-test.XXXXXX)
installed=""
group_existed=""
getent group netguard >/dev/null && group_existed=1
pin_dir=/sys/fs/bpf/netguard-package-test-$$
netns=""
daemon=""
users_made=""
cleanup() {
  rc=$?
  [ -z "$daemon" ] || kill -9 "$daemon" 2>/dev/null || true
  [ -z "$netns" ] || ip netns del "$netns" 2>/dev/null || true
  if [ -n "$installed" ]; then
    dpkg --purge netguard >"$work/cleanup-purge.log" 2>&1 || cat "$work/cleanup-purge.log" >&2
    rm -rf /etc/netguard /var/lib/netguard
  fi
  if [ -n "$users_made" ]; then
    userdel "ngpkg$$" 2>/dev/null || true
    userdel "ngpko$$" 2>/dev/null || true
  fi
  rm -rf /run/netguard
  [ -n "$group_existed" ] || ! getent group netguard >/dev/null || groupdel netguard
  rm -rf "$pin_dir" "$work"
  exit $rc
}
trap cleanup EXIT

contains() { # contains FILE PATTERN WHAT
  grep -Eq -- "$2" "$1" || {
    cat "$1" >&2
    fail "$3: no match for /$2/ in the output above"
  }
}

echo "== cpack"
for gen in DEB RPM; do
  cpack -G "$gen" --config "$build_dir/CPackConfig.cmake" -B "$work/$gen" >"$work/cpack-$gen.log" 2>&1 ||
    {
      cat "$work/cpack-$gen.log" >&2
      fail "cpack -G $gen"
    }
done
deb=$(ls "$work"/DEB/netguard_*.deb)
rpm_file=$(ls "$work"/RPM/netguard-*.rpm)
echo "built $(basename "$deb") and $(basename "$rpm_file")"

echo "== .deb contents, control, scripts"
dpkg-deb -c "$deb" >"$work/deb-files"
for f in ./usr/sbin/netguardd ./usr/bin/ngctl ./usr/bin/ngtrain ./lib/systemd/system/netguard.service \
  ./etc/netguard/netguard.yaml ./etc/netguard/rules.yaml \
  ./usr/share/netguard/models/default/bundle.json; do
  contains "$work/deb-files" " $f\$" "deb file list"
done
# The web dashboard, when this build made it (NETGUARD_DASHBOARD).
if [ -f "$build_dir/dashboard/dist/index.html" ]; then
  contains "$work/deb-files" " ./usr/share/netguard/dashboard/index.html\$" "deb file list"
fi
dpkg-deb -f "$deb" Package Version Architecture Depends Maintainer Description >"$work/deb-control"
contains "$work/deb-control" "^Version: [0-9]+\.[0-9]+\.[0-9]+-1$" "deb version"
for dep in libbpf1 'libgrpc\+\+1' libsqlite3-0 libyaml-cpp0 'libstdc\+\+6' iproute2 passwd procps; do
  contains "$work/deb-control" "^Depends: .*\b$dep\b" "deb Depends"
done
dpkg-deb -e "$deb" "$work/DEBIAN"
contains "$work/DEBIAN/conffiles" "^/etc/netguard/netguard.yaml$" "deb conffiles"
contains "$work/DEBIAN/conffiles" "^/etc/netguard/rules.yaml$" "deb conffiles"
for s in postinst prerm postrm; do
  [ -x "$work/DEBIAN/$s" ] || fail "deb has no executable $s"
  sh -n "$work/DEBIAN/$s" || fail "deb $s: shell syntax"
done
contains "$work/DEBIAN/postinst" "groupadd --system" "postinst"
contains "$work/DEBIAN/prerm" "ng_xdp_ingress" "prerm"
contains "$work/DEBIAN/postrm" "/var/lib/netguard" "postrm"

echo "== .rpm contents, requires, config, scripts"
rpm -qlp "$rpm_file" >"$work/rpm-files" 2>/dev/null
for f in /usr/sbin/netguardd /usr/bin/ngctl /usr/bin/ngtrain /lib/systemd/system/netguard.service \
  /etc/netguard/netguard.yaml /etc/netguard/rules.yaml \
  /usr/share/netguard/models/default/bundle.json; do
  contains "$work/rpm-files" "^$f\$" "rpm file list"
done
contains "$work/rpm-files" "." "rpm file list" # not empty
! grep -Eq '^(/lib|/lib/systemd|/lib/systemd/system|/etc|/usr|/usr/sbin|/usr/bin)$' \
  "$work/rpm-files" || fail "the rpm claims a system directory: $(cat "$work/rpm-files")"
rpm -qpR "$rpm_file" >"$work/rpm-requires" 2>/dev/null
for dep in 'libbpf\.so' 'libgrpc\+\+\.so' 'libsqlite3\.so' '^iproute$' '^shadow-utils$'; do
  contains "$work/rpm-requires" "$dep" "rpm Requires"
done
rpm -qpc "$rpm_file" >"$work/rpm-config" 2>/dev/null
contains "$work/rpm-config" "^/etc/netguard/netguard.yaml$" "rpm %config"
contains "$work/rpm-config" "^/etc/netguard/rules.yaml$" "rpm %config"
rpm -qp --scripts "$rpm_file" >"$work/rpm-scripts" 2>/dev/null
contains "$work/rpm-scripts" "^postinstall scriptlet" "rpm %post"
contains "$work/rpm-scripts" "^preuninstall scriptlet" "rpm %preun"
contains "$work/rpm-scripts" "groupadd --system" "rpm %post"

echo "== systemd-analyze verify (the packaged unit, ExecStart on the packaged netguardd)"
dpkg-deb -x "$deb" "$work/root"
unit="$work/netguard.service"
sed "s#/usr/sbin/netguardd#$work/root/usr/sbin/netguardd#" \
  "$work/root/lib/systemd/system/netguard.service" >"$unit"
systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || {
  cat "$work/verify.log" >&2
  fail "systemd-analyze verify"
}
[ ! -s "$work/verify.log" ] || {
  cat "$work/verify.log" >&2
  fail "systemd-analyze verify printed warnings"
}
contains "$unit" "^ExecStart=.*/usr/sbin/netguardd --config /etc/netguard/netguard.yaml$" "unit"
contains "$unit" "^CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_PERFMON CAP_NET_RAW$" "unit"
for key in "ProtectSystem=strict" "ProtectHome=yes" "NoNewPrivileges=yes" \
  "StateDirectory=netguard" "RuntimeDirectory=netguard" "Restart=on-failure"; do
  contains "$unit" "^$key\$" "unit"
done
"$work/root/usr/sbin/netguardd" --help >/dev/null || fail "packaged netguardd --help"
"$work/root/usr/bin/ngctl" --help >/dev/null || fail "packaged ngctl --help"

[ "$(id -u)" -eq 0 ] || {
  echo "PASS (no detach or install checks: need root)"
  exit 0
}

echo "== prerm detaches what a killed agent left (packaged netguardd and prerm, in a netns)"
netns=ng-package-test-$$
ip netns add "$netns"
ip -n "$netns" link add ng0 type veth peer name ng1
ip -n "$netns" link set ng0 up
ip -n "$netns" link set ng1 up
# `ip netns exec` mounts a private /sys: the agent mounts its own bpffs instance there, so its
# pins vanish with the namespace.
ip netns exec "$netns" "$work/root/usr/sbin/netguardd" --interface ng0 --store "$work/ng.db" \
  --socket "$work/ng.sock" --bpf-pin-dir /sys/fs/bpf/netguard-package-test >"$work/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do
  ip -n "$netns" -d link show dev ng0 | grep -q "name ng_xdp_ingress" && break
  kill -0 "$daemon" 2>/dev/null || break
  sleep 0.1
done
ip -n "$netns" -d link show dev ng0 | grep -q "name ng_xdp_ingress" || {
  cat "$work/daemon.log" >&2
  # No BPF here (no BTF, a container without CAP_BPF): as the bpf and e2e suites do, skip.
  grep -q "load the eBPF data plane failed" "$work/daemon.log" && skip "the eBPF data plane cannot load"
  fail "the packaged netguardd did not attach to ng0"
}
kill -9 "$daemon"
wait "$daemon" 2>/dev/null || true
daemon=""
tc -n "$netns" filter show dev ng0 egress | grep -q "name ng_tc_egress" ||
  fail "no TC egress program left by the killed agent"
sed '/^case/,$d' "$work/DEBIAN/prerm" >"$work/prerm-functions.sh"
ip netns exec "$netns" sh -c ". '$work/prerm-functions.sh' && ng_detach_all"
! ip -n "$netns" -d link show dev ng0 | grep -q "prog/xdp" || fail "prerm left XDP on ng0"
! tc -n "$netns" filter show dev ng0 egress | grep -q "ng_tc_egress" || fail "prerm left TC on ng0"
ip netns del "$netns"
netns=""

if ! command -v dpkg >/dev/null ||
  dpkg-query -W -f='${Status}' netguard 2>/dev/null | grep -q installed ||
  [ -e /etc/netguard ] || [ -e /var/lib/netguard ]; then
  echo "PASS (not installed: needs a dpkg system without netguard or /etc/netguard)"
  exit 0
fi

echo "== install, run as the unit would, ngctl through the group socket, upgrade, remove, purge"
export DEBIAN_FRONTEND=noninteractive
# The "next version": the same build as release 2, so dpkg runs the upgrade paths of the
# maintainer scripts (old prerm upgrade, new postinst configure OLD-VERSION).
cpack -G DEB --config "$build_dir/CPackConfig.cmake" -B "$work/DEB2" \
  -D CPACK_DEBIAN_PACKAGE_RELEASE=2 >"$work/cpack-DEB2.log" 2>&1 || {
  cat "$work/cpack-DEB2.log" >&2
  fail "cpack -G DEB (release 2)"
}
deb2=$(ls "$work"/DEB2/netguard_*-2_*.deb)
installed=1
dpkg -i "$deb" </dev/null >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  fail "dpkg -i"
}
getent group netguard >/dev/null || fail "postinst did not create group netguard"
[ -x /usr/sbin/netguardd ] && [ -x /usr/bin/ngctl ] || fail "binaries not installed"
/usr/sbin/netguardd --help >/dev/null || fail "installed netguardd --help"

# The admin's edits: the interface to monitor (a veth in a namespace) and a pin directory of the
# test's own. The upgrade must keep both.
sed -i -e "s#bpf_pin_dir: /sys/fs/bpf/netguard #bpf_pin_dir: $pin_dir #" \
  -e "s#^  interfaces: \[\] #  interfaces: [ng0] #" /etc/netguard/netguard.yaml
contains /etc/netguard/netguard.yaml "^  bpf_pin_dir: $pin_dir " "edited config"
contains /etc/netguard/netguard.yaml "^  interfaces: \[ng0\] " "edited config"

netns=ng-package-test-$$
ip netns add "$netns"
ip -n "$netns" link add ng0 type veth peer name ng1
ip -n "$netns" link set ng0 up
ip -n "$netns" link set ng1 up
# As the unit runs it (no systemd as PID 1 here): its ExecStart with only the unit's bounding and
# ambient capabilities, no new privileges, supplementary group netguard, the unit's runtime and
# state directories. nsenter, not `ip netns exec`, so the pins land in the host's bpffs.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' /lib/systemd/system/netguard.service |
  tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/netguard.service)
mkdir -p -m 0755 /run/netguard
mkdir -p -m 0750 /var/lib/netguard
start_agent() {
  # shellcheck disable=SC2086
  nsenter --net="/run/netns/$netns" setpriv --bounding-set "-all,$caps" \
    --inh-caps "-all,$caps" --ambient-caps "-all,$caps" --no-new-privs \
    --groups "$(getent group netguard | cut -d: -f3)" -- $exec_start >>"$work/unit.log" 2>&1 &
  daemon=$!
  for _ in $(seq 100); do
    [ -S /run/netguard/netguard.sock ] && ip -n "$netns" -d link show dev ng0 |
      grep -q "name ng_xdp_ingress" && return 0
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/unit.log" >&2
  fail "the installed netguardd did not start as the unit would"
}
start_agent
stat -c '%a %G' /run/netguard/netguard.sock | grep -qx "660 netguard" ||
  fail "socket is not 0660 group netguard: $(stat -c '%a %G' /run/netguard/netguard.sock)"

# An unprivileged member of group netguard uses the installed ngctl; a non-member cannot.
member=ngpkg$$
outsider=ngpko$$
useradd --no-create-home --groups netguard "$member"
useradd --no-create-home "$outsider"
users_made=1
runuser -u "$member" -- /usr/bin/ngctl status >"$work/ngctl-status.log" 2>&1 || {
  cat "$work/ngctl-status.log" >&2
  fail "ngctl status as a member of group netguard"
}
contains "$work/ngctl-status.log" "ng0" "ngctl status (interface)"
runuser -u "$member" -- /usr/bin/ngctl block 192.0.2.0/24 --reason package-test \
  >"$work/ngctl-block.log" 2>&1 || {
  cat "$work/ngctl-block.log" >&2
  fail "ngctl block as a member of group netguard"
}
if runuser -u "$outsider" -- /usr/bin/ngctl status >"$work/ngctl-outsider.log" 2>&1; then
  fail "ngctl status worked for a user outside group netguard"
fi
[ -e "$pin_dir/ng_block_v4" ] || fail "no pinned blocklist in $pin_dir: $(ls "$pin_dir" 2>&1)"

# Upgrade while the agent runs: config edits kept, pins and the running agent untouched.
dpkg -i "$deb2" </dev/null >"$work/upgrade.log" 2>&1 || {
  cat "$work/upgrade.log" >&2
  fail "dpkg -i (upgrade to release 2)"
}
dpkg-query -W -f='${Version}' netguard | grep -q -- '-2$' || fail "not upgraded to release 2"
contains /etc/netguard/netguard.yaml "^  bpf_pin_dir: $pin_dir " "config after upgrade"
contains /etc/netguard/netguard.yaml "^  interfaces: \[ng0\] " "config after upgrade"
kill -0 "$daemon" 2>/dev/null || fail "the upgrade stopped the agent (postinst restarts through systemd only)"
runuser -u "$member" -- /usr/bin/ngctl blocks >"$work/ngctl-blocks.log" 2>&1 || {
  cat "$work/ngctl-blocks.log" >&2
  fail "ngctl blocks after the upgrade"
}
contains "$work/ngctl-blocks.log" "192\.0\.2\.0/24" "block after the upgrade"

# Remove with the (now replaced, "(deleted)") agent running: prerm stops it, it detaches, the
# pins go.
dpkg --remove netguard </dev/null >"$work/remove.log" 2>&1 || {
  cat "$work/remove.log" >&2
  fail "dpkg --remove"
}
for _ in $(seq 50); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$daemon" 2>/dev/null || fail "remove did not stop the running agent"
daemon=""
! ip -n "$netns" -d link show dev ng0 | grep -q "prog/xdp" || fail "remove left XDP on ng0"
! tc -n "$netns" filter show dev ng0 egress | grep -q "ng_tc_egress" || fail "remove left TC on ng0"
[ ! -e "$pin_dir" ] || fail "prerm left the pin directory $pin_dir"
[ ! -e /usr/sbin/netguardd ] || fail "remove left /usr/sbin/netguardd"
[ -f /etc/netguard/netguard.yaml ] || fail "remove (not purge) deleted the conffile"
dpkg --purge netguard </dev/null >"$work/purge.log" 2>&1 || {
  cat "$work/purge.log" >&2
  fail "dpkg --purge"
}
installed=""
[ ! -e /etc/netguard ] || fail "purge left /etc/netguard"
[ ! -e /var/lib/netguard ] || fail "purge left /var/lib/netguard"
echo "PASS"
