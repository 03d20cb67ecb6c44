#include "capture/ebpf_dataplane.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "common/system_error.h"
#include "netguard_bpf.skel.h"

namespace netguard::capture {
namespace {

constexpr unsigned long kBpfFsMagic = 0xcafe4a11;
constexpr char kXdpProgramName[] = "ng_xdp_ingress";
// TC filter identity: fixed so that a new agent replaces the filter of a previous one.
constexpr uint32_t kTcHandle = 0x4e47;  // "NG"
constexpr uint32_t kTcPriority = 0x4e47;

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  char line[1024];
  int n = vsnprintf(line, sizeof(line), format, args);
  std::string_view text(line, std::clamp(n, 0, static_cast<int>(sizeof(line)) - 1));
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.starts_with("libbpf: ")) text.remove_prefix(8);
  switch (level) {
    case LIBBPF_WARN:
      spdlog::warn("libbpf: {}", text);
      break;
    case LIBBPF_INFO:
      spdlog::debug("libbpf: {}", text);
      break;
    case LIBBPF_DEBUG:
      spdlog::trace("libbpf: {}", text);
      break;
  }
  return n;
}

void Validate(const DataPlaneOptions& o) {
  const auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
  if (o.active_timeout.count() <= 0 ||
      static_cast<uint64_t>(o.active_timeout.count()) > NG_MAX_ACTIVE_TIMEOUT_NS) {
    fail("active timeout must be in (0, 3600 s]: sums of squares are exact only up to 3600 s");
  }
  if (o.activity_timeout.count() <= 0) fail("activity timeout must be positive");
  const long page = sysconf(_SC_PAGESIZE);
  if (o.ring_bytes < static_cast<uint32_t>(page) || (o.ring_bytes & (o.ring_bytes - 1)) != 0) {
    fail("ring buffer size " + std::to_string(o.ring_bytes) +
         " must be a power of two and at least one page");
  }
  if (o.flow_capacity == 0 || o.blocklist_capacity == 0) {
    fail("flow and blocklist capacities must be positive");
  }
}

// Name of the XDP program with id `prog_id`, or "" when it cannot be read.
std::string ProgramName(uint32_t prog_id) {
  int fd = bpf_prog_get_fd_by_id(prog_id);
  if (fd < 0) return {};
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  std::string name;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) name = info.name;
  close(fd);
  return name;
}

int IfIndex(const std::string& interface) {
  unsigned index = if_nametoindex(interface.c_str());
  if (index == 0) ThrowErrno(errno, "interface '" + interface + "'");
  return static_cast<int>(index);
}

}  // namespace

std::string_view ToString(XdpMode mode) { return mode == XdpMode::kNative ? "native" : "generic"; }

void RouteLibbpfLog() { libbpf_set_print(LibbpfPrint); }

void EnsureBpfFs(const std::string& pin_root) {
  struct statfs fs {};
  if (statfs("/sys/fs/bpf", &fs) != 0 || static_cast<unsigned long>(fs.f_type) != kBpfFsMagic) {
    spdlog::info("mounting a BPF filesystem at /sys/fs/bpf");
    if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0) {
      ThrowErrno(errno, "mount bpffs at /sys/fs/bpf");
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(pin_root, ec);
  if (ec) ThrowErrno(ec.value(), "create pin directory " + pin_root);
}

EbpfDataPlane::EbpfDataPlane(DataPlaneOptions options) : options_(std::move(options)) {
  Validate(options_);
  RouteLibbpfLog();
  EnsureBpfFs(options_.pin_root);

  LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = options_.pin_root.c_str());
  skel_ = netguard_bpf__open_opts(&open_opts);
  if (!skel_) ThrowErrno(errno, "open BPF object");

  ng_config& cfg = const_cast<ng_config&>(skel_->rodata->ng_cfg);
  cfg.activity_timeout_us = static_cast<uint64_t>(options_.activity_timeout.count());
  cfg.active_timeout_ns = static_cast<uint64_t>(options_.active_timeout.count());
  cfg.sample_first_n = options_.sample_first_n;
  cfg.sample_every_k = options_.sample_every_k;
  cfg.end_flags = EndFlags(options_);
  cfg.sample_dns = options_.sample_dns;
  cfg.sample_arp = options_.sample_arp;
  cfg.ts_from_meta = options_.timestamps_from_packet;

  try {
    CheckErrno(bpf_map__set_max_entries(skel_->maps.ng_flows, options_.flow_capacity),
               "size flow map");
    CheckErrno(bpf_map__set_max_entries(skel_->maps.ng_events, options_.ring_bytes),
               "size ring buffer");
    CheckErrno(bpf_map__set_max_entries(skel_->maps.ng_block_v4, options_.blocklist_capacity),
               "size IPv4 blocklist");
    CheckErrno(bpf_map__set_max_entries(skel_->maps.ng_block_v6, options_.blocklist_capacity),
               "size IPv6 blocklist");
    int rc = netguard_bpf__load(skel_);
    if (rc < 0) {
      ThrowErrno(rc, "load BPF programs (a pinned map under " + options_.pin_root +
                         " from an incompatible version is refused: remove it to start afresh)");
    }
  } catch (...) {
    netguard_bpf__destroy(skel_);
    throw;
  }
  spdlog::info("BPF programs loaded; maps pinned under {}", options_.pin_root);
}

