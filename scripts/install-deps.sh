#!/usr/bin/env bash
# Installs every build and test dependency of NetGuard from Debian 12's apt repositories.
# Idempotent: installs only what is missing. Run as root.
set -euo pipefail

PACKAGES=(
  # toolchain
  cmake ninja-build g++ pkg-config clang llvm clang-format
  # eBPF
  libbpf-dev bpftool libelf-dev zlib1g-dev xdp-tools
  # agent libraries
  libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev libsqlite3-dev nlohmann-json3-dev
  # gRPC API and ngctl
  libgrpc++-dev libabsl-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev iproute2 ethtool
  # control-plane e2e test: HTTP client and SYN scanner run in the peer namespace
  curl nmap
  # pcap backends, the pcap-live e2e test's reference capture, and the offline_features
  # benchmark's peers (ndpiReader; argus-server provides /usr/sbin/argus)
  libpcap-dev tcpdump libndpi-bin argus-server
  # packaging test: cpack -G DEB (dpkg-shlibdeps) and -G RPM; systemd-analyze for the unit
  dpkg-dev fakeroot rpm systemd
  # ML: ngtrain and the agent's classifier (XGBoost C API)
  libxgboost-dev
  # model bundles: SHA-256 of the model files (libcrypto)
  libssl-dev
  # lab (tests/lab): real services in the victim namespace and real attack tools
  nginx-light openssh-server sshpass dnsmasq-base vsftpd lftp iperf3 dnsutils wget
  hping3 hydra slowhttptest sqlmap netsniff-ng tcpreplay fcgiwrap
  # lab: seeded inputs (openssl enc keystreams) and dataset.sh's wall times (bc)
  openssl bc
  # lab: stateless source rewrite of random-source floods into their dedicated range
  nftables
  # dashboard: offline GeoIP lookups; headless browser tests
  geoip-database chromium
  # HTTP/JSON face of the API (cpp-httplib) and the GeoIP readers (legacy .dat, MaxMind .mmdb)
  libcpp-httplib-dev libgeoip-dev libmaxminddb-dev
  # tests: a small MaxMind .mmdb written at test time (tests/unit/make_test_mmdb.pl)
  libmaxmind-db-writer-perl
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (sudo $0)" >&2
  exit 1
fi

# The dashboard builds with npm; machines of this kind ship Node.js and npm, others get Debian's.
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps.sh: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Package postinst scripts must not start the lab's daemons (nginx, sshd, ...) on the host.
[ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
