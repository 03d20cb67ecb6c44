// Unit tests of the store's flow history (agent/store/store_flows.cpp): flow summaries,
// filters and paging, the zone map (agent/store/flow_zones.h), the flow cap and eviction.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "store/flow_zones.h"
#include "store/store.h"
#include "store_test_util.h"

namespace netguard::store {
namespace {

// ---- Flows ----

TEST_F(StoreTest, FlowSummaryComesFromTheRecord) {
  auto store = Open();
  std::vector<FlowRecord> flows = {
      // Side A initiated: src = A.
      MakeFlow("10.0.0.1", 1234, "10.0.0.2", 80, 6, NG_SIDE_A, 1000, 2000),
      // Side B initiated: src = B (the client with the larger address).
      MakeFlow("2001:db8::1", 53, "2001:db8::ff", 40000, 17, NG_SIDE_B, 3000, 4000),
  };
  flows[1].end_reason = FlowEndReason::kIdleTimeout;
  flows[1].ifindex = 7;
  flows[1].acc.dir[NG_DIR_FWD].payload.count = 3;
  flows[1].acc.dir[NG_DIR_FWD].payload.sum = 90;
  flows[1].acc.dir[NG_DIR_BWD].payload.count = 4;
  flows[1].acc.dir[NG_DIR_BWD].payload.sum = 400;
  store->AddFlows(flows);
  EXPECT_GT(flows[0].id, 0);
  EXPECT_EQ(flows[1].id, flows[0].id + 1);
  EXPECT_EQ(store->flow_count(), 2u);

  const auto got = store->ListFlows({.oldest_first = true});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, flows[0].id);
  EXPECT_EQ(got[0].start_ns, 1000);
  EXPECT_EQ(got[0].end_ns, 2000);
  EXPECT_EQ(got[0].src_addr, "10.0.0.1");
  EXPECT_EQ(got[0].src_port, 1234);
  EXPECT_EQ(got[0].dst_addr, "10.0.0.2");
  EXPECT_EQ(got[0].dst_port, 80);
  EXPECT_EQ(got[0].protocol, 6);
  EXPECT_EQ(got[0].fwd_packets, 10u);
  EXPECT_EQ(got[0].bwd_packets, 7u);
  EXPECT_EQ(got[0].fwd_bytes, 1000u);
  EXPECT_EQ(got[0].bwd_bytes, 70000u);
  EXPECT_EQ(got[0].end_reason, FlowEndReason::kFin);
  EXPECT_EQ(got[0].ifindex, 3u);

  EXPECT_EQ(got[1].src_addr, "2001:db8::ff");
  EXPECT_EQ(got[1].src_port, 40000);
  EXPECT_EQ(got[1].dst_addr, "2001:db8::1");
  EXPECT_EQ(got[1].dst_port, 53);
  EXPECT_EQ(got[1].protocol, 17);
  EXPECT_EQ(got[1].fwd_packets, 3u);
  EXPECT_EQ(got[1].bwd_packets, 4u);
  EXPECT_EQ(got[1].fwd_bytes, 90u);
  EXPECT_EQ(got[1].bwd_bytes, 400u);
  EXPECT_EQ(got[1].end_reason, FlowEndReason::kIdleTimeout);
  EXPECT_EQ(got[1].ifindex, 7u);

