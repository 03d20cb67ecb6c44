// Copyright (c) NetGuard authors.
//
// The "peer" side of the XDP filter benchmark: xdp-tools' own xdp-filter BPF program, loaded
// stand-alone (no libxdp dispatcher, no pinning) so it can be timed with BPF_PROG_TEST_RUN.

#ifndef NETGUARD_BENCH_XDP_FILTER_PEER_H_
#define NETGUARD_BENCH_XDP_FILTER_PEER_H_

#include <netinet/in.h>

#include <cstdint>
#include <filesystem>
#include <string_view>

struct bpf_object;
struct bpf_map;

namespace netguard::bench {

/// Feature bits of an xdp-filter object, as stored in its "features" ELF section
/// (xdp-tools: xdp-filter/common_kern_user.h, FEAT_*).
namespace xdp_filter_feature {
inline constexpr uint32_t kTcp = 1u << 0;
inline constexpr uint32_t kUdp = 1u << 1;
inline constexpr uint32_t kIpv6 = 1u << 2;
inline constexpr uint32_t kIpv4 = 1u << 3;
inline constexpr uint32_t kEthernet = 1u << 4;
inline constexpr uint32_t kAllowPolicy = 1u << 5;  // Unmatched packets pass; matches drop.
inline constexpr uint32_t kDenyPolicy = 1u << 6;   // Unmatched packets drop; matches pass.
}  // namespace xdp_filter_feature

/// Default location of the xdp-filter object `xdp-filter load -f ipv4 <if>` attaches.
inline constexpr std::string_view kXdpFilterAllowIpv4Object =
    "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_ip.o";

/// RAII owner of one xdp-filter BPF program (e.g. xdpfilt_alw_ip.o from xdp-tools), loaded with
/// plain libbpf and configured to drop IPv4 packets from a single source address.
///
/// The resulting state is what `xdp-filter load [-f ipv4] <if>` followed by
/// `xdp-filter ip <addr> --mode src` produces: `filter_ipv4[addr]` holds MAP_FLAG_SRC on every
/// possible CPU. A packet from `denied_src` yields XDP_DROP; any other IPv4 packet XDP_PASS.
///
/// Only allow-policy objects (xdpfilt_alw_*.o, the `xdp-filter load` default) can express
/// "drop this one source". Deny-policy objects (xdpfilt_dny_*.o, `--policy deny`) drop every
/// packet that does *not* match a rule, so they are rejected with std::runtime_error. The
/// object must also have the IPv4 feature (xdpfilt_*_ip.o or xdpfilt_*_all.o).
///
/// Maps are created fresh and never pinned: nothing is read from or left in /sys/fs/bpf, even
/// though the object declares LIBBPF_PIN_BY_NAME. The program is not attached anywhere; use
/// prog_fd() with BPF_PROG_TEST_RUN (see MeasureNsPerPacket() in prog_run.h).
///
/// Note: libbpf 1.1 logs "skipping unrecognized data section" at INFO level for the object's
/// `features` and `.xdp_run_config` (libxdp metadata) sections; that is harmless. Install a
/// libbpf_set_print() callback in the benchmark's main() to silence it.
class XdpFilterPeer {
 public:
  /// Opens and loads `object_path` and adds a source-address drop rule for `denied_src`
  /// (network byte order, as in `struct in_addr`).
  ///
  /// @throws std::system_error   on I/O, libbpf or bpf() syscall failures (with errno).
  /// @throws std::runtime_error  if the file is not a usable allow-policy IPv4 xdp-filter object.
  XdpFilterPeer(const std::filesystem::path& object_path, in_addr denied_src);

  /// As above, with `denied_src` in dotted-quad form, e.g. "10.0.0.1".
  ///
  /// @throws std::invalid_argument if `denied_src` is not an IPv4 address.
  XdpFilterPeer(const std::filesystem::path& object_path, std::string_view denied_src);

  XdpFilterPeer(const XdpFilterPeer&) = delete;
  XdpFilterPeer& operator=(const XdpFilterPeer&) = delete;
  XdpFilterPeer(XdpFilterPeer&& other) noexcept;
  XdpFilterPeer& operator=(XdpFilterPeer&& other) noexcept;
  ~XdpFilterPeer();

  /// fd of the loaded BPF_PROG_TYPE_XDP program; valid for the lifetime of this object.
  int prog_fd() const { return prog_fd_; }

  /// FEAT_* bits read from the object's "features" section (see xdp_filter_feature).
  uint32_t features() const { return features_; }

  /// Number of packets the rule has matched so far, summed over CPUs (the program adds
  /// 1 << COUNTER_SHIFT to the map value on every hit). Useful to check that a benchmark
  /// really exercised the hit path.
  ///
  /// @throws std::system_error if the map lookup fails.
  uint64_t rule_hits() const;

 private:
  void Reset() noexcept;

  bpf_object* obj_ = nullptr;
  bpf_map* ipv4_map_ = nullptr;  // Owned by obj_.
  int prog_fd_ = -1;             // Owned by obj_.
  uint32_t features_ = 0;
  in_addr denied_src_{};
};

}  // namespace netguard::bench

#endif  // NETGUARD_BENCH_XDP_FILTER_PEER_H_
