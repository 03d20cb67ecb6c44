// netguardd: the NetGuard agent.
//
// Loads the eBPF data plane, attaches it to the given interfaces and consumes its flow records
// until SIGINT/SIGTERM, then detaches (the pinned blocklist stays in the kernel).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <exception>
#include <string>
#include <vector>

#include "capture/bpf_stats.h"
#include "capture/ebpf_dataplane.h"
#include "capture/ring_reader.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

int Run(const std::vector<std::string>& interfaces, const std::string& pin_root,
        netguard::capture::XdpModePreference mode) {
  using namespace netguard::capture;
  DataPlaneOptions options;
  options.pin_root = pin_root;
  EbpfDataPlane dataplane(options);
  for (const std::string& interface : interfaces) dataplane.Attach(interface, mode);

  uint64_t started = 0;
  uint64_t ended = 0;
  uint64_t samples = 0;
  RingReader ring(dataplane.events_fd(),
                  {.on_flow_start = [&](const ng_flow_event&) { ++started; },
                   .on_flow_end = [&](const ng_flow_event&) { ++ended; },
                   .on_sample = [&](const ng_packet_sample&) { ++samples; }});

  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  spdlog::info("netguardd running on {} interface(s)", interfaces.size());
  while (!g_stop) ring.Poll(std::chrono::milliseconds(250));
  ring.Drain();

  const StatCounters stats = ReadStats(dataplane.stats_fd());
  spdlog::info("stopping: {} flows started, {} ended, {} samples; ring drops {}", started, ended,
               samples, stats[NG_STAT_RING_DROPS]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"netguardd - NetGuard network intrusion detection agent"};
  std::vector<std::string> interfaces;
  std::string log_level = "info";
  std::string pin_root = NG_PIN_ROOT;
  std::string xdp_mode = "auto";
  app.add_option("-i,--interface", interfaces, "Interface to monitor (repeatable)")->required();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--bpf-pin-dir", pin_root, "bpffs directory of the pinned blocklist and stats")
      ->capture_default_str();
  app.add_option("--xdp-mode", xdp_mode, "auto (native, else generic) or generic")
      ->check(CLI::IsMember({"auto", "generic"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  try {
    return Run(interfaces, pin_root,
               xdp_mode == "generic" ? netguard::capture::XdpModePreference::kGenericOnly
                                     : netguard::capture::XdpModePreference::kNativeThenGeneric);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
