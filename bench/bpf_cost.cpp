// Copyright (c) NetGuard authors.
//
// bpf_cost: the XDP program's own cost in ns per packet, measured with BPF_PROG_TEST_RUN, next to
// xdp-tools' xdp-filter on the same packets and to the kernel primitives it is built from. Prints
// one JSON object on stdout (progress and warnings go to stderr). See docs/benchmarks.md for the
// method and the recorded figures.
//
//   sudo ./build/bench/bpf_cost [--trials 5] [--repeat 1000000] [--new-flows 1000000] ...
//
// Exit status: 0 on success; 1 when a verdict or a consistency check failed (the JSON is still
// printed, with the failures under "check_failures"); 2 on a setup or runtime error; 3 when
// --enforce-goals is given and a goal was missed; 130 when interrupted.
//
// This file holds the options and the order of the run; the measurements are in
// bpf_cost_measure.cpp and bpf_cost_floor.cpp, the JSON and its statistics in
// bpf_cost_report.cpp.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "bpf_cost_floor.h"
#include "bpf_cost_measure.h"
#include "bpf_cost_report.h"
#include "capture/blocklist.h"
#include "capture/ebpf_dataplane.h"
#include "common/ip_prefix.h"
#include "xdp_filter_peer.h"

namespace netguard::bench::bpf_cost {
namespace {

using capture::Blocklist;
using capture::DataPlaneOptions;
using capture::EbpfDataPlane;
using Clock = std::chrono::steady_clock;

struct Options {
  uint32_t trials = 5;
  uint32_t repeat = 1'000'000;
  uint32_t new_flows = 1'000'000;
  uint32_t floor_runs = 100'000;
  int cpu = -1;
  bool drain_concurrent = false;
  bool enforce_goals = false;
  std::string xdp_filter_deny{kXdpFilterDenyIpv4Object};
  std::string xdp_filter_allow{kXdpFilterAllowIpv4Object};
};

void OnSignal(int) { g_stop = true; }

// The figures with what they measure and how; the measurements fill in the rest.
Figures DescribeFigures(const Options& opt, const XdpFilterPeer& dny, const XdpFilterPeer& alw) {
  const std::string repeat_method =
      "bpf_prog_test_run_opts, one syscall with repeat=" + U64(opt.repeat) +
      " on the same frame after a " + U64(kWarmRepeat) +
      "-run warm-up; kernel-reported duration (integer ns, truncated)";
  const std::string udp_desc = "64 B Ethernet/IPv4/UDP, 22 B payload";

  Figures f;
  f.floor = Figure{.name = "xdp_pass_floor",
                   .program = "r0 = XDP_PASS; exit (2 raw instructions)",
                   .packet = udp_desc + ", src " + kBlockedSrc,
                   .method = repeat_method,
                   .expected_verdict = XDP_PASS};
  f.block = Figure{.name = "block_hit",
                   .program = "ng_xdp_ingress",
                   .packet = udp_desc + ", src " + kBlockedSrc + " (in the blocklist as /32)",
                   .method = repeat_method,
                   .expected_verdict = XDP_DROP};
  f.xf_dny = Figure{.name = "xdpfilter_dny",
                    .program = opt.xdp_filter_deny,
                    .packet = udp_desc + ", src " + kBlockedSrc + " (`xdp-filter ip " +
                              kBlockedSrc + " --mode src`)",
                    .method = repeat_method,
                    .expected_verdict = dny.match_verdict()};
  f.xf_alw = Figure{.name = "xdpfilter_alw",
                    .program = opt.xdp_filter_allow,
                    .packet = f.xf_dny.packet,
                    .method = repeat_method,
                    .expected_verdict = alw.match_verdict()};
  f.existing = Figure{
      .name = "existing_flow",
      .program = "ng_xdp_ingress",
      .packet = udp_desc + ", src " + kFlowSrc + " (flow warmed up, not blocked)",
      .method = repeat_method + "; ring drained " +
                (opt.drain_concurrent ? "concurrently by a thread" : "before and after each trial"),
      .expected_verdict = XDP_PASS};
  f.existing_waiting = Figure{
      .name = "existing_flow_consumer_waiting",
      .program = "ng_xdp_ingress",
      .packet = f.existing.packet,
      .method = repeat_method +
                "; a thread blocks in epoll on the ring (RingReader::Poll) and consumes the "
                "samples as they arrive, as the agent does: each record submitted to an empty ring "
                "queues an irq_work wake-up (counted in irq_work_interrupts)",
      .expected_verdict = XDP_PASS};
  f.existing_tcp = Figure{.name = "existing_flow_tcp_ack",
                          .program = "ng_xdp_ingress",
                          .packet = "64 B Ethernet/IPv4/TCP ACK, 10 B payload, src " +
                                    std::string(kFlowSrc) + " (flow warmed up, not blocked)",
                          .method = f.existing.method,
                          .expected_verdict = XDP_PASS};
  const std::string repeat1_method =
      "bpf_prog_test_run_opts with repeat=1, one syscall per packet; mean of the kernel-reported "
      "per-run durations (integer ns, truncated, so the mean is biased ~0.5 ns low)";
  f.floor1 = Figure{.name = "xdp_pass_floor_repeat1",
                    .program = f.floor.program,
                    .packet = f.floor.packet,
                    .method = repeat1_method + "; " + U64(opt.floor_runs) + " runs per trial",
                    .expected_verdict = XDP_PASS};
  f.new_flow = Figure{
      .name = "new_flow",
      .program = "ng_xdp_ingress",
      .packet = udp_desc + ", a distinct source address (10.64.0.0 + i) and port per run",
      .method = repeat1_method + "; " + U64(opt.new_flows) +
                " distinct packets per trial (BPF_PROG_TEST_RUN's repeat replays one packet, "
                "which is a new flow only once); ring drained " +
                (opt.drain_concurrent ? "concurrently by a thread"
                                      : "every " + U64(kDrainEvery) + " runs") +
                "; flow map at its default capacity, so once full every insert evicts (LRU)",
      .expected_verdict = XDP_PASS};
  for (const FloorKind kind : kFloorKinds)
    f.components.push_back(DescribeFloor(kind, repeat_method));
  return f;
}

// The figures' extra fields, from the tallies of the whole run. Reorders the run samples.
void AddExtras(Figures& f, const Options& opt, const DataPlaneOptions& dp_options,
               NewFlowTally& new_tally, std::vector<uint32_t>& floor1_runs) {
  for (Figure* fig : {&f.existing, &f.existing_tcp, &f.existing_waiting}) {
    const double packets = static_cast<double>(kWarmRepeat + opt.repeat) * opt.trials;
    fig->extras = {
        {"samples_written", U64(fig->samples)},
        {"samples_per_packet", JsonWriter::Number(static_cast<double>(fig->samples) / packets)},
        {"ring_records_read", U64(fig->ring_read)},
        {"ring_drops", U64(fig->ring_drops)},
        {"flows_started", U64(fig->flows_started)},
        {"irq_work_interrupts", U64(fig->irq_work)}};
  }
  const double map_filling =
      new_tally.map_filling_runs
          ? new_tally.map_filling_sum / static_cast<double>(new_tally.map_filling_runs)
          : NAN;
  f.new_flow.extras = {{"runs_per_trial", U64(opt.new_flows)},
                       {"flow_map_capacity", U64(dp_options.flow_capacity)},
                       {"map_filling_mean_ns", JsonWriter::Number(map_filling)},
                       {"map_filling_runs", U64(new_tally.map_filling_runs)},
                       {"run_p50_ns", JsonWriter::Number(Percentile(new_tally.runs, 50))},
                       {"run_p99_ns", JsonWriter::Number(Percentile(new_tally.runs, 99))},
                       {"flows_started", U64(new_tally.flows_started)},
                       {"flow_insert_failed", U64(new_tally.insert_failed)},
                       {"ring_records_read", U64(new_tally.records)},
                       {"ring_drops", U64(new_tally.ring_drops)}};
  f.floor1.extras = {{"run_p50_ns", JsonWriter::Number(Percentile(floor1_runs, 50))},
                     {"run_p99_ns", JsonWriter::Number(Percentile(floor1_runs, 99))}};
}

// The "config" member: the options and the data plane's settings.
void WriteConfig(JsonWriter& json, const Options& opt, const DataPlaneOptions& dp_options,
                 std::chrono::duration<double> elapsed) {
  json.BeginObject("config");
  json.Field("trials", opt.trials);
  json.Field("repeat", opt.repeat);
  json.Field("warmup_repeat", kWarmRepeat);
  json.Field("new_flows_per_trial", opt.new_flows);
  json.Field("floor_repeat1_runs_per_trial", opt.floor_runs);
  json.Field("ring_drain", opt.drain_concurrent ? "concurrent" : "between");
  json.Field("flow_map_capacity", dp_options.flow_capacity);
  json.Field("ring_bytes", dp_options.ring_bytes);
  json.Field("sample_first_n", dp_options.sample_first_n);
  json.Field("sample_every_k", dp_options.sample_every_k);
  json.Field("blocklist_v4_entries", uint32_t{1});
  json.Field("xdp_filter_deny_object", opt.xdp_filter_deny);
  json.Field("xdp_filter_allow_object", opt.xdp_filter_allow);
  json.Field("elapsed_s", elapsed.count());
  json.EndObject();
}

int Run(const Options& opt) {
  Checks checks;
  const int cpu = PinToCpu(opt.cpu);
  if (opt.new_flows == 0 || opt.trials == 0 || opt.repeat == 0 || opt.floor_runs == 0) {
    throw std::invalid_argument("--trials, --repeat, --new-flows and --floor-runs must be > 0");
  }
  if (uint64_t{opt.trials} * opt.new_flows > kNewFlowAddresses) {
    throw std::invalid_argument("--trials x --new-flows must be <= " + U64(kNewFlowAddresses) +
                                " (distinct source addresses in 10.64.0.0-10.255.255.255)");
  }

  // Data plane with product defaults, maps pinned in a private directory.
  PinDir pin_dir;
  DataPlaneOptions dp_options;
  dp_options.pin_root = pin_dir.path();
  EbpfDataPlane dp(dp_options);
  Blocklist blocklist(dp.block_v4_fd(), dp.block_v6_fd());
  const IpPrefix blocked = IpPrefix::Parse(std::string(kBlockedSrc) + "/32");
  blocklist.Add(blocked);
  RingDrain ring(dp.events_fd());
  if (opt.drain_concurrent) ring.StartConsumer(cpu);

  XdpFilterPeer dny(opt.xdp_filter_deny, kBlockedSrc);
  XdpFilterPeer alw(opt.xdp_filter_allow, kBlockedSrc);
  if (!dny.deny_policy()) throw std::invalid_argument(opt.xdp_filter_deny + " is not deny-policy");
  if (alw.deny_policy()) throw std::invalid_argument(opt.xdp_filter_allow + " is not allow-policy");
  PassProgram pass;
  const std::vector<uint8_t> blocked_frame = UdpFrame(kBlockedSrc);
  const std::vector<uint8_t> flow_frame = UdpFrame(kFlowSrc);
  const FloorPrograms floors(flow_frame);
  const std::vector<uint8_t> tcp_frame = TcpAckFrame(kFlowSrc);
  Figures figs = DescribeFigures(opt, dny, alw);

  const uint64_t block_packets_before = blocklist.Get(blocked)->packets;
  NewFlowTally new_tally{.map_filling_limit = dp_options.flow_capacity / 2};
  std::vector<uint32_t> floor1_runs;
  new_tally.runs.reserve(uint64_t{opt.new_flows} * opt.trials);
  floor1_runs.reserve(uint64_t{opt.floor_runs} * opt.trials);
  const Bench bench{.dp = dp, .ring = ring, .cpu = cpu, .repeat = opt.repeat, .checks = checks};

  const auto start_time = Clock::now();
  for (uint32_t trial = 0; trial < opt.trials; ++trial) {
    Progress("trial %u/%u", trial + 1, opt.trials);

    // New flows first, so every existing-flow trial runs against a full flow map.
    MeasureNewFlows(bench, figs.new_flow, new_tally, opt.new_flows);

    // The trivial program with repeat=1: the harness cost of one run, the floor of new_flow.
    MeasurePassFloorRepeat1(bench, figs.floor1, floor1_runs, pass, blocked_frame, opt.floor_runs);

    MeasureRepeat(figs.floor, pass.fd(), blocked_frame, opt.repeat, checks);

    // The component floors: clock, flow-map lookup and lock, each alone or in the minimum
    // combination an exact design needs.
    for (size_t i = 0; i < kFloorKinds.size(); ++i) {
      MeasureFloor(bench, figs.components[i], floors, kFloorKinds[i], flow_frame);
    }

    // Block hit: every run drops and is counted against the /32.
    MeasureBlockHit(bench, figs.block, blocklist, blocked, blocked_frame);

    MeasurePeer(bench, figs.xf_dny, dny, blocked_frame);
    MeasurePeer(bench, figs.xf_alw, alw, blocked_frame);

    // Existing flows: the warm-up in MeasureRepeat creates the flow (or re-creates it if the
    // new-flow runs evicted it) and gets it past the first-N samples; the ring is emptied right
    // before the measured run so that no sample is dropped for want of space.
    for (Figure* fig : {&figs.existing, &figs.existing_tcp, &figs.existing_waiting}) {
      const std::vector<uint8_t>& frame = fig == &figs.existing_tcp ? tcp_frame : flow_frame;
      MeasureExistingFlow(bench, *fig, frame, fig == &figs.existing_waiting, opt.drain_concurrent);
    }
  }
  const std::chrono::duration<double> elapsed = Clock::now() - start_time;

  // Consistency of the whole run.
  checks.Expect(!ring.failed(), "ring: the drain thread failed");
  checks.Expect(ring.malformed() == 0, "ring: " + U64(ring.malformed()) + " malformed records");
  checks.Expect(new_tally.insert_failed == 0,
                "new_flow: " + U64(new_tally.insert_failed) + " flow inserts failed");
  checks.Expect(new_tally.ring_drops == 0,
                "new_flow: " + U64(new_tally.ring_drops) + " ring records dropped");
  checks.Expect(blocklist.Get(blocked)->packets - block_packets_before ==
                    uint64_t{opt.trials} * (kWarmRepeat + opt.repeat),
                "block_hit: blocklist counter total");

  AddExtras(figs, opt, dp_options, new_tally, floor1_runs);

  const std::string bpf_stats = ReadFirstLine("/proc/sys/kernel/bpf_stats_enabled");
  if (bpf_stats == "1") {
    checks.Warn("kernel.bpf_stats_enabled=1 adds two clock reads to every program run");
  }

  // ---- Output ----
  JsonWriter json;
  json.BeginObject();
  json.Field("benchmark", "bpf_cost");
  json.Field("unit", "ns per packet");
  WriteSystem(json, cpu, bpf_stats);
  WriteConfig(json, opt, dp_options, elapsed);
  WriteFigures(json, figs);
  const Goals goals = WriteComparisons(json, figs);
  WriteChecks(json, checks);
  json.EndObject();
  std::fputs(json.Finish().c_str(), stdout);
  std::fflush(stdout);

  if (!checks.failures.empty()) return 1;
  if (opt.enforce_goals && !(goals.block_hit_dny && goals.existing_flow)) return 3;
  return 0;
}

}  // namespace
}  // namespace netguard::bench::bpf_cost

