// Copyright (c) NetGuard authors.
//
// bpf_cost's measuring side; see bpf_cost_measure.h.

#include "bpf_cost_measure.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "capture/bpf_stats.h"
#include "netguard.h"
#include "prog_run.h"
#include "support/packet_builder.h"

namespace netguard::bench::bpf_cost {

using capture::ReadStats;
using capture::RingHandlers;
using capture::StatCounters;
using testing::PacketBuilder;

namespace {

constexpr char kDst[] = "10.0.0.100";
constexpr uint32_t kNewFlowBase = 0x0a400000;  // 10.64.0.0, host order
constexpr size_t kFrameBytes = 64;             // without FCS, as BPF sees it
constexpr size_t kIpv4SrcOffset = 14 + 12;
constexpr size_t kL4SrcPortOffset = 14 + 20;

// The CPUs the process may run on, as found at start-up.
cpu_set_t g_allowed_cpus;

// IRQ work interrupts (the "IWI" line of /proc/interrupts) taken so far by `cpu`: the ring
// buffer's consumer wake-ups are raised this way on the CPU that submits the record.
uint64_t IrqWorkInterrupts(int cpu) {
  std::ifstream in("/proc/interrupts");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    if (name != "IWI:") continue;
    uint64_t count = 0;
    for (int i = 0; i <= cpu && fields >> count; ++i) {
    }
    return count;
  }
  return 0;
}

uint64_t Delta(const StatCounters& after, const StatCounters& before, uint32_t stat) {
  return after[stat] - before[stat];
}

}  // namespace

std::atomic<bool> g_stop{false};

void CheckStop() {
  if (g_stop) throw std::system_error(EINTR, std::generic_category(), "interrupted");
}

int PinToCpu(int cpu) {
  if (sched_getaffinity(0, sizeof(g_allowed_cpus), &g_allowed_cpus) != 0) {
    throw std::system_error(errno, std::generic_category(), "sched_getaffinity");
  }
  cpu_set_t set = g_allowed_cpus;
  if (cpu < 0) {
    for (int i = CPU_SETSIZE - 1; i >= 0; --i) {
      if (CPU_ISSET(i, &set)) {
        cpu = i;
        break;
      }
    }
  }
  if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &set)) {
    throw std::invalid_argument("CPU " + std::to_string(cpu) + " is not available to this process");
  }
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    throw std::system_error(errno, std::generic_category(), "sched_setaffinity");
  }
  return cpu;
}

// ---- PinDir ----

PinDir::PinDir() {
  capture::EnsureBpfFs("/sys/fs/bpf");
  char templ[] = "/sys/fs/bpf/netguard-bench-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp /sys/fs/bpf/netguard-bench-*");
  }
  path_ = templ;
}

PinDir::~PinDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) std::fprintf(stderr, "bpf_cost: removing %s: %s\n", path_.c_str(), ec.message().c_str());
}

// ---- PassProgram ----

PassProgram::PassProgram() {
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K,
       .dst_reg = BPF_REG_0,
       .src_reg = 0,
       .off = 0,
       .imm = XDP_PASS},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  fd_ = bpf_prog_load(BPF_PROG_TYPE_XDP, "ng_bench_pass", "GPL", insns, std::size(insns), nullptr);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "load XDP_PASS program");
}

PassProgram::~PassProgram() { close(fd_); }

// ---- RingDrain ----

RingDrain::RingDrain(int ring_fd)
    : reader_(ring_fd, RingHandlers{.on_flow_start = [this](const ng_flow_event&) { ++starts_; },
                                    .on_flow_end = [this](const ng_flow_event&) { ++ends_; },
                                    .on_sample = [this](const ng_packet_sample&) { ++samples_; }}) {
}

RingDrain::~RingDrain() { StopConsumer(); }

void RingDrain::StartConsumer(int avoid_cpu) {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this, avoid_cpu] {
    cpu_set_t set = g_allowed_cpus;
    CPU_CLR(avoid_cpu, &set);
    if (CPU_COUNT(&set) > 0) sched_setaffinity(0, sizeof(set), &set);
    try {
      while (!stop_) reader_.Poll(std::chrono::milliseconds(5));
    } catch (const std::exception& e) {
      Progress("ring consumer thread: %s", e.what());
      failed_ = true;
    }
  });
}

void RingDrain::StopConsumer() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
}

