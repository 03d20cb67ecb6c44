// The rules engine's cost: per finished flow, flow start, open flow at a sweep and sampled packet
// (Google Benchmark), and the memory of its state under a random-source SYN flood of 10^6 distinct
// sources, each seen twice (the worst case for the admission filter). See docs/benchmarks.md.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <vector>

#include "detect/rules/engine.h"
#include "detect/rules/rules_file.h"

namespace {

using netguard::FlowRecord;
using netguard::PacketSample;
using netguard::detect::rules::DefaultRuleSet;
using netguard::detect::rules::RulesEngine;

struct NullSink final : netguard::detect::AlertSink {
  uint64_t alerts = 0;
  void Emit(netguard::Alert) override { ++alerts; }
};

constexpr int64_t kT0 = 1'700'000'000'000'000'000;

// A flow from `src` (IPv4 word) to 10.0.0.1:`port`, with `fwd`/`bwd` packets.
FlowRecord MakeFlow(uint32_t src, uint16_t sport, uint16_t port, int64_t t, uint32_t fwd,
                    uint32_t bwd) {
  FlowRecord f;
  const uint32_t dst = 0x0100000a;  // 10.0.0.1 in network byte order
  const bool src_first = src < dst;
  f.key.addr_a[0] = src_first ? src : dst;
  f.key.addr_b[0] = src_first ? dst : src;
  f.key.port_a = src_first ? sport : port;
  f.key.port_b = src_first ? port : sport;
  f.key.family = NG_FAMILY_IPV4;
  f.key.proto = 6;
  f.acc.initiator = src_first ? NG_SIDE_A : NG_SIDE_B;
  f.acc.first_tcp_flags = NG_TCP_SYN;
  f.acc.dir[NG_DIR_FWD].payload.count = fwd;
  f.acc.dir[NG_DIR_FWD].flag_counts[1] = 1;
  f.acc.dir[NG_DIR_BWD].payload.count = bwd;
  f.start_ns = t;
  f.end_ns = t + 50'000'000;
  return f;
}

// Clients of a few hundred addresses talking to common ports: a benign steady state.
std::vector<FlowRecord> BenignFlows(size_t n) {
  std::mt19937 random(1);
  const uint16_t kPorts[] = {22, 53, 80, 443, 443, 443, 8080, 3306};
  std::vector<FlowRecord> flows;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t src = 0x0000000a | (static_cast<uint32_t>(random() % 500) << 16);
    flows.push_back(MakeFlow(src, static_cast<uint16_t>(1024 + random() % 60000),
                             kPorts[random() % 8], kT0 + static_cast<int64_t>(i) * 100'000, 8, 6));
  }
  return flows;
}

void BM_FlowEnd(benchmark::State& state) {
  RulesEngine engine(DefaultRuleSet());
  NullSink sink;
  const auto flows = BenignFlows(100000);
  size_t i = 0;
  for (auto _ : state) {
    engine.OnFlowEnd(flows[i++ % flows.size()], sink);
  }
  state.counters["alerts"] = static_cast<double>(sink.alerts);
}
BENCHMARK(BM_FlowEnd);

void BM_FlowStart(benchmark::State& state) {
  RulesEngine engine(DefaultRuleSet());
  NullSink sink;
  const auto flows = BenignFlows(100000);
  size_t i = 0;
  for (auto _ : state) {
    engine.OnFlowStart(flows[i++ % flows.size()], sink);
  }
}
BENCHMARK(BM_FlowStart);

// Open flows as each sweep hands them over (slow_http, the rule on open flows, tests those to
// web ports): the benign flows, seen a minute into their life.
void BM_FlowOpen(benchmark::State& state) {
  RulesEngine engine(DefaultRuleSet());
  NullSink sink;
  const auto flows = BenignFlows(100000);
  size_t i = 0;
  for (auto _ : state) {
    const FlowRecord& f = flows[i++ % flows.size()];
    engine.OnFlowOpen(f, f.start_ns + 60'000'000'000, sink);
  }
  state.counters["alerts"] = static_cast<double>(sink.alerts);
}
BENCHMARK(BM_FlowOpen);

// Sampled packets as the ring delivers them: 1-in-K data packets and DNS queries.
void BM_PacketSample(benchmark::State& state) {
  RulesEngine engine(DefaultRuleSet());
  NullSink sink;
  std::vector<PacketSample> samples;
  std::mt19937 random(2);
  for (int i = 0; i < 10000; ++i) {
    PacketSample s;
    const FlowRecord f = MakeFlow(0x0000000a | (static_cast<uint32_t>(random() % 500) << 16), 40000,
                                  i % 4 == 0 ? 53 : 443, kT0 + int64_t{i} * 1000000, 1, 0);
    s.key = f.key;
    s.side = f.acc.initiator;
    s.time_ns = f.start_ns;
    s.wire_len = 600;
    s.reason = i % 4 == 0 ? NG_SAMPLE_DNS_QUERY : NG_SAMPLE_ONE_IN_K;
    if (s.reason == NG_SAMPLE_DNS_QUERY) {
      s.key.proto = 17;
      s.dns = {0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0, 0,   0,   0,   0, 3, 'w', 'w', 'w', 7,
               'e',  'x',  'a',  'm',  'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1,   0,   1};
    }
    samples.push_back(std::move(s));
  }
  size_t i = 0;
  for (auto _ : state) {
    engine.OnPacketSample(samples[i++ % samples.size()], sink);
  }
}
BENCHMARK(BM_PacketSample);

size_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// 10^6 distinct random sources, each sending two SYNs back to back to one victim: every
// source-keyed rule is offered a million keys past the admission filter; the LRU bounds them.
void BM_RandomSourceFloodMemory(benchmark::State& state) {
  for (auto _ : state) {
    const size_t before = RssBytes();
    auto engine = std::make_unique<RulesEngine>(DefaultRuleSet());
    NullSink sink;
    std::mt19937 random(3);
    const uint32_t kSources = 1'000'000;
    std::vector<uint32_t> sources(kSources);
    for (auto& s : sources) s = static_cast<uint32_t>(random()) | 1;
    for (uint32_t i = 0; i < kSources; ++i) {
      for (int syn = 0; syn < 2; ++syn) {  // back to back: every source passes admission
        engine->OnFlowStart(MakeFlow(sources[i], static_cast<uint16_t>(1024 + syn), 80,
                                     kT0 + int64_t{i} * 1000 + syn * 500, 1, 0),
                            sink);
      }
    }
    state.counters["rss_mb"] = static_cast<double>(RssBytes() - before) / 1e6;
    state.counters["windows"] = static_cast<double>(engine->tracked_keys());
    state.counters["evictions"] = static_cast<double>(engine->evictions());
    state.counters["alerts"] = static_cast<double>(sink.alerts);
  }
}
BENCHMARK(BM_RandomSourceFloodMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