int main(int argc, char** argv) {
  using netguard::bench::bpf_cost::g_stop;
  using netguard::bench::bpf_cost::OnSignal;
  using netguard::bench::bpf_cost::Options;
  using netguard::bench::bpf_cost::Run;

  Options opt;
  CLI::App app{
      "Measures ng_xdp_ingress's cost per packet (new flow, existing flow, block hit) with "
      "BPF_PROG_TEST_RUN next to xdp-filter on the same packets; prints one JSON object."};
  app.add_option("--trials", opt.trials, "Trials per figure (median and min are reported)")
      ->capture_default_str();
  app.add_option("--repeat", opt.repeat, "BPF_PROG_TEST_RUN repeat for the repeat-based figures")
      ->capture_default_str();
  app.add_option("--new-flows", opt.new_flows, "Distinct new-flow packets per trial (repeat=1)")
      ->capture_default_str();
  app.add_option("--floor-runs", opt.floor_runs, "XDP_PASS runs per trial with repeat=1")
      ->capture_default_str();
  app.add_option("--cpu", opt.cpu, "CPU to run on (default: the last allowed CPU)");
  std::string drain = "between";
  app.add_option("--drain", drain,
                 "Ring buffer draining: 'between' measured runs, or 'concurrent' from a thread")
      ->check(CLI::IsMember({"between", "concurrent"}))
      ->capture_default_str();
  app.add_option("--xdp-filter-deny", opt.xdp_filter_deny, "xdp-filter deny-policy object")
      ->capture_default_str();
  app.add_option("--xdp-filter-allow", opt.xdp_filter_allow, "xdp-filter allow-policy object")
      ->capture_default_str();
  app.add_flag("--enforce-goals", opt.enforce_goals,
               "Exit 3 when block_hit > 1.0x xdpfilter_dny or existing_flow > 60 ns");
  CLI11_PARSE(app, argc, argv);
  opt.drain_concurrent = drain == "concurrent";

  // Logs (the loader's spdlog, libbpf via RouteLibbpfLog) go to stderr: stdout is the JSON.
  auto logger = spdlog::stderr_color_mt("bpf_cost");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::warn);

  struct sigaction action {};
  action.sa_handler = OnSignal;  // no SA_RESTART: a running test run returns EINTR
  sigemptyset(&action.sa_mask);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);

  try {
    return Run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bpf_cost: %s\n", e.what());
    if (g_stop) return 130;
    if (geteuid() != 0) std::fprintf(stderr, "bpf_cost: needs root (CAP_BPF, CAP_SYS_ADMIN)\n");
    return 2;
  }
}