EbpfDataPlane::~EbpfDataPlane() {
  for (auto it = attachments_.rbegin(); it != attachments_.rend(); ++it) DetachAttachment(*it);
  netguard_bpf__destroy(skel_);
}

const Attachment& EbpfDataPlane::Attach(const std::string& interface,
                                        XdpModePreference preference) {
  Detach(interface);
  Attachment att{.interface = interface, .ifindex = IfIndex(interface)};

  // Only replace an XDP program that is ours (left by an agent that did not detach).
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  if (bpf_xdp_query(att.ifindex, 0, &query) == 0 && query.prog_id != 0) {
    const std::string name = ProgramName(query.prog_id);
    if (name != kXdpProgramName) {
      throw std::system_error(EBUSY, std::generic_category(),
                              "interface " + interface + " already runs XDP program '" + name +
                                  "' (id " + std::to_string(query.prog_id) +
                                  "); NetGuard does not replace another tool's program");
    }
    spdlog::info("{}: replacing the NetGuard XDP program (id {}) of a previous agent", interface,
                 query.prog_id);
  }

  const int xdp_fd = xdp_prog_fd();
  int rc = -EOPNOTSUPP;
  if (preference == XdpModePreference::kNativeThenGeneric) {
    rc = bpf_xdp_attach(att.ifindex, xdp_fd, XDP_FLAGS_DRV_MODE, nullptr);
    if (rc < 0) {
      spdlog::warn("XDP native refused on {}: {}, using generic", interface, strerror(-rc));
    }
  }
  att.xdp_mode = XdpMode::kNative;
  if (rc < 0) {
    rc = bpf_xdp_attach(att.ifindex, xdp_fd, XDP_FLAGS_SKB_MODE, nullptr);
    CheckErrno(rc, "attach XDP (generic) to " + interface);
    att.xdp_mode = XdpMode::kGeneric;
  }

  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = att.ifindex, .attach_point = BPF_TC_EGRESS);
  rc = bpf_tc_hook_create(&hook);
  if (rc < 0 && rc != -EEXIST) {
    DetachAttachment(att);
    CheckErrno(rc, "create clsact qdisc on " + interface);
  }
  LIBBPF_OPTS(bpf_tc_opts, tc, .prog_fd = tc_prog_fd(), .flags = BPF_TC_F_REPLACE,
              .handle = kTcHandle, .priority = kTcPriority);
  rc = bpf_tc_attach(&hook, &tc);
  if (rc < 0) {
    DetachAttachment(att);
    CheckErrno(rc, "attach TC egress to " + interface);
  }
  att.tc_egress = true;
  spdlog::info("attached to {} (ifindex {}): XDP {}, TC egress", interface, att.ifindex,
               ToString(att.xdp_mode));
  attachments_.push_back(att);
  return attachments_.back();
}

void EbpfDataPlane::Detach(const std::string& interface) {
  auto it = std::find_if(attachments_.begin(), attachments_.end(),
                         [&](const Attachment& a) { return a.interface == interface; });
  if (it == attachments_.end()) return;
  DetachAttachment(*it);
  attachments_.erase(it);
}

void EbpfDataPlane::DetachAttachment(const Attachment& att) noexcept {
  // Detach only if our program is still the one attached (XDP_FLAGS_REPLACE semantics).
  LIBBPF_OPTS(bpf_xdp_attach_opts, xdp_opts, .old_prog_fd = xdp_prog_fd());
  const uint32_t mode = att.xdp_mode == XdpMode::kNative ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
  if (int rc = bpf_xdp_detach(att.ifindex, mode, &xdp_opts); rc < 0) {
    spdlog::warn("detach XDP from {}: {}", att.interface, strerror(-rc));
  }
  if (!att.tc_egress) return;
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = att.ifindex, .attach_point = BPF_TC_EGRESS);
  LIBBPF_OPTS(bpf_tc_opts, tc, .handle = kTcHandle, .priority = kTcPriority);
  if (int rc = bpf_tc_detach(&hook, &tc); rc < 0 && rc != -ENOENT) {
    spdlog::warn("detach TC egress from {}: {}", att.interface, strerror(-rc));
  }
  // The clsact qdisc stays: other tools' filters may share it, and an empty one costs nothing.
  spdlog::info("detached from {}", att.interface);
}

int EbpfDataPlane::xdp_prog_fd() const { return bpf_program__fd(skel_->progs.ng_xdp_ingress); }
int EbpfDataPlane::tc_prog_fd() const { return bpf_program__fd(skel_->progs.ng_tc_egress); }
int EbpfDataPlane::flows_fd() const { return bpf_map__fd(skel_->maps.ng_flows); }
int EbpfDataPlane::events_fd() const { return bpf_map__fd(skel_->maps.ng_events); }
int EbpfDataPlane::stats_fd() const { return bpf_map__fd(skel_->maps.ng_stats); }
int EbpfDataPlane::block_v4_fd() const { return bpf_map__fd(skel_->maps.ng_block_v4); }
int EbpfDataPlane::block_v6_fd() const { return bpf_map__fd(skel_->maps.ng_block_v6); }

}  // namespace netguard::capture
