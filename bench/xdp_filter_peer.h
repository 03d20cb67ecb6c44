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

/// Default locations of the xdp-filter objects for `xdp-filter load -f ipv4 <if>` (allow policy,
/// the default) and `xdp-filter load -f ipv4 --policy deny <if>`.
inline constexpr std::string_view kXdpFilterAllowIpv4Object =
    "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_ip.o";
inline constexpr std::string_view kXdpFilterDenyIpv4Object =
    "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_dny_ip.o";

/// RAII owner of one xdp-filter BPF program (e.g. xdpfilt_alw_ip.o or xdpfilt_dny_ip.o from
/// xdp-tools), loaded with plain libbpf and configured with one IPv4 source-address rule.
///
/// The resulting state is what `xdp-filter load [-f ipv4] [--policy deny] <if>` followed by
/// `xdp-filter ip <addr> --mode src` produces: `filter_ipv4[addr]` holds MAP_FLAG_SRC on every
/// possible CPU. What a match means depends on the object's policy (its "features" section):
///
///  - allow policy (xdpfilt_alw_*.o, the `xdp-filter load` default): a packet from
///    `matched_src` yields XDP_DROP, any other IPv4 packet XDP_PASS;
///  - deny policy (xdpfilt_dny_*.o, `--policy deny`): a packet from `matched_src` yields
///    XDP_PASS, every other packet XDP_DROP.
///
/// Both variants run the same code for a matching packet (two lookups in `filter_ipv4`, the
/// destination then the source, a hit-counter update and the per-action stats); only the
/// returned verdict differs. match_verdict() says which one to expect. The object must have the
/// IPv4 feature (xdpfilt_*_ip.o or xdpfilt_*_all.o) and exactly one policy bit.
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
  /// Opens and loads `object_path` and adds a source-address rule for `matched_src` (network
  /// byte order, as in `struct in_addr`).
  ///
  /// @throws std::system_error   on I/O, libbpf or bpf() syscall failures (with errno).
  /// @throws std::runtime_error  if the file is not a usable IPv4 xdp-filter object.
  XdpFilterPeer(const std::filesystem::path& object_path, in_addr matched_src);

  /// As above, with `matched_src` in dotted-quad form, e.g. "10.0.0.1".
  ///
  /// @throws std::invalid_argument if `matched_src` is not an IPv4 address.
  XdpFilterPeer(const std::filesystem::path& object_path, std::string_view matched_src);

  XdpFilterPeer(const XdpFilterPeer&) = delete;
  XdpFilterPeer& operator=(const XdpFilterPeer&) = delete;
  XdpFilterPeer(XdpFilterPeer&& other) noexcept;
  XdpFilterPeer& operator=(XdpFilterPeer&& other) noexcept;
  ~XdpFilterPeer();

  /// fd of the loaded BPF_PROG_TYPE_XDP program; valid for the lifetime of this object.
  int prog_fd() const { return prog_fd_; }

  /// FEAT_* bits read from the object's "features" section (see xdp_filter_feature).
  uint32_t features() const { return features_; }

  /// True for a deny-policy object (unmatched packets drop, matching ones pass).
  bool deny_policy() const { return (features_ & xdp_filter_feature::kDenyPolicy) != 0; }

  /// The XDP verdict for a packet from `matched_src`: XDP_DROP (1) for an allow-policy object,
  /// XDP_PASS (2) for a deny-policy one.
  uint32_t match_verdict() const;

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
  in_addr matched_src_{};
};

}  // namespace netguard::bench

#endif  // NETGUARD_BENCH_XDP_FILTER_PEER_H_
