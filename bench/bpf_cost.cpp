// Copyright (c) NetGuard authors.
//
// bpf_cost: the XDP program's own cost in ns per packet, measured with BPF_PROG_TEST_RUN, next to
// xdp-tools' xdp-filter on the same packets. Prints one JSON object on stdout (progress and
// warnings go to stderr). See docs/benchmarks.md for the method and the recorded figures.
//
//   sudo ./build/bench/bpf_cost [--trials 5] [--repeat 1000000] [--new-flows 1000000] ...
//
// Exit status: 0 on success; 1 when a verdict or a consistency check failed (the JSON is still
// printed, with the failures under "check_failures"); 2 on a setup or runtime error; 3 when
// --enforce-goals is given and a goal was missed; 130 when interrupted.

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "capture/blocklist.h"
#include "capture/bpf_stats.h"
#include "capture/ebpf_dataplane.h"
#include "capture/ring_reader.h"
#include "common/ip_prefix.h"
#include "netguard.h"
#include "prog_run.h"
#include "support/packet_builder.h"
#include "xdp_filter_peer.h"

namespace {

using netguard::IpPrefix;
using netguard::bench::MeasureNsPerPacket;
using netguard::bench::XdpFilterPeer;
using netguard::capture::Blocklist;
using netguard::capture::DataPlaneOptions;
using netguard::capture::EbpfDataPlane;
using netguard::capture::ReadStats;
using netguard::capture::RingHandlers;
using netguard::capture::RingReader;
using netguard::capture::StatCounters;
using netguard::testing::PacketBuilder;
using Clock = std::chrono::steady_clock;

// The addresses of the benchmark packets. kBlockedSrc is in the blocklist and in both xdp-filter
// rules; the existing flows come from kFlowSrc, which is not blocked (its blocklist lookup
// misses, as for any tracked packet). New flows use kNewFlowBase + i (10.64.0.0 and up).
constexpr char kBlockedSrc[] = "10.0.0.1";
constexpr char kFlowSrc[] = "10.0.0.2";
constexpr char kDst[] = "10.0.0.100";
constexpr uint32_t kNewFlowBase = 0x0a400000;       // 10.64.0.0, host order
constexpr uint64_t kNewFlowAddresses = 0x00c00000;  // up to 10.255.255.255
constexpr size_t kFrameBytes = 64;                  // without FCS, as BPF sees it
constexpr size_t kIpv4SrcOffset = 14 + 12;
constexpr size_t kL4SrcPortOffset = 14 + 20;
constexpr uint32_t kWarmRepeat = 10'000;
constexpr uint32_t kDrainEvery = 1'000;  // new-flow runs between two ring drains
constexpr double kExistingFlowGoalNs = 60.0;
constexpr double kBlockHitGoalRatio = 1.0;

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

void CheckStop() {
  if (g_stop) throw std::system_error(EINTR, std::generic_category(), "interrupted");
}

struct Options {
  uint32_t trials = 5;
  uint32_t repeat = 1'000'000;
  uint32_t new_flows = 1'000'000;
  uint32_t floor_runs = 100'000;
  int cpu = -1;
  bool drain_concurrent = false;
  bool enforce_goals = false;
  std::string xdp_filter_deny{netguard::bench::kXdpFilterDenyIpv4Object};
  std::string xdp_filter_allow{netguard::bench::kXdpFilterAllowIpv4Object};
};

// ---- Minimal JSON writer (nlohmann-json is not a dependency) ----

class JsonWriter {
 public:
  void BeginObject(std::string_view key = {}) { Open(key, '{'); }
  void EndObject() { Close('}'); }
  void BeginArray(std::string_view key = {}) { Open(key, '['); }
  void EndArray() { Close(']'); }

