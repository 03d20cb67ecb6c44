// store_drain: how fast the agent can drain finished flows into the store, in flows/s of
// Store::AddFlows with batches of 1024 into a fresh database (WAL, synchronous=FULL: one fsync per
// batch). Single-threaded; pin it to one core with taskset.
//
//   taskset -c 1 ./build/bench/store_drain [--store_dir=DIR] [benchmark flags]
//
// --store_dir picks the file system (default: the temp directory); a tmpfs makes fsync free and
// the figure optimistic. Cases (cap = max_flows):
//   BM_AddFlows/cap:1048576/prefill:0  history growing from empty, no eviction
//   BM_AddFlows/cap:1048576/prefill:1  a full 1M-flow history: every batch evicts 1024 rows
//   BM_AddFlows/cap:131072/prefill:1   a full small history (the database fits the page cache)
//   BM_ListFlows/0..4                  queries over a full 1M-flow history (the read trade-off)
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/flow_record.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;
using netguard::FlowEndReason;
using netguard::FlowRecord;
using netguard::store::Store;
using netguard::store::StoreOptions;

constexpr size_t kBatch = 1024;
constexpr size_t kPoolBatches = 64;  // 65536 distinct pre-built flows, replayed in a cycle

fs::path g_store_dir;  // --store_dir

/// Deterministic xorshift, so every run stores the same flows.
struct Rng {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  uint64_t Next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
};

