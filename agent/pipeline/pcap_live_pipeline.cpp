#include "pipeline/pcap_live_pipeline.h"

#include <net/if.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "capture/pcap/pcap_source.h"
#include "common/clock.h"

namespace netguard::pipeline {

// One interface: its capture, its flow table (touched by its thread only until joined) and the
// counters the status reads.
struct PcapLivePipeline::Capture final : capture::pcap::FlowEvents {
  Capture(FlowSink& sink, const std::string& name, const PcapLiveOptions& options)
      : sink(sink), name(name), ifindex(static_cast<int>(if_nametoindex(name.c_str()))) {
    capture::pcap::FlowTableOptions table_options = options.table;
    table_options.ifindex = static_cast<uint32_t>(ifindex);
    table = std::make_unique<capture::pcap::FlowTable>(table_options, *this);
    live = std::make_unique<capture::pcap::PcapLiveCapture>(
        capture::pcap::LiveOptions{.interface = name, .filter = options.filter});
    sweep_interval_ns = static_cast<uint64_t>(table_options.sweep_interval.count());
  }

  void OnFlowStart(const FlowRecord& flow) override { sink.FlowStarted(flow); }
  void OnFlowOpen(const FlowRecord& flow, uint64_t now_ns) override {
    sink.FlowOpen(flow, static_cast<int64_t>(now_ns));
  }
  void OnPacketSample(const PacketSample& sample) override { sink.PacketSampled(sample); }
  void OnFlowEnd(const FlowRecord& flow) override {
    if (flow.end_reason == FlowEndReason::kIdleTimeout)
      sink.counters().flows_swept_idle.fetch_add(1, std::memory_order_relaxed);
    sink.FlowFinished(flow);
  }

  // After every batch of packets or read timeout, on the capture thread.
  void OnIdle(uint64_t now_ns) {
    if (sweep_interval_ns == 0 || now_ns >= next_sweep_ns) {
      table->Sweep(now_ns);
      sink.Tick(static_cast<int64_t>(now_ns));
      const uint64_t drops = live->counters().dropped + live->counters().if_dropped;
      if (drops > kernel_drops.load()) {
        spdlog::warn("{}: pcap-live lost {} packets", name, drops - kernel_drops.load());
        sink.NoteLoss(static_cast<int64_t>(now_ns));
        kernel_drops = drops;
      }
      next_sweep_ns = now_ns + sweep_interval_ns;
    }
    frames = table->stats().frames;
    sink.Flush();
  }

  void Run() {
    try {
      capture::pcap::FlowTableSink packets(*table);
      live->Run(
          packets, [](void* ctx, uint64_t now_ns) { static_cast<Capture*>(ctx)->OnIdle(now_ns); },
          this);
    } catch (const std::exception& e) {
      spdlog::critical("pcap-live capture on {} stopped: {}", name, e.what());
      kill(getpid(), SIGTERM);
    }
  }

  FlowSink& sink;
  std::string name;
  int ifindex;
  std::unique_ptr<capture::pcap::FlowTable> table;
  std::unique_ptr<capture::pcap::PcapLiveCapture> live;
  uint64_t sweep_interval_ns = 0;
  uint64_t next_sweep_ns = 0;
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> kernel_drops{0};
  std::thread thread;
};

PcapLivePipeline::PcapLivePipeline(FlowSink& sink, PcapLiveOptions options)
    : sink_(sink), options_(std::move(options)) {}

PcapLivePipeline::~PcapLivePipeline() {
  std::vector<std::string> names;
  for (const PcapInterfaceStatus& s : interfaces()) names.push_back(s.name);
  for (auto it = names.rbegin(); it != names.rend(); ++it) Detach(*it);
}

void PcapLivePipeline::Attach(const std::string& interface) {
  auto capture = std::make_unique<Capture>(sink_, interface, options_);
  Capture* c = capture.get();
  c->thread = std::thread([c] { c->Run(); });
  std::lock_guard lock(mu_);
  captures_.push_back(std::move(capture));
  spdlog::info("pcap-live capturing on {}{}", interface,
               options_.filter.empty() ? "" : " with filter '" + options_.filter + "'");
}

void PcapLivePipeline::Detach(const std::string& interface) {
  std::unique_ptr<Capture> capture;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(captures_.begin(), captures_.end(),
                           [&](const auto& c) { return c->name == interface; });
    if (it == captures_.end()) return;
    capture = std::move(*it);
    captures_.erase(it);
  }
  capture->live->Stop();
  capture->thread.join();
  // The thread is gone: its table is ours now.
  capture->table->Flush(FlowEndReason::kShutdown);
  sink_.Flush();
  spdlog::info("pcap-live stopped on {}: {} frames, {} flows left finished at shutdown", interface,
               capture->table->stats().frames, capture->table->stats().flows_flushed);
}

std::vector<PcapInterfaceStatus> PcapLivePipeline::interfaces() const {
  std::lock_guard lock(mu_);
  std::vector<PcapInterfaceStatus> out;
  for (const auto& c : captures_) {
    out.push_back({.name = c->name,
                   .ifindex = c->ifindex,
                   .frames = c->frames.load(),
                   .kernel_drops = c->kernel_drops.load()});
  }
  return out;
}

}  // namespace netguard::pipeline