  void Field(std::string_view key, std::string_view value) { Raw(key, Quote(value)); }
  void Field(std::string_view key, const char* value) { Field(key, std::string_view(value)); }
  void Field(std::string_view key, const std::string& value) {
    Field(key, std::string_view(value));
  }
  void Field(std::string_view key, bool value) { Raw(key, value ? "true" : "false"); }
  void Field(std::string_view key, uint64_t value) { Raw(key, std::to_string(value)); }
  void Field(std::string_view key, uint32_t value) { Raw(key, std::to_string(value)); }
  void Field(std::string_view key, int value) { Raw(key, std::to_string(value)); }
  void Field(std::string_view key, double value) { Raw(key, Number(value)); }
  void Field(std::string_view key, std::optional<double> value) {
    Raw(key, value ? Number(*value) : "null");
  }
  void Field(std::string_view key, const std::vector<double>& values) {
    std::string text = "[";
    for (size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + Number(values[i]);
    Raw(key, text + "]");
  }
  void Item(std::string_view value) { Raw({}, Quote(value)); }

  // Writes `key: json` where json is already valid JSON text.
  void Raw(std::string_view key, std::string_view json) {
    Prefix(key);
    out_ += json;
  }

  std::string Finish() { return out_ + "\n"; }

  static std::string Number(double value) {
    if (!std::isfinite(value)) return "null";
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.3f", value);
    // Trim trailing zeros ("12.500" -> "12.5", "3.000" -> "3") for readability.
    std::string text(buf);
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
    return text == "-0" ? "0" : text;
  }

  static std::string Quote(std::string_view text) {
    std::string out = "\"";
    for (const char ch : text) {
      const auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out += buf;
          } else {
            out += ch;
          }
      }
    }
    return out + "\"";
  }

 private:
  void Open(std::string_view key, char bracket) {
    Prefix(key);
    out_ += bracket;
    first_.push_back(true);
  }
  void Close(char bracket) {
    const bool empty = first_.back();
    first_.pop_back();
    if (!empty) Newline();
    out_ += bracket;
  }
  void Prefix(std::string_view key) {
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
      Newline();
    }
    if (!key.empty()) out_ += Quote(key) + ": ";
  }
  void Newline() {
    out_ += '\n';
    out_.append(2 * first_.size(), ' ');
  }

  std::string out_;
  std::vector<bool> first_;
};

// ---- Small helpers ----

double Median(std::vector<double> values) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Min(const std::vector<double>& values) {
  return values.empty() ? NAN : *std::min_element(values.begin(), values.end());
}

double Max(const std::vector<double>& values) {
  return values.empty() ? NAN : *std::max_element(values.begin(), values.end());
}

std::optional<double> Ratio(double num, double den) {
  if (!std::isfinite(num) || !std::isfinite(den) || den <= 0) return std::nullopt;
  return num / den;
}

