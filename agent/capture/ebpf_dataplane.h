// The eBPF data plane: owns the loaded programs and maps, attaches them to interfaces.
#ifndef NETGUARD_AGENT_CAPTURE_EBPF_DATAPLANE_H_
#define NETGUARD_AGENT_CAPTURE_EBPF_DATAPLANE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "netguard.h"

struct netguard_bpf;

namespace netguard::capture {

/// How XDP runs on an interface.
enum class XdpMode { kNative, kGeneric };
std::string_view ToString(XdpMode mode);

/// Which XDP mode to try: native first with a fallback to generic, or generic only.
enum class XdpModePreference { kNativeThenGeneric, kGenericOnly };

/// Load-time settings of the data plane. Defaults are the product defaults.
struct DataPlaneOptions {
  std::string pin_root = NG_PIN_ROOT;   // where the blocklist and stats maps are pinned
  uint32_t flow_capacity = 65536;       // flow map entries (LRU beyond this)
  uint32_t ring_bytes = 8u << 20;       // ring buffer size, a power of two >= page size
  uint32_t blocklist_capacity = 65536;  // prefixes per address family
  std::chrono::microseconds activity_timeout{NG_DEFAULT_ACTIVITY_TIMEOUT_US};
  std::chrono::nanoseconds active_timeout{NG_DEFAULT_ACTIVE_TIMEOUT_NS};
  uint32_t sample_first_n = NG_DEFAULT_SAMPLE_FIRST_N;
  uint32_t sample_every_k = NG_DEFAULT_SAMPLE_EVERY_K;  // 0 = off
  bool end_on_fin = true;
  bool end_on_rst = true;
  // CICFlowMeter 2017 lifecycle quirks, set when the feature mode is cic2017 (the end flags of
  // features::LifecycleFor): a flow's first packet never ends it (NG_END_NOT_ON_FIRST), and the
  // packet that ends a flow does not close an active period (NG_END_NO_IDLE_ON_END).
  bool end_not_on_first = false;
  bool end_no_idle_on_end = false;
  bool sample_dns = true;
  bool sample_arp = true;
  // Test mode: timestamps come from the packet (XDP metadata, skb->tstamp) instead of the
  // kernel clock, so BPF_PROG_RUN can replay a capture's timing.
  bool timestamps_from_packet = false;
};

/// The kernel's ng_config.end_flags (enum ng_end_on bits) for `options`.
inline uint8_t EndFlags(const DataPlaneOptions& options) {
  return static_cast<uint8_t>((options.end_on_fin ? NG_END_ON_FIN : 0) |
                              (options.end_on_rst ? NG_END_ON_RST : 0) |
                              (options.end_not_on_first ? NG_END_NOT_ON_FIRST : 0) |
                              (options.end_no_idle_on_end ? NG_END_NO_IDLE_ON_END : 0));
}
/// Sets the four end options from enum ng_end_on bits (e.g. features::LifecycleFor().step).
inline void SetEndFlags(DataPlaneOptions& options, uint8_t flags) {
  options.end_on_fin = (flags & NG_END_ON_FIN) != 0;
  options.end_on_rst = (flags & NG_END_ON_RST) != 0;
  options.end_not_on_first = (flags & NG_END_NOT_ON_FIRST) != 0;
  options.end_no_idle_on_end = (flags & NG_END_NO_IDLE_ON_END) != 0;
}

/// One interface the programs are attached to.
struct Attachment {
  std::string interface;
  int ifindex = 0;
  XdpMode xdp_mode = XdpMode::kNative;
  bool tc_egress = false;
};

/// RAII owner of the loaded BPF object (skeleton). Construction opens, configures and loads it,
/// reusing maps already pinned under options.pin_root (a blocklist that outlived an agent).
/// Destruction detaches from every interface and leaves the pinned maps in place.
class EbpfDataPlane {
 public:
  /// Throws std::invalid_argument for bad options and std::system_error when loading fails.
  explicit EbpfDataPlane(DataPlaneOptions options = {});
  ~EbpfDataPlane();
  EbpfDataPlane(const EbpfDataPlane&) = delete;
  EbpfDataPlane& operator=(const EbpfDataPlane&) = delete;

  /// Attaches XDP ingress (native, else generic with a warning) and TC egress to `interface`.
  /// Replaces a NetGuard program left attached by a previous agent; refuses to replace
  /// another tool's XDP program. Returns the attachment with the mode actually in use.
  const Attachment& Attach(const std::string& interface,
                           XdpModePreference preference = XdpModePreference::kNativeThenGeneric);

  /// Detaches from `interface` (a no-op if not attached).
  void Detach(const std::string& interface);

  const std::vector<Attachment>& attachments() const { return attachments_; }
  const DataPlaneOptions& options() const { return options_; }

  int xdp_prog_fd() const;
  int tc_prog_fd() const;
  int flows_fd() const;
  int events_fd() const;
  int stats_fd() const;
  int block_v4_fd() const;
  int block_v6_fd() const;

 private:
  void DetachAttachment(const Attachment& attachment) noexcept;

  DataPlaneOptions options_;
  netguard_bpf* skel_ = nullptr;
  std::vector<Attachment> attachments_;
};

/// Makes sure a BPF filesystem is mounted at /sys/fs/bpf (mounting one if not) and that
/// `pin_root` exists. Throws std::system_error.
void EnsureBpfFs(const std::string& pin_root);

/// Routes libbpf's log into the agent's log (spdlog). Idempotent.
void RouteLibbpfLog();

}  // namespace netguard::capture

#endif  // NETGUARD_AGENT_CAPTURE_EBPF_DATAPLANE_H_
