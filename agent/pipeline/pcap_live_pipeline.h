// pcap-live in the daemon: a libpcap capture and a user-space FlowTable (the kernel's per-packet
// rule and lifecycle) per interface, each on its own thread, handing flows to the FlowSink that
// the eBPF FlowPipeline uses too.
#ifndef NETGUARD_AGENT_PIPELINE_PCAP_LIVE_PIPELINE_H_
#define NETGUARD_AGENT_PIPELINE_PCAP_LIVE_PIPELINE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "capture/pcap/flow_table.h"
#include "pipeline/flow_sink.h"

namespace netguard::pipeline {

struct PcapLiveOptions {
  /// Lifecycle of every interface's table (ifindex is set per interface).
  capture::pcap::FlowTableOptions table;
  /// BPF filter expression (tcpdump syntax) of every capture; empty = everything.
  std::string filter;
};

/// What one captured interface reports in the status.
struct PcapInterfaceStatus {
  std::string name;
  int ifindex = 0;
  uint64_t frames = 0;        // frames the flow table saw
  uint64_t kernel_drops = 0;  // pcap_stats: dropped by the kernel buffer or the interface
};

/// Owns the captures. Attach/Detach are called from one thread (the agent's start-up steps);
/// interfaces() from any thread.
class PcapLivePipeline {
 public:
  PcapLivePipeline(FlowSink& sink, PcapLiveOptions options);
  /// Detaches from every interface still attached.
  ~PcapLivePipeline();
  PcapLivePipeline(const PcapLivePipeline&) = delete;
  PcapLivePipeline& operator=(const PcapLivePipeline&) = delete;

  /// Opens a live capture on `interface` and starts its thread. Throws
  /// capture::pcap::PcapError (no such device, no permission, bad filter, not Ethernet).
  void Attach(const std::string& interface);
  /// Stops the capture of `interface`, finishes its flows (reason shutdown) and stores them.
  /// A no-op when not attached.
  void Detach(const std::string& interface);

  std::vector<PcapInterfaceStatus> interfaces() const;

 private:
  struct Capture;

  FlowSink& sink_;
  PcapLiveOptions options_;
  mutable std::mutex mu_;  // captures_ (the list, not the captures)
  std::vector<std::unique_ptr<Capture>> captures_;
};

}  // namespace netguard::pipeline

#endif  // NETGUARD_AGENT_PIPELINE_PCAP_LIVE_PIPELINE_H_