void RingDrain::Drain() {
  if (!thread_.joinable()) {
    reader_.Drain();
    return;
  }
  uint64_t last = records();
  for (int quiet = 0; quiet < 2;) {  // the thread polls every <= 5 ms
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const uint64_t now = records();
    quiet = now == last ? quiet + 1 : 0;
    last = now;
  }
}

void RingDrain::DrainIfIdle() {
  if (!thread_.joinable()) reader_.Drain();
}

// ---- Packets ----

std::vector<uint8_t> UdpFrame(const std::string& src) {
  auto frame =
      PacketBuilder().Ip(src, kDst).Udp(40000, 5201).Payload(kFrameBytes - 14 - 20 - 8).Build();
  if (frame.size() != kFrameBytes) throw std::logic_error("UDP frame is not 64 bytes");
  return frame;
}

std::vector<uint8_t> TcpAckFrame(const std::string& src) {
  auto frame = PacketBuilder()
                   .Ip(src, kDst)
                   .Tcp(40001, 443, NG_TCP_ACK)
                   .Payload(kFrameBytes - 14 - 20 - 20)
                   .Build();
  if (frame.size() != kFrameBytes) throw std::logic_error("TCP frame is not 64 bytes");
  return frame;
}

// ---- Measurements ----

void MeasureRepeat(Figure& fig, int prog_fd, std::span<const uint8_t> frame, uint32_t repeat,
                   Checks& checks) {
  CheckStop();
  uint32_t verdict = 0;
  MeasureNsPerPacket(prog_fd, frame, kWarmRepeat, &verdict);  // caches, branch predictors
  fig.ns.push_back(MeasureNsPerPacket(prog_fd, frame, repeat, &verdict));
  fig.verdicts.push_back(verdict);
  checks.Expect(verdict == fig.expected_verdict, fig.name + ": verdict " + VerdictName(verdict) +
                                                     ", expected " +
                                                     VerdictName(fig.expected_verdict));
}

void MeasureNewFlows(const Bench& bench, Figure& fig, NewFlowTally& tally, uint32_t count) {
  std::vector<uint8_t> frame = UdpFrame("10.64.0.0");
  bench.ring.Drain();
  const StatCounters before = ReadStats(bench.dp.stats_fd());
  const uint64_t records_before = bench.ring.records();
  uint64_t sum = 0;
  uint32_t bad_verdicts = 0;
  for (uint32_t i = 0; i < count; ++i, ++tally.next_index) {
    if (i % kDrainEvery == 0) {
      CheckStop();
      bench.ring.DrainIfIdle();
    }
    const uint32_t addr = htonl(kNewFlowBase + static_cast<uint32_t>(tally.next_index));
    std::memcpy(frame.data() + kIpv4SrcOffset, &addr, sizeof(addr));
    const uint16_t port = htons(static_cast<uint16_t>(1024 + tally.next_index % 60000));
    std::memcpy(frame.data() + kL4SrcPortOffset, &port, sizeof(port));
    uint32_t verdict = 0;
    const auto ns =
        static_cast<uint32_t>(MeasureNsPerPacket(bench.dp.xdp_prog_fd(), frame, 1, &verdict));
    if (verdict != XDP_PASS) ++bad_verdicts;
    sum += ns;
    tally.runs.push_back(ns);
    if (tally.next_index < tally.map_filling_limit) {
      tally.map_filling_sum += ns;
      ++tally.map_filling_runs;
    }
  }
  bench.ring.Drain();
  const StatCounters after = ReadStats(bench.dp.stats_fd());
  fig.ns.push_back(static_cast<double>(sum) / count);
  fig.verdicts.push_back(bad_verdicts ? XDP_ABORTED : XDP_PASS);
  bench.checks.Expect(bad_verdicts == 0, "new_flow: " + U64(bad_verdicts) + " runs not XDP_PASS");
  const uint64_t started = Delta(after, before, NG_STAT_FLOWS_STARTED);
  bench.checks.Expect(started == count, "new_flow: flows_started rose by " + U64(started) +
                                            ", expected " + U64(count));
  tally.flows_started += started;
  tally.insert_failed += Delta(after, before, NG_STAT_FLOW_INSERT_FAILED);
  tally.ring_drops += Delta(after, before, NG_STAT_RING_DROPS);
  tally.records += bench.ring.records() - records_before;
}