// Percentile (0..100) of unsorted integer samples; reorders them.
double Percentile(std::vector<uint32_t>& values, double pct) {
  if (values.empty()) return NAN;
  const auto index = static_cast<size_t>(pct / 100.0 * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(index), values.end());
  return values[index];
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Value of the first "<key>\t: value" line of /proc/cpuinfo.
std::string CpuInfoField(std::string_view key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string name = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    if (name != key) continue;
    const size_t start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

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

bool CpuHasFlag(std::string_view flag) {
  const std::string flags = " " + CpuInfoField("flags") + " ";
  return flags.find(" " + std::string(flag) + " ") != std::string::npos;
}

std::string VerdictName(uint32_t verdict) {
  switch (verdict) {
    case XDP_ABORTED:
      return "XDP_ABORTED";
    case XDP_DROP:
      return "XDP_DROP";
    case XDP_PASS:
      return "XDP_PASS";
    case XDP_TX:
      return "XDP_TX";
    case XDP_REDIRECT:
      return "XDP_REDIRECT";
  }
  return "verdict " + std::to_string(verdict);
}

void Progress(const char* format, auto... args) {
  std::fprintf(stderr, "bpf_cost: ");
  std::fprintf(stderr, format, args...);
  std::fputc('\n', stderr);
}

// The CPUs the process may run on, as found at start-up.
cpu_set_t g_allowed_cpus;

// Pins the calling thread to `cpu`, or to the last CPU it may run on when cpu < 0. Returns the CPU.
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

// A fresh directory under /sys/fs/bpf for the data plane's pinned maps, removed (with the maps
// pinned in it) on destruction, so a run leaves nothing in the BPF filesystem.
class PinDir {
 public:
  PinDir() {
    netguard::capture::EnsureBpfFs("/sys/fs/bpf");
    char templ[] = "/sys/fs/bpf/netguard-bench-XXXXXX";
    if (mkdtemp(templ) == nullptr) {
      throw std::system_error(errno, std::generic_category(),
                              "mkdtemp /sys/fs/bpf/netguard-bench-*");
    }
    path_ = templ;
  }
  ~PinDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec)
      std::fprintf(stderr, "bpf_cost: removing %s: %s\n", path_.c_str(), ec.message().c_str());
  }
  PinDir(const PinDir&) = delete;
  PinDir& operator=(const PinDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A trivial XDP program (r0 = XDP_PASS; exit) built from raw instructions: its cost is the
// BPF_PROG_TEST_RUN loop and program dispatch, i.e. the floor under every other figure.
class PassProgram {
 public:
  PassProgram() {
    const bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K,
         .dst_reg = BPF_REG_0,
         .src_reg = 0,
         .off = 0,
         .imm = XDP_PASS},
        {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
    };
    fd_ =
        bpf_prog_load(BPF_PROG_TYPE_XDP, "ng_bench_pass", "GPL", insns, std::size(insns), nullptr);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "load XDP_PASS program");
  }
  ~PassProgram() { close(fd_); }
  PassProgram(const PassProgram&) = delete;
  PassProgram& operator=(const PassProgram&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// Counts ring records. By default the benchmark thread drains the ring between measured runs, so
// no consumer is waiting while a program runs. StartConsumer() starts a thread that blocks in
// epoll on the ring and consumes records as they arrive, as the agent does; while it runs, the
// ring is only read by that thread. (--drain concurrent keeps it running for the whole benchmark.)
class RingDrain {
 public:
  explicit RingDrain(int ring_fd)
      : reader_(ring_fd,
                RingHandlers{.on_flow_start = [this](const ng_flow_event&) { ++starts_; },
                             .on_flow_end = [this](const ng_flow_event&) { ++ends_; },
                             .on_sample = [this](const ng_packet_sample&) { ++samples_; }}) {}
  ~RingDrain() { StopConsumer(); }
  RingDrain(const RingDrain&) = delete;
  RingDrain& operator=(const RingDrain&) = delete;

  // `avoid_cpu`: keep the consumer off the benchmark's CPU (when there is another one), as the
  // agent's thread normally runs elsewhere than the CPU taking the packet.
  void StartConsumer(int avoid_cpu) {
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
  void StopConsumer() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
  }
  bool consumer_running() const { return thread_.joinable(); }

  // Consumes everything in the ring now (or, with the consumer thread running, waits until it
  // has caught up), so counts read afterwards are complete.
  void Drain() {
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
  // Between new-flow runs: drains unless the consumer thread does.
  void DrainIfIdle() {
    if (!thread_.joinable()) reader_.Drain();
  }

  uint64_t records() const { return starts_ + ends_ + samples_; }
  uint64_t malformed() const { return reader_.malformed(); }
  bool failed() const { return failed_; }

 private:
  RingReader reader_;
  std::atomic<uint64_t> starts_{0};
  std::atomic<uint64_t> ends_{0};
  std::atomic<uint64_t> samples_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::thread thread_;
};

// One reported figure: a cost per packet in each trial plus what the runs did.
struct Figure {
  std::string name;
  std::string program;
  std::string packet;
  std::string method;
  uint32_t expected_verdict = XDP_PASS;
  std::vector<double> ns{};  // kernel-reported ns/packet, one per trial
  // Ring buffer and interrupt accounting of the measured runs (existing-flow figures).
  bool ring_tally = false;
  uint64_t samples = 0, ring_read = 0, ring_drops = 0, flows_started = 0, irq_work = 0;
  std::vector<uint32_t> verdicts{};
  // Extra fields, rendered as "key": json.
  std::vector<std::pair<std::string, std::string>> extras{};

  double median() const { return Median(ns); }
  double min() const { return Min(ns); }
};

struct Checks {
  std::vector<std::string> failures;
  std::vector<std::string> warnings;

  void Expect(bool ok, const std::string& what) {
    if (!ok) {
      failures.push_back(what);
      Progress("CHECK FAILED: %s", what.c_str());
    }
  }
  void Warn(const std::string& what) {
    warnings.push_back(what);
    Progress("warning: %s", what.c_str());
  }
};

uint64_t Delta(const StatCounters& after, const StatCounters& before, uint32_t stat) {
  return after[stat] - before[stat];
}

// Runs `prog_fd` on `frame` `repeat` times (one syscall) and records the trial in `fig`.
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

std::string U64(uint64_t v) { return std::to_string(v); }

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
  const std::vector<uint8_t> tcp_frame = TcpAckFrame(kFlowSrc);
  const std::string repeat_method =
      "bpf_prog_test_run_opts, one syscall with repeat=" + U64(opt.repeat) +
      " on the same frame after a " + U64(kWarmRepeat) +
      "-run warm-up; kernel-reported duration (integer ns, truncated)";
  const std::string udp_desc = "64 B Ethernet/IPv4/UDP, 22 B payload";

  Figure floor{.name = "xdp_pass_floor",
               .program = "r0 = XDP_PASS; exit (2 raw instructions)",
               .packet = udp_desc + ", src " + kBlockedSrc,
               .method = repeat_method,
               .expected_verdict = XDP_PASS};
  Figure block{.name = "block_hit",
               .program = "ng_xdp_ingress",
               .packet = udp_desc + ", src " + kBlockedSrc + " (in the blocklist as /32)",
               .method = repeat_method,
               .expected_verdict = XDP_DROP};
  Figure xf_dny{.name = "xdpfilter_dny",
                .program = opt.xdp_filter_deny,
                .packet = udp_desc + ", src " + kBlockedSrc + " (`xdp-filter ip " + kBlockedSrc +
                          " --mode src`)",
                .method = repeat_method,
                .expected_verdict = dny.match_verdict()};
  Figure xf_alw{.name = "xdpfilter_alw",
                .program = opt.xdp_filter_allow,
                .packet = xf_dny.packet,
                .method = repeat_method,
                .expected_verdict = alw.match_verdict()};
  Figure existing{
      .name = "existing_flow",
      .program = "ng_xdp_ingress",
      .packet = udp_desc + ", src " + kFlowSrc + " (flow warmed up, not blocked)",
      .method = repeat_method + "; ring drained " +
                (opt.drain_concurrent ? "concurrently by a thread" : "before and after each trial"),
      .expected_verdict = XDP_PASS};
  Figure existing_waiting{
      .name = "existing_flow_consumer_waiting",
      .program = "ng_xdp_ingress",
      .packet = existing.packet,
      .method = repeat_method +
                "; a thread blocks in epoll on the ring (RingReader::Poll) and consumes the "
                "samples as they arrive, as the agent does: each record submitted to an empty ring "
                "queues an irq_work wake-up (counted in irq_work_interrupts)",
      .expected_verdict = XDP_PASS};
  Figure existing_tcp{.name = "existing_flow_tcp_ack",
                      .program = "ng_xdp_ingress",
                      .packet = "64 B Ethernet/IPv4/TCP ACK, 10 B payload, src " +
                                std::string(kFlowSrc) + " (flow warmed up, not blocked)",
                      .method = existing.method,
                      .expected_verdict = XDP_PASS};
  const std::string repeat1_method =
      "bpf_prog_test_run_opts with repeat=1, one syscall per packet; mean of the kernel-reported "
      "per-run durations (integer ns, truncated, so the mean is biased ~0.5 ns low)";
  Figure floor1{.name = "xdp_pass_floor_repeat1",
                .program = floor.program,
                .packet = floor.packet,
                .method = repeat1_method + "; " + U64(opt.floor_runs) + " runs per trial",
                .expected_verdict = XDP_PASS};
  Figure new_flow{
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

  const uint64_t block_packets_before = blocklist.Get(blocked)->packets;
  uint64_t new_ring_drops = 0, new_flows_started = 0, new_insert_failed = 0, new_records = 0;
  uint64_t new_index = 0;
  std::vector<uint32_t> new_runs_all, floor1_runs_all;
  new_runs_all.reserve(uint64_t{opt.new_flows} * opt.trials);
  floor1_runs_all.reserve(uint64_t{opt.floor_runs} * opt.trials);
  double map_filling_sum = 0;
  uint64_t map_filling_runs = 0;
  const uint64_t map_filling_limit = dp_options.flow_capacity / 2;

  const auto start_time = Clock::now();
  for (uint32_t trial = 0; trial < opt.trials; ++trial) {
    Progress("trial %u/%u", trial + 1, opt.trials);

    // New flows first, so every existing-flow trial runs against a full flow map.
    {
      std::vector<uint8_t> frame = UdpFrame("10.64.0.0");
      ring.Drain();
      const StatCounters before = ReadStats(dp.stats_fd());
      const uint64_t records_before = ring.records();
      uint64_t sum = 0;
      uint32_t bad_verdicts = 0;
      for (uint32_t i = 0; i < opt.new_flows; ++i, ++new_index) {
        if (i % kDrainEvery == 0) {
          CheckStop();
          ring.DrainIfIdle();
        }
        const uint32_t addr = htonl(kNewFlowBase + static_cast<uint32_t>(new_index));
        std::memcpy(frame.data() + kIpv4SrcOffset, &addr, sizeof(addr));
        const uint16_t port = htons(static_cast<uint16_t>(1024 + new_index % 60000));
        std::memcpy(frame.data() + kL4SrcPortOffset, &port, sizeof(port));
        uint32_t verdict = 0;
        const auto ns =
            static_cast<uint32_t>(MeasureNsPerPacket(dp.xdp_prog_fd(), frame, 1, &verdict));
        if (verdict != XDP_PASS) ++bad_verdicts;
        sum += ns;
        new_runs_all.push_back(ns);
        if (new_index < map_filling_limit) {
          map_filling_sum += ns;
          ++map_filling_runs;
        }
      }
      ring.Drain();
      const StatCounters after = ReadStats(dp.stats_fd());
      new_flow.ns.push_back(static_cast<double>(sum) / opt.new_flows);
      new_flow.verdicts.push_back(bad_verdicts ? XDP_ABORTED : XDP_PASS);
      checks.Expect(bad_verdicts == 0, "new_flow: " + U64(bad_verdicts) + " runs not XDP_PASS");
      const uint64_t started = Delta(after, before, NG_STAT_FLOWS_STARTED);
      checks.Expect(started == opt.new_flows, "new_flow: flows_started rose by " + U64(started) +
                                                  ", expected " + U64(opt.new_flows));
      new_flows_started += started;
      new_insert_failed += Delta(after, before, NG_STAT_FLOW_INSERT_FAILED);
      new_ring_drops += Delta(after, before, NG_STAT_RING_DROPS);
      new_records += ring.records() - records_before;
    }

    // The trivial program with repeat=1: the harness cost of one run, the floor of new_flow.
    {
      uint64_t sum = 0;
      uint32_t bad_verdicts = 0;
      for (uint32_t i = 0; i < opt.floor_runs; ++i) {
        if (i % kDrainEvery == 0) CheckStop();
        uint32_t verdict = 0;
        const auto ns =
            static_cast<uint32_t>(MeasureNsPerPacket(pass.fd(), blocked_frame, 1, &verdict));
        if (verdict != XDP_PASS) ++bad_verdicts;
        sum += ns;
        floor1_runs_all.push_back(ns);
      }
      floor1.ns.push_back(static_cast<double>(sum) / opt.floor_runs);
      floor1.verdicts.push_back(bad_verdicts ? XDP_ABORTED : XDP_PASS);
      checks.Expect(bad_verdicts == 0,
                    "xdp_pass_floor_repeat1: " + U64(bad_verdicts) + " bad verdicts");
    }

    MeasureRepeat(floor, pass.fd(), blocked_frame, opt.repeat, checks);

    // Block hit: every run drops and is counted against the /32.
    {
      const StatCounters before = ReadStats(dp.stats_fd());
      const uint64_t hits_before = blocklist.Get(blocked)->packets;
      MeasureRepeat(block, dp.xdp_prog_fd(), blocked_frame, opt.repeat, checks);
      const StatCounters after = ReadStats(dp.stats_fd());
      const uint64_t hits = blocklist.Get(blocked)->packets - hits_before;
      checks.Expect(hits == kWarmRepeat + opt.repeat, "block_hit: blocklist counter rose by " +
                                                          U64(hits) + ", expected " +
                                                          U64(kWarmRepeat + opt.repeat));
      checks.Expect(Delta(after, before, NG_STAT_XDP_DROPPED) == kWarmRepeat + opt.repeat,
                    "block_hit: xdp_dropped does not match the runs");
    }

    for (auto* peer : {&dny, &alw}) {
      Figure& fig = peer == &dny ? xf_dny : xf_alw;
      const uint64_t hits_before = peer->rule_hits();
      MeasureRepeat(fig, peer->prog_fd(), blocked_frame, opt.repeat, checks);
      const uint64_t hits = peer->rule_hits() - hits_before;
      checks.Expect(hits == kWarmRepeat + opt.repeat, fig.name + ": rule hit counter rose by " +
                                                          U64(hits) + ", expected " +
                                                          U64(kWarmRepeat + opt.repeat));
    }

    // Existing flows: the warm-up in MeasureRepeat creates the flow (or re-creates it if the
    // new-flow runs evicted it) and gets it past the first-N samples; the ring is emptied right
    // before the measured run so that no sample is dropped for want of space.
    for (auto* fig : {&existing, &existing_tcp, &existing_waiting}) {
      const std::vector<uint8_t>& frame = fig == &existing_tcp ? tcp_frame : flow_frame;
      const bool waiting = fig == &existing_waiting;
      uint32_t verdict = 0;
      MeasureNsPerPacket(dp.xdp_prog_fd(), frame, kWarmRepeat, &verdict);
      ring.Drain();
      if (waiting) ring.StartConsumer(cpu);
      const StatCounters before = ReadStats(dp.stats_fd());
      const uint64_t records_before = ring.records();
      const uint64_t irq_work_before = IrqWorkInterrupts(cpu);
      MeasureRepeat(*fig, dp.xdp_prog_fd(), frame, opt.repeat, checks);
      const uint64_t irq_work_after = IrqWorkInterrupts(cpu);
      ring.Drain();
      if (waiting && !opt.drain_concurrent) ring.StopConsumer();
      const StatCounters after = ReadStats(dp.stats_fd());
      fig->ring_tally = true;
      fig->samples += Delta(after, before, NG_STAT_SAMPLES);
      fig->ring_read += ring.records() - records_before;
      fig->ring_drops += Delta(after, before, NG_STAT_RING_DROPS);
      fig->flows_started += Delta(after, before, NG_STAT_FLOWS_STARTED);
      fig->irq_work += irq_work_after - irq_work_before;
      checks.Expect(Delta(after, before, NG_STAT_FLOWS_STARTED) == 0,
                    fig->name + ": a flow started during the measured runs");
      checks.Expect(Delta(after, before, NG_STAT_RING_DROPS) == 0,
                    fig->name + ": " + U64(Delta(after, before, NG_STAT_RING_DROPS)) +
                        " ring records dropped (the figure would be too low)");
    }
  }
  const std::chrono::duration<double> elapsed = Clock::now() - start_time;

  // Consistency of the whole run.
  checks.Expect(!ring.failed(), "ring: the drain thread failed");
  checks.Expect(ring.malformed() == 0, "ring: " + U64(ring.malformed()) + " malformed records");
  checks.Expect(new_insert_failed == 0,
                "new_flow: " + U64(new_insert_failed) + " flow inserts failed");
  checks.Expect(new_ring_drops == 0, "new_flow: " + U64(new_ring_drops) + " ring records dropped");
  checks.Expect(blocklist.Get(blocked)->packets - block_packets_before ==
                    uint64_t{opt.trials} * (kWarmRepeat + opt.repeat),
                "block_hit: blocklist counter total");

  // Extras.
  for (Figure* fig : {&existing, &existing_tcp, &existing_waiting}) {
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
      map_filling_runs ? map_filling_sum / static_cast<double>(map_filling_runs) : NAN;
  new_flow.extras = {{"runs_per_trial", U64(opt.new_flows)},
                     {"flow_map_capacity", U64(dp_options.flow_capacity)},
                     {"map_filling_mean_ns", JsonWriter::Number(map_filling)},
                     {"map_filling_runs", U64(map_filling_runs)},
                     {"run_p50_ns", JsonWriter::Number(Percentile(new_runs_all, 50))},
                     {"run_p99_ns", JsonWriter::Number(Percentile(new_runs_all, 99))},
                     {"flows_started", U64(new_flows_started)},
                     {"flow_insert_failed", U64(new_insert_failed)},
                     {"ring_records_read", U64(new_records)},
                     {"ring_drops", U64(new_ring_drops)}};
  floor1.extras = {{"run_p50_ns", JsonWriter::Number(Percentile(floor1_runs_all, 50))},
                   {"run_p99_ns", JsonWriter::Number(Percentile(floor1_runs_all, 99))}};

  const std::vector<Figure*> figures = {&existing, &existing_tcp, &existing_waiting,
                                        &new_flow, &block,        &xf_dny,
                                        &xf_alw,   &floor,        &floor1};

  const std::string bpf_stats = ReadFirstLine("/proc/sys/kernel/bpf_stats_enabled");
  if (bpf_stats == "1") {
    checks.Warn("kernel.bpf_stats_enabled=1 adds two clock reads to every program run");
  }

  // ---- Output ----
  JsonWriter json;
  json.BeginObject();
  json.Field("benchmark", "bpf_cost");
  json.Field("unit", "ns per packet");
  {
    utsname uts{};
    uname(&uts);
    json.BeginObject("system");
    json.Field("kernel", uts.release);
    json.Field("cpu_model", CpuInfoField("model name"));
    json.Field("online_cpus", static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
    json.Field("pinned_cpu", cpu);
    json.Field("hypervisor", CpuHasFlag("hypervisor"));
    json.Field("clocksource",
               ReadFirstLine("/sys/devices/system/clocksource/clocksource0/current_clocksource"));
    json.Field("bpf_jit_enable", ReadFirstLine("/proc/sys/net/core/bpf_jit_enable"));
    json.Field("bpf_stats_enabled", bpf_stats);
    json.Field("libbpf", std::to_string(libbpf_major_version()) + "." +
                             std::to_string(libbpf_minor_version()));
    json.EndObject();
  }
  {
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
  json.BeginObject("figures");
  for (const Figure* fig : figures) {
    json.BeginObject(fig->name);
    json.Field("median", fig->median());
    json.Field("min", fig->min());
    json.Field("max", Max(fig->ns));
    json.Field("trials", fig->ns);
    json.Field("verdict",
               VerdictName(fig->verdicts.empty() ? uint32_t{XDP_ABORTED} : fig->verdicts.back()));
    json.Field("expected_verdict", VerdictName(fig->expected_verdict));
    json.Field("program", fig->program);
    json.Field("packet", fig->packet);
    json.Field("method", fig->method);
    for (const auto& [key, value] : fig->extras) json.Raw(key, value);
    json.EndObject();
  }
  json.EndObject();

  const double floor_med = floor.median();
  json.BeginObject("net_of_floor");  // program cost with the test-run harness subtracted
  json.Field("existing_flow", existing.median() - floor_med);
  json.Field("existing_flow_tcp_ack", existing_tcp.median() - floor_med);
  json.Field("existing_flow_consumer_waiting", existing_waiting.median() - floor_med);
  json.Field("block_hit", block.median() - floor_med);
  json.Field("xdpfilter_dny", xf_dny.median() - floor_med);
  json.Field("xdpfilter_alw", xf_alw.median() - floor_med);
  json.Field("new_flow", new_flow.median() - floor1.median());
  json.EndObject();

  const auto ratio_dny = Ratio(block.median(), xf_dny.median());
  const auto ratio_alw = Ratio(block.median(), xf_alw.median());
  json.BeginObject("ratios");
  json.Field("block_hit/xdpfilter_dny", ratio_dny);
  json.Field("block_hit/xdpfilter_dny_min", Ratio(block.min(), xf_dny.min()));
  json.Field("block_hit/xdpfilter_alw", ratio_alw);
  json.Field("block_hit/xdpfilter_alw_min", Ratio(block.min(), xf_alw.min()));
  json.Field("existing_flow/goal_60ns", Ratio(existing.median(), kExistingFlowGoalNs));
  json.Field("existing_flow_tcp_ack/goal_60ns", Ratio(existing_tcp.median(), kExistingFlowGoalNs));
  json.Field("new_flow/existing_flow", Ratio(new_flow.median(), existing.median()));
  json.EndObject();

  const bool block_goal = ratio_dny && *ratio_dny <= kBlockHitGoalRatio;
  const bool block_goal_alw = ratio_alw && *ratio_alw <= kBlockHitGoalRatio;
  const bool flow_goal = existing.median() <= kExistingFlowGoalNs;
  const bool flow_goal_tcp = existing_tcp.median() <= kExistingFlowGoalNs;
  json.BeginObject("goals");
  json.BeginObject("block_hit_le_1.0x_xdpfilter_dny");
  json.Field("value", ratio_dny);
  json.Field("met", block_goal);
  json.EndObject();
  json.BeginObject("block_hit_le_1.0x_xdpfilter_alw");
  json.Field("value", ratio_alw);
  json.Field("met", block_goal_alw);
  json.EndObject();
  json.BeginObject("existing_flow_le_60ns");
  json.Field("value", existing.median());
  json.Field("value_net_of_floor", existing.median() - floor_med);
  json.Field("met", flow_goal);
  json.EndObject();
  json.BeginObject("existing_flow_tcp_ack_le_60ns");
  json.Field("value", existing_tcp.median());
  json.Field("value_net_of_floor", existing_tcp.median() - floor_med);
  json.Field("met", flow_goal_tcp);
  json.EndObject();
  json.EndObject();

  json.Field("checks_ok", checks.failures.empty());
  json.BeginArray("check_failures");
  for (const auto& f : checks.failures) json.Item(f);
  json.EndArray();
  json.BeginArray("warnings");
  for (const auto& w : checks.warnings) json.Item(w);
  json.EndArray();
  json.EndObject();
  std::fputs(json.Finish().c_str(), stdout);
  std::fflush(stdout);

  if (!checks.failures.empty()) return 1;
  if (opt.enforce_goals && !(block_goal && flow_goal)) return 3;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
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
