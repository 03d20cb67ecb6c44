// pipeline_drain: finished flows per second the agent takes from the kernel into the store.
//
// Fills the data plane's ring with FLOW_START/FLOW_END records of N distinct one-packet TCP flows
// (FIN ends each one) through BPF_PROG_RUN, then times the agent's FlowPipeline on one core as it
// drains them: ring records -> FlowRecords -> detectors (the rules engine) -> SQLite store
// (WAL, synchronous=FULL, batches per poll). Prints one JSON object. Goal: >= 300k flows/s.
#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "capture/ebpf_dataplane.h"
#include "detect/rules/engine.h"
#include "detect/rules/rules_file.h"
#include "pipeline/flow_pipeline.h"
#include "pipeline/stream_notifier.h"
#include "prog_run.h"
#include "store/store.h"
#include "support/packet_builder.h"

namespace {

using namespace netguard;

void PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

std::string SourceAddress(uint32_t i) {
  return "10." + std::to_string(64 + (i >> 16)) + "." + std::to_string((i >> 8) & 0xff) + "." +
         std::to_string(i & 0xff);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"pipeline_drain - flows/s from the kernel ring into the store, one core"};
  uint32_t flows = 200000;
  std::string store_dir = "/tmp";
  int cpu = 1;
  cli.add_option("--flows", flows,
                 "distinct flows to drain (<= 240000: 2 records each fit the "
                 "256 MiB ring)")
      ->check(CLI::Range(1000u, 240000u));
  cli.add_option("--store-dir", store_dir, "directory of the temporary database");
  cli.add_option("--cpu", cpu, "CPU the pipeline runs on");
  CLI11_PARSE(cli, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  const std::string pins = "/sys/fs/bpf/netguard-drain-" + std::to_string(getpid());
  const std::string db = store_dir + "/netguard-drain-" + std::to_string(getpid()) + ".db";
  int rc = 0;
  try {
    capture::DataPlaneOptions options;
    options.pin_root = pins;
    options.ring_bytes = 256u << 20;
    options.sample_first_n = 0;  // flow records only: this measures the flow path
    options.sample_every_k = 0;
    capture::EbpfDataPlane dataplane(options);

    // One FIN packet per flow: FLOW_START and FLOW_END (reason FIN) in the ring.
    for (uint32_t i = 0; i < flows; ++i) {
      const std::vector<uint8_t> frame =
          testing::PacketBuilder()
              .Ip(SourceAddress(i), "10.0.0.100")
              .Tcp(static_cast<uint16_t>(1024 + i % 60000), 80, 0x11 /* FIN|ACK */)
              .Payload(10)
              .Build();
      bench::MeasureNsPerPacket(dataplane.xdp_prog_fd(), frame, 1, nullptr);
    }

    store::Store store({.path = db, .max_flows = 1000000});
    pipeline::StreamNotifier notifier;
    pipeline::FlowPipeline pipeline(dataplane, store, notifier, {});
    pipeline.AddDetector(
        std::make_unique<detect::rules::RulesEngine>(detect::rules::DefaultRuleSet()));

    const auto start = std::chrono::steady_clock::now();
    std::jthread worker([&](std::stop_token stop) {
      PinToCpu(cpu);
      pipeline.Run(stop);
    });
    const auto deadline = start + std::chrono::seconds(120);
    while (store.flow_count() < flows && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const uint64_t stored = store.flow_count();
    worker.request_stop();
    worker.join();

    const double rate = static_cast<double>(stored) / seconds;
    std::printf(
        "{\"benchmark\": \"pipeline_drain\", \"flows\": %u, \"stored\": %llu, \"seconds\": %.3f, "
        "\"flows_per_s\": %.0f, \"goal_flows_per_s\": 300000, \"met\": %s, "
        "\"ring_drops\": %llu, \"method\": \"ring pre-filled by BPF_PROG_RUN with one-packet "
        "FIN flows; FlowPipeline on CPU %d drains ring -> FlowRecord -> rules engine -> "
        "SQLite (WAL, synchronous=FULL)\"}\n",
        flows, static_cast<unsigned long long>(stored), seconds, rate,
        rate >= 300000 ? "true" : "false",
        static_cast<unsigned long long>(pipeline.counters().ring_drops.load()), cpu);
    if (stored < flows) rc = 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipeline_drain: %s\n", e.what());
    rc = 2;
  }
  std::error_code ec;
  std::filesystem::remove_all(pins, ec);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix, ec);
  return rc;
}