  store->AddFlows({});  // no-op
  EXPECT_EQ(store->flow_count(), 2u);
}

TEST_F(StoreTest, FlowFiltersAndPaging) {
  auto store = Open();
  std::vector<FlowRecord> flows = {
      MakeFlow("10.0.0.1", 1111, "10.0.0.2", 80, 6, NG_SIDE_A, 100, 200),        // 0
      MakeFlow("10.0.0.3", 53, "10.0.0.1", 2222, 17, NG_SIDE_B, 150, 400),       // 1
      MakeFlow("10.0.0.4", 3333, "10.0.0.5", 443, 6, NG_SIDE_A, 300, 350),       // 2
      MakeFlow("2001:db8::1", 80, "2001:db8::2", 4444, 6, NG_SIDE_B, 500, 900),  // 3
  };
  store->AddFlows(flows);
  const auto ids = [&](std::initializer_list<int> indexes) {
    std::vector<int64_t> out;
    for (int i : indexes) out.push_back(flows[i].id);
    return out;
  };
  EXPECT_EQ(Ids(store->ListFlows({})), ids({3, 2, 1, 0}));
  // Overlap of [since, until): end >= since and start < until.
  EXPECT_EQ(Ids(store->ListFlows({.since_ns = 350})), ids({3, 2, 1}));
  EXPECT_EQ(Ids(store->ListFlows({.until_ns = 150})), ids({0}));
  EXPECT_EQ(Ids(store->ListFlows({.since_ns = 201, .until_ns = 500})), ids({2, 1}));
  EXPECT_EQ(Ids(store->ListFlows({.address = "10.0.0.1"})), ids({1, 0}));
  EXPECT_EQ(Ids(store->ListFlows({.address = "2001:DB8::2"})), ids({3}));
  EXPECT_EQ(Ids(store->ListFlows({.port = 80})), ids({3, 0}));
  EXPECT_EQ(Ids(store->ListFlows({.port = 2222})), ids({1}));
  EXPECT_EQ(Ids(store->ListFlows({.protocol = 17})), ids({1}));
  EXPECT_EQ(Ids(store->ListFlows({.before_id = flows[2].id})), ids({1, 0}));
  EXPECT_EQ(Ids(store->ListFlows({.after_id = flows[0].id, .oldest_first = true})), ids({1, 2, 3}));
  EXPECT_EQ(Ids(store->ListFlows({.limit = 1})), ids({3}));
  EXPECT_EQ(Ids(store->ListFlows({.address = "10.0.0.1", .port = 80, .protocol = 6})), ids({0}));
}

TEST_F(StoreTest, ListLimitIsCapped) {
  auto store = Open();
  auto flows = ManyFlows(0, Store::kMaxListLimit + 50);
  store->AddFlows(flows);
  EXPECT_EQ(store->ListFlows({.limit = 20000}).size(), Store::kMaxListLimit);
  EXPECT_EQ(store->ListFlows({.limit = 0}).size(), Store::kMaxListLimit);
  EXPECT_EQ(store->ListFlows({.limit = 10}).size(), 10u);
  // Paging through all of them newest first covers each exactly once.
  std::set<int64_t> seen;
  int64_t before = 0;
  size_t total = 0;
  for (;;) {
    const auto page = store->ListFlows({.before_id = before, .limit = 4000});
    if (page.empty()) break;
    total += page.size();
    for (const auto& f : page) seen.insert(f.id);
    before = page.back().id;
  }
  EXPECT_EQ(total, flows.size());
  EXPECT_EQ(seen.size(), flows.size());
}

TEST_F(StoreTest, FlowCapEvictsTheOldestAndCountsPersist) {
  std::vector<FlowRecord> flows = ManyFlows(0, 250);
  {
    auto store = Open(100);
    store->AddFlows(std::span(flows).subspan(0, 60));  // under the cap
    EXPECT_EQ(store->flows_evicted(), 0u);
    store->AddFlows(std::span(flows).subspan(60, 90));  // 150 total: 50 evicted
    EXPECT_EQ(store->flows_evicted(), 50u);
    store->AddFlows(std::span(flows).subspan(150));  // 250 total
    EXPECT_EQ(store->flow_count(), 100u);
    EXPECT_EQ(store->flows_evicted(), 150u);
    const auto left = store->ListFlows({.limit = 1000, .oldest_first = true});
    ASSERT_EQ(left.size(), 100u);
    EXPECT_EQ(left.front().id, flows[150].id);  // the newest 100 are kept
    EXPECT_EQ(left.back().id, flows[249].id);
  }
  {
    auto store = Open(100);
    EXPECT_EQ(store->flow_count(), 100u);
    EXPECT_EQ(store->flows_evicted(), 150u);
    std::vector<FlowRecord> more = ManyFlows(250, 10);
    store->AddFlows(more);
    EXPECT_GT(more[0].id, flows[249].id);  // ids are not reused
    EXPECT_EQ(store->flow_count(), 100u);
    EXPECT_EQ(store->flows_evicted(), 160u);
  }
  {
    // A batch larger than the cap keeps only its newest rows.
    auto store = Open(5);
    std::vector<FlowRecord> big = ManyFlows(300, 20);
    store->AddFlows(big);
    EXPECT_EQ(store->flow_count(), 5u);
    EXPECT_EQ(store->flows_evicted(), 160u + (100u + 20u - 5u));
    EXPECT_EQ(store->ListFlows({}).front().id, big.back().id);
  }
}

// The zone map (time span and address Bloom filter per 4096 flow ids) must only skip zones
// without a match: filtered listings equal a full scan filtered here, across many zones, partly
// evicted ones, batches of every size and times that do not follow ids.
TEST_F(StoreTest, FlowZoneMapAgreesWithAFullScan) {
  constexpr int kFlows = 26000;
  constexpr uint64_t kCap = 15000;
  auto store = Open(kCap);
  std::vector<FlowRecord> all;
  for (int i = 0; i < kFlows; ++i) {
    std::string client = "10.0." + std::to_string(i % 7) + "." + std::to_string(i % 41);
    std::string server = "192.0.2." + std::to_string(i % 5);
    if (i == 4000 || i == 17001 || i == 25998) server = "203.0.113.77";  // rare (first evicted)
    if (i % 1000 == 3) {
      client = "2001:db8:1::" + std::to_string(i % 50);
      server = "2001:db8::" + std::to_string(i % 3);
    }
    const int64_t start = i * 1000LL - (i % 7) * 5000;
    const int64_t end = i * 1000LL + (i % 13) * 3000;
    all.push_back(MakeFlow(client.c_str(), static_cast<uint16_t>(1024 + i % 100), server.c_str(),
                           static_cast<uint16_t>(i % 2 ? 443 : 53), i % 2 ? 6 : 17,
                           i % 3 ? NG_SIDE_A : NG_SIDE_B, start, end));
  }
  const size_t sizes[] = {1, 7, 1024, 3000, 500, 1, 4096, 2};
  for (size_t done = 0, n = 0; done < all.size(); ++n) {
    const size_t size = std::min(sizes[n % std::size(sizes)], all.size() - done);
    store->AddFlows(std::span(all).subspan(done, size));
    done += size;
  }
  ASSERT_EQ(store->flow_count(), kCap);
  ASSERT_EQ(store->flows_evicted(), kFlows - kCap);

  // Every stored flow, oldest first, through the plain id walk (no time/address filter).
  std::vector<FlowSummary> stored;
  for (int64_t after = 0;;) {
    const auto page = store->ListFlows({.after_id = after, .limit = 0, .oldest_first = true});
    if (page.empty()) break;
    stored.insert(stored.end(), page.begin(), page.end());
    after = page.back().id;
  }
  ASSERT_EQ(stored.size(), kCap);

  const auto reference = [&](const FlowQuery& q) {
    std::vector<int64_t> ids;
    const auto add = [&](const FlowSummary& f) {
      if (q.since_ns != 0 && f.end_ns < q.since_ns) return;
      if (q.until_ns != 0 && f.start_ns >= q.until_ns) return;
      if (!q.address.empty() && f.src_addr != q.address && f.dst_addr != q.address) return;
      if (q.port != 0 && f.src_port != q.port && f.dst_port != q.port) return;
      if (q.before_id > 0 && f.id >= q.before_id) return;
      if (q.after_id > 0 && f.id <= q.after_id) return;
      const uint32_t limit = q.limit == 0 ? Store::kMaxListLimit : q.limit;
      if (ids.size() < limit) ids.push_back(f.id);
    };
    if (q.oldest_first) {
      for (const auto& f : stored) add(f);
    } else {
      for (auto it = stored.rbegin(); it != stored.rend(); ++it) add(*it);
    }
    return ids;
  };

  const int64_t mid = stored[stored.size() / 2].id;
  const int64_t t_mid = 19000LL * 1000;
  int checked = 0;
  for (const std::string address : {"", "10.0.3.5", "203.0.113.77", "2001:db8::1", "10.9.9.9"}) {
    for (const auto& [since, until] : std::vector<std::pair<int64_t, int64_t>>{
             {0, 0}, {t_mid, 0}, {0, t_mid}, {t_mid, t_mid + 2'000'000}, {1, 2}}) {
      for (const auto& [before, after] : std::vector<std::pair<int64_t, int64_t>>{
               {0, 0}, {mid, 0}, {0, mid}, {mid + 999, mid - 4500}}) {
        for (const uint32_t limit : {3u, 100u, 0u}) {
          for (const bool oldest_first : {false, true}) {
            const FlowQuery q{.since_ns = since,
                              .until_ns = until,
                              .address = address,
                              .port = static_cast<uint16_t>(address == "10.9.9.9" ? 0 : 443),
                              .before_id = before,
                              .after_id = after,
                              .limit = limit,
                              .oldest_first = oldest_first};
            EXPECT_EQ(Ids(store->ListFlows(q)), reference(q))
                << "address '" << address << "' since " << since << " until " << until << " before "
                << before << " after " << after << " limit " << limit
                << (oldest_first ? " oldest first" : " newest first");
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 5 * 5 * 4 * 3 * 2);
  // The rare address: one flow evicted, two kept.
  EXPECT_EQ(store->ListFlows({.address = "203.0.113.77"}).size(), 2u);
  // Zones wholly evicted are gone from the map: ids 11001..26000 span zones 2..6.
  EXPECT_EQ(RawText("SELECT count(*) || ' ' || min(zone) || ' ' || max(zone) FROM flow_zones"),
            "5 2 6");
}

TEST(FlowZoneBloomTest, HasNoFalseNegativesAndFewFalsePositives) {
  std::vector<uint8_t> bloom(internal::kZoneBloomBytes, 0);
  constexpr int kAdded = 8192;  // the worst case of a zone: two new addresses a flow
  for (int i = 0; i < kAdded; ++i) {
    internal::BloomAdd(bloom.data(), internal::AddressHash("10.1." + std::to_string(i)));
  }
  for (int i = 0; i < kAdded; ++i) {
    ASSERT_TRUE(internal::BloomMayContain(bloom.data(), bloom.size(),
                                          internal::AddressHash("10.1." + std::to_string(i))));
  }
  int false_positives = 0;
  for (int i = 0; i < 100000; ++i) {
    false_positives += internal::BloomMayContain(
        bloom.data(), bloom.size(), internal::AddressHash("10.2." + std::to_string(i)));
  }
  EXPECT_LT(false_positives, 4000);  // ~2% expected at this load
  EXPECT_FALSE(internal::BloomMayContain(std::vector<uint8_t>(bloom.size()).data(), bloom.size(),
                                         internal::AddressHash("10.1.0")));
  EXPECT_TRUE(internal::BloomMayContain(bloom.data(), 3, 42));  // wrong size: anything
  // The hash is stored on disk: it must not change.
  EXPECT_EQ(internal::AddressHash("10.0.0.1"), 0x7fb1b600f0f5c6d3ull);
}

TEST_F(StoreTest, FailedAddFlowsStoresNothing) {
  auto store = Open(10);
  std::vector<FlowRecord> first = ManyFlows(0, 12);  // 2 evicted
  store->AddFlows(first);
  // A trigger (added behind the store's back) makes the 5th row of the next batch fail.
  RawExec(path_,
          "CREATE TRIGGER fail BEFORE INSERT ON flows WHEN NEW.src_port = 1104 "
          "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  std::vector<FlowRecord> batch = ManyFlows(100, 10);
  try {
    store->AddFlows(batch);
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("add flows: injected failure"), std::string::npos)
        << e.what();
  }
  for (const FlowRecord& flow : batch) EXPECT_EQ(flow.id, 0);
  EXPECT_EQ(store->flow_count(), 10u);
  EXPECT_EQ(store->flows_evicted(), 2u);
  EXPECT_EQ(store->ListFlows({}).front().id, first.back().id);
  // The store keeps working, and ids continue without a gap.
  RawExec(path_, "DROP TRIGGER fail;");
  std::vector<FlowRecord> next = ManyFlows(200, 1);
  store->AddFlows(next);
  EXPECT_EQ(next[0].id, first.back().id + 1);
  EXPECT_EQ(store->flows_evicted(), 3u);
}

}  // namespace
}  // namespace netguard::store