/// A plausible mix: clients in 10.0.0.0/12 (1M hosts), servers in 198.18.0.0/16, one flow in
/// eight over IPv6, TCP/UDP, ephemeral client ports.
std::vector<std::vector<FlowRecord>> MakePool() {
  Rng rng;
  std::vector<std::vector<FlowRecord>> pool(kPoolBatches);
  int64_t t = 1'700'000'000'000'000'000;
  for (auto& batch : pool) {
    batch.resize(kBatch);
    for (FlowRecord& flow : batch) {
      const uint64_t r = rng.Next();
      ng_flow_key& key = flow.key;
      // Side A is the client (the smaller address) except in one flow of four, where the server
      // is placed on side A: initiator B exercises the other Initiator() branch.
      const bool client_is_a = (r >> 60) % 4 != 0;
      uint32_t* client = client_is_a ? key.addr_a : key.addr_b;
      uint32_t* server = client_is_a ? key.addr_b : key.addr_a;
      if (r % 8 == 0) {
        key.family = NG_FAMILY_IPV6;
        client[0] = server[0] = htonl(0x20010db8);
        client[2] = htonl(static_cast<uint32_t>(r >> 32));
        client[3] = htonl(static_cast<uint32_t>(r));
        server[1] = htonl(1);
        server[3] = htonl(static_cast<uint32_t>(r >> 48));
      } else {
        key.family = NG_FAMILY_IPV4;
        client[0] = htonl(0x0A000000u | static_cast<uint32_t>(r & 0xFFFFF));
        server[0] = htonl(0xC6120000u | static_cast<uint32_t>((r >> 20) & 0xFFFF));
      }
      const uint16_t client_port = static_cast<uint16_t>(32768 + (r >> 36) % 28000);
      const uint16_t server_port = (r >> 56) % 4 == 0 ? 53 : 443;
      key.port_a = client_is_a ? client_port : server_port;
      key.port_b = client_is_a ? server_port : client_port;
      key.proto = server_port == 53 ? 17 : 6;
      flow.acc.initiator = client_is_a ? NG_SIDE_A : NG_SIDE_B;
      flow.acc.dir[NG_DIR_FWD].payload.count = 1 + (r >> 40) % 50;
      flow.acc.dir[NG_DIR_FWD].payload.sum = static_cast<int64_t>((r >> 8) % 100000);
      flow.acc.dir[NG_DIR_BWD].payload.count = 1 + (r >> 44) % 80;
      flow.acc.dir[NG_DIR_BWD].payload.sum = static_cast<int64_t>((r >> 12) % 1000000);
      flow.end_reason = key.proto == 6 ? FlowEndReason::kFin : FlowEndReason::kIdleTimeout;
      flow.ifindex = 2;
      t += 50'000;  // 20k flows/s of traffic time
      flow.start_ns = t - static_cast<int64_t>((r >> 24) % 10'000'000'000ull);
      flow.end_ns = t;
    }
  }
  return pool;
}

const std::vector<std::vector<FlowRecord>>& Pool() {
  static const auto* pool = new std::vector<std::vector<FlowRecord>>(MakePool());
  return *pool;
}

/// A fresh directory under --store_dir, removed at the end of the case.
class TempDir {
 public:
  TempDir() {
    std::string templ = (g_store_dir / "netguard_store_drain.XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) {
      std::perror(("mkdtemp " + templ).c_str());
      std::exit(2);
    }
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void BM_AddFlows(benchmark::State& state) {
  const auto cap = static_cast<uint64_t>(state.range(0));
  const bool prefill = state.range(1) != 0;
  std::vector<std::vector<FlowRecord>> pool = Pool();  // AddFlows writes the ids back
  TempDir dir;
  Store store(StoreOptions{.path = (dir.path() / "store.db").string(), .max_flows = cap});
  size_t next = 0;
  if (prefill) {
    while (store.flow_count() < cap) store.AddFlows(pool[next++ % pool.size()]);
  }
  const uint64_t evicted_before = store.flows_evicted();
  for (auto _ : state) {
    store.AddFlows(pool[next++ % pool.size()]);
  }
  const auto flows = static_cast<double>(state.iterations() * kBatch);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBatch));
  state.counters["flows_per_s"] = benchmark::Counter(flows, benchmark::Counter::kIsRate);
  state.counters["evicted_per_flow"] =
      static_cast<double>(store.flows_evicted() - evicted_before) / flows;
  std::error_code ec;
  state.counters["db_MiB"] =
      static_cast<double>(fs::file_size(dir.path() / "store.db", ec)) / (1 << 20);
}
BENCHMARK(BM_AddFlows)
    ->ArgNames({"cap", "prefill"})
    ->Args({1 << 20, 0})
    ->Args({1 << 20, 1})
    ->Args({1 << 17, 1})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

/// The read side of the zone map: ListFlows over a full 1M-flow history (limit 100).
void BM_ListFlows(benchmark::State& state) {
  static const auto* fixture = [] {
    struct Fixture {
      TempDir dir;
      std::unique_ptr<Store> store;
      std::string common_address;  // a server in ~16 flows, spread over every zone
      int64_t last_end_ns = 0;
    };
    auto* f = new Fixture;
    f->store = std::make_unique<Store>(
        StoreOptions{.path = (f->dir.path() / "store.db").string(), .max_flows = 1 << 20});
    std::vector<std::vector<FlowRecord>> pool = Pool();
    for (size_t i = 0; f->store->flow_count() < (1u << 20); ++i) {
      f->store->AddFlows(pool[i % pool.size()]);
    }
    f->common_address = netguard::Responder(pool[0][1]).address;
    f->last_end_ns = pool.back().back().end_ns;
    return f;
  }();
  netguard::store::FlowQuery query;
  switch (state.range(0)) {
    case 0:  // newest 100, no filter
      state.SetLabel("newest");
      break;
    case 1:
      state.SetLabel("address in ~16 flows");
      query.address = fixture->common_address;
      break;
    case 2:
      state.SetLabel("address absent");
      query.address = "192.0.2.99";
      break;
    case 3:
      state.SetLabel("last 10 s of flows");  // 200k flows: the zone map narrows nothing much
      query.since_ns = fixture->last_end_ns - 10'000'000'000;
      break;
    default:
      state.SetLabel("port 53, newest");
      query.port = 53;
      break;
  }
  size_t rows = 0;
  for (auto _ : state) {
    rows = fixture->store->ListFlows(query).size();
    benchmark::DoNotOptimize(rows);
  }
  state.counters["rows"] = static_cast<double>(rows);
}
BENCHMARK(BM_ListFlows)->DenseRange(0, 4)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  g_store_dir = fs::temp_directory_path();
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    constexpr std::string_view kFlag = "--store_dir=";
    const std::string_view arg = argv[i];
    if (arg.starts_with(kFlag)) {
      g_store_dir = std::string(arg.substr(kFlag.size()));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("store_dir", g_store_dir.string());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