void MeasurePassFloorRepeat1(const Bench& bench, Figure& fig, std::vector<uint32_t>& runs,
                             const PassProgram& pass, std::span<const uint8_t> frame,
                             uint32_t count) {
  uint64_t sum = 0;
  uint32_t bad_verdicts = 0;
  for (uint32_t i = 0; i < count; ++i) {
    if (i % kDrainEvery == 0) CheckStop();
    uint32_t verdict = 0;
    const auto ns = static_cast<uint32_t>(MeasureNsPerPacket(pass.fd(), frame, 1, &verdict));
    if (verdict != XDP_PASS) ++bad_verdicts;
    sum += ns;
    runs.push_back(ns);
  }
  fig.ns.push_back(static_cast<double>(sum) / count);
  fig.verdicts.push_back(bad_verdicts ? XDP_ABORTED : XDP_PASS);
  bench.checks.Expect(bad_verdicts == 0, fig.name + ": " + U64(bad_verdicts) + " bad verdicts");
}

void MeasureBlockHit(const Bench& bench, Figure& fig, const capture::Blocklist& blocklist,
                     const IpPrefix& blocked, std::span<const uint8_t> frame) {
  const StatCounters before = ReadStats(bench.dp.stats_fd());
  const uint64_t hits_before = blocklist.Get(blocked)->packets;
  MeasureRepeat(fig, bench.dp.xdp_prog_fd(), frame, bench.repeat, bench.checks);
  const StatCounters after = ReadStats(bench.dp.stats_fd());
  const uint64_t hits = blocklist.Get(blocked)->packets - hits_before;
  bench.checks.Expect(hits == kWarmRepeat + bench.repeat, "block_hit: blocklist counter rose by " +
                                                              U64(hits) + ", expected " +
                                                              U64(kWarmRepeat + bench.repeat));
  bench.checks.Expect(Delta(after, before, NG_STAT_XDP_DROPPED) == kWarmRepeat + bench.repeat,
                      "block_hit: xdp_dropped does not match the runs");
}

void MeasurePeer(const Bench& bench, Figure& fig, const XdpFilterPeer& peer,
                 std::span<const uint8_t> frame) {
  const uint64_t hits_before = peer.rule_hits();
  MeasureRepeat(fig, peer.prog_fd(), frame, bench.repeat, bench.checks);
  const uint64_t hits = peer.rule_hits() - hits_before;
  bench.checks.Expect(hits == kWarmRepeat + bench.repeat, fig.name + ": rule hit counter rose by " +
                                                              U64(hits) + ", expected " +
                                                              U64(kWarmRepeat + bench.repeat));
}

void MeasureExistingFlow(const Bench& bench, Figure& fig, std::span<const uint8_t> frame,
                         bool consumer_waiting, bool drain_concurrent) {
  RingDrain& ring = bench.ring;
  uint32_t verdict = 0;
  MeasureNsPerPacket(bench.dp.xdp_prog_fd(), frame, kWarmRepeat, &verdict);
  ring.Drain();
  if (consumer_waiting) ring.StartConsumer(bench.cpu);
  const StatCounters before = ReadStats(bench.dp.stats_fd());
  const uint64_t records_before = ring.records();
  const uint64_t irq_work_before = IrqWorkInterrupts(bench.cpu);
  MeasureRepeat(fig, bench.dp.xdp_prog_fd(), frame, bench.repeat, bench.checks);
  const uint64_t irq_work_after = IrqWorkInterrupts(bench.cpu);
  ring.Drain();
  if (consumer_waiting && !drain_concurrent) ring.StopConsumer();
  const StatCounters after = ReadStats(bench.dp.stats_fd());
  fig.ring_tally = true;
  fig.samples += Delta(after, before, NG_STAT_SAMPLES);
  fig.ring_read += ring.records() - records_before;
  fig.ring_drops += Delta(after, before, NG_STAT_RING_DROPS);
  fig.flows_started += Delta(after, before, NG_STAT_FLOWS_STARTED);
  fig.irq_work += irq_work_after - irq_work_before;
  bench.checks.Expect(Delta(after, before, NG_STAT_FLOWS_STARTED) == 0,
                      fig.name + ": a flow started during the measured runs");
  bench.checks.Expect(Delta(after, before, NG_STAT_RING_DROPS) == 0,
                      fig.name + ": " + U64(Delta(after, before, NG_STAT_RING_DROPS)) +
                          " ring records dropped (the figure would be too low)");
}

}  // namespace netguard::bench::bpf_cost
