// Unit tests of the SQLite store (agent/store) except the flow history (store_flows_test.cpp).
#include "store/store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/schema.h"
#include "store_test_util.h"

namespace netguard::store {
namespace {

namespace fs = std::filesystem;

// ---- Schema and opening ----

TEST_F(StoreTest, NewDatabaseHasCurrentSchemaAndWal) {
  auto store = Open();
  EXPECT_EQ(store->schema_version(), Store::kSchemaVersion);
  EXPECT_EQ(store->schema_version(), 2);
  EXPECT_TRUE(fs::exists(path_));  // parent directories were created
  EXPECT_EQ(RawText("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawText("PRAGMA application_id"), std::to_string(internal::kApplicationId));
  EXPECT_EQ(store->flow_count(), 0u);
  EXPECT_EQ(store->flows_evicted(), 0u);
}

TEST_F(StoreTest, MigrationsAreOrderedAndEndAtTheSchemaVersion) {
  const auto migrations = internal::Migrations();
  ASSERT_EQ(migrations.size(), static_cast<size_t>(Store::kSchemaVersion));
  for (size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i + 1));
  }
}

TEST_F(StoreTest, MigratesAnEmptyVersionZeroDatabase) {
  RawExec(path_, "PRAGMA user_version = 0; CREATE TABLE unrelated (x INTEGER);");
  auto store = Open();
  EXPECT_EQ(store->schema_version(), Store::kSchemaVersion);
  Alert alert = MakeAlert(1, "10.0.0.1", "10.0.0.2", "PortScan", Severity::kHigh);
  store->AddAlert(alert);
  EXPECT_EQ(store->GetAlert(alert.id)->alert_class, "PortScan");
  EXPECT_EQ(RawText("SELECT count(*) FROM unrelated"), "0");  // left alone
}

TEST_F(StoreTest, FailedMigrationLeavesTheOlderVersionUntouched) {
  // A table named like one of version 1 makes migration 1 fail half-way.
  RawExec(path_, "CREATE TABLE flows (x INTEGER);");
  try {
    Open();
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("migrate schema from version 0 to 1"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(RawText("PRAGMA user_version"), "0");
  // The tables created before the failure were rolled back with it.
  EXPECT_EQ(RawText("SELECT count(*) FROM sqlite_schema WHERE name = 'alerts'"), "0");
}

TEST_F(StoreTest, RefusesANewerSchema) {
  { Open(); }
  RawExec(path_, "PRAGMA user_version = 99;");
  try {
    Open();
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("schema version 99 is newer"), std::string::npos) << what;
    EXPECT_NE(what.find(path_), std::string::npos) << what;
  }
  EXPECT_EQ(RawText("PRAGMA user_version"), "99");
}

TEST_F(StoreTest, RefusesAnotherApplicationsDatabase) {
  RawExec(path_, "PRAGMA application_id = 1234;");
  EXPECT_THROW(Open(), StoreError);
}

TEST_F(StoreTest, GarbageFileGivesAClearStoreError) {
  fs::create_directories(fs::path(path_).parent_path());
  {
    std::ofstream out(path_, std::ios::binary);
    for (int i = 0; i < 1000; ++i) out << "this is not an SQLite database, just garbage text. ";
  }
  try {
    Open();
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path_), std::string::npos) << what;
    EXPECT_NE(what.find("file is not a database"), std::string::npos) << what;
    EXPECT_NE(what.find("not a NetGuard store or is corrupt"), std::string::npos) << what;
  }
}

TEST_F(StoreTest, CorruptPagesGiveStoreErrorNotACrash) {
  {
    auto store = Open();
    for (int i = 0; i < 50; ++i) {
      Alert alert = MakeAlert(i, "10.0.0.1", "10.0.0.2", "PortScan", Severity::kHigh);
      store->AddAlert(alert);
    }
  }  // closing checkpoints the WAL into the main file
  const auto size = fs::file_size(path_);
  ASSERT_GT(size, 4096u);
  {
    // Keep the 100-byte header, overwrite the rest of page 1 (the schema) and every other page.
    std::fstream file(path_, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(100);
    for (uintmax_t i = 100; i < size; ++i) file.put(static_cast<char>(0xA5 ^ (i * 7)));
  }
  try {
    auto store = Open();
    store->ListAlerts({});
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, RejectsAZeroFlowCap) { EXPECT_THROW(Open(0), StoreError); }

TEST_F(StoreTest, InMemoryDatabase) {
  Store store(StoreOptions{.path = ":memory:"});
  EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
  Alert alert = MakeAlert(1, "10.0.0.1", "10.0.0.2", "X", Severity::kInfo);
  store.AddAlert(alert);
  std::vector<FlowRecord> flows = ManyFlows(0, 3);
  store.AddFlows(flows);
  EXPECT_EQ(store.ListAlerts({}).size(), 1u);
  EXPECT_EQ(store.ListFlows({.address = "192.0.2.1"}).size(), 3u);
}

// ---- Alerts ----

TEST_F(StoreTest, AlertRoundTripsEveryField) {
  auto store = Open();
  Alert alert;
  alert.time_ns = 1700000000123456789;
  alert.src_addr = "2001:db8::1";
  alert.src_port = 65535;
  alert.dst_addr = "";
  alert.dst_port = 0;
  alert.protocol = 255;
  alert.alert_class = "Exfiltration \"quoted\" 'x' é";
  alert.score = 0.123456789012345;
  alert.severity = Severity::kCritical;
  alert.mitre_technique = "T1048.003";
  alert.detector = "ml.isolation_forest";
  alert.evidence_json = R"({"top":[{"feature":"Flow Bytes/s","z":4.5}],"s":"a\"b\u00e9"})";
  alert.degraded_coverage = true;
  alert.acknowledged = true;
  alert.feedback = Feedback::kFalsePositive;
  store->AddAlert(alert);
  EXPECT_GT(alert.id, 0);

  const std::optional<Alert> got = store->GetAlert(alert.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->id, alert.id);
  EXPECT_EQ(got->time_ns, alert.time_ns);
  EXPECT_EQ(got->src_addr, alert.src_addr);
  EXPECT_EQ(got->src_port, alert.src_port);
  EXPECT_EQ(got->dst_addr, alert.dst_addr);
  EXPECT_EQ(got->dst_port, alert.dst_port);
  EXPECT_EQ(got->protocol, alert.protocol);
  EXPECT_EQ(got->alert_class, alert.alert_class);
  EXPECT_EQ(got->score, alert.score);  // bit-exact double
  EXPECT_EQ(got->severity, alert.severity);
  EXPECT_EQ(got->mitre_technique, alert.mitre_technique);
  EXPECT_EQ(got->detector, alert.detector);
  EXPECT_EQ(got->evidence_json, alert.evidence_json);
  EXPECT_EQ(got->degraded_coverage, alert.degraded_coverage);
  EXPECT_EQ(got->acknowledged, alert.acknowledged);
  EXPECT_EQ(got->feedback, alert.feedback);

  // The defaults and a NaN score survive too.
  Alert plain = MakeAlert(5, "10.0.0.1", "10.0.0.2", "X", Severity::kInfo);
  plain.score = std::nan("");
  store->AddAlert(plain);
  const std::optional<Alert> got_plain = store->GetAlert(plain.id);
  ASSERT_TRUE(got_plain.has_value());
  EXPECT_TRUE(std::isnan(got_plain->score));
  EXPECT_FALSE(got_plain->degraded_coverage);
  EXPECT_FALSE(got_plain->acknowledged);
  EXPECT_EQ(got_plain->feedback, Feedback::kNone);
  EXPECT_EQ(got_plain->severity, Severity::kInfo);
}

TEST_F(StoreTest, AlertIdsIncrease) {
  auto store = Open();
  int64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    Alert alert = MakeAlert(100 - i, "10.0.0.1", "10.0.0.2", "X", Severity::kInfo);
    store->AddAlert(alert);
    EXPECT_GT(alert.id, last);
    last = alert.id;
  }
  EXPECT_FALSE(store->GetAlert(last + 1).has_value());
}

TEST_F(StoreTest, AckAndFeedback) {
  auto store = Open();
  Alert alert = MakeAlert(1, "10.0.0.1", "10.0.0.2", "X", Severity::kInfo);
  store->AddAlert(alert);
  EXPECT_FALSE(store->AckAlert(alert.id + 100));
  EXPECT_FALSE(store->SetFeedback(alert.id + 100, Feedback::kTruePositive));
  EXPECT_FALSE(store->AckAlert(0));
  EXPECT_TRUE(store->AckAlert(alert.id));
  EXPECT_TRUE(store->AckAlert(alert.id));  // again: still there
  EXPECT_TRUE(store->SetFeedback(alert.id, Feedback::kTruePositive));
  const std::optional<Alert> got = store->GetAlert(alert.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->acknowledged);
  EXPECT_EQ(got->feedback, Feedback::kTruePositive);
}

TEST_F(StoreTest, AlertFilters) {
  auto store = Open();
  // id order == insertion order; times deliberately not monotonic.
  std::vector<Alert> alerts = {
      MakeAlert(500, "10.0.0.1", "10.0.0.9", "PortScan", Severity::kWarning),       // 0
      MakeAlert(100, "10.0.0.2", "10.0.0.1", "BruteForce", Severity::kHigh),        // 1
      MakeAlert(300, "10.0.0.3", "", "PortScan", Severity::kInfo),                  // 2
      MakeAlert(200, "2001:db8::1", "10.0.0.4", "DnsTunnel", Severity::kCritical),  // 3
      MakeAlert(400, "10.0.0.1", "10.0.0.5", "BruteForce", Severity::kCritical),    // 4
  };
  for (Alert& a : alerts) store->AddAlert(a);
  const auto ids = [&](std::initializer_list<int> indexes) {
    std::vector<int64_t> out;
    for (int i : indexes) out.push_back(alerts[i].id);
    return out;
  };

  EXPECT_EQ(Ids(store->ListAlerts({})), ids({4, 3, 2, 1, 0}));  // newest first
  EXPECT_EQ(Ids(store->ListAlerts({.oldest_first = true})), ids({0, 1, 2, 3, 4}));
  EXPECT_EQ(Ids(store->ListAlerts({.since_ns = 300})), ids({4, 2, 0}));
  EXPECT_EQ(Ids(store->ListAlerts({.until_ns = 300})), ids({3, 1}));
  EXPECT_EQ(Ids(store->ListAlerts({.since_ns = 200, .until_ns = 400})), ids({3, 2}));
  EXPECT_EQ(Ids(store->ListAlerts({.address = "10.0.0.1"})), ids({4, 1, 0}));     // src or dst
  EXPECT_EQ(Ids(store->ListAlerts({.address = "2001:0db8:0::0001"})), ids({3}));  // canonical
  EXPECT_EQ(Ids(store->ListAlerts({.address = "10.9.9.9"})), ids({}));
  EXPECT_EQ(Ids(store->ListAlerts({.alert_class = "BruteForce"})), ids({4, 1}));
  EXPECT_EQ(Ids(store->ListAlerts({.min_severity = Severity::kHigh})), ids({4, 3, 1}));
  EXPECT_EQ(Ids(store->ListAlerts({.min_severity = Severity::kInfo})), ids({4, 3, 2, 1, 0}));
  EXPECT_EQ(Ids(store->ListAlerts({.before_id = alerts[3].id})), ids({2, 1, 0}));
  EXPECT_EQ(Ids(store->ListAlerts({.after_id = alerts[1].id})), ids({4, 3, 2}));
  EXPECT_EQ(Ids(store->ListAlerts({.limit = 2})), ids({4, 3}));
  EXPECT_EQ(Ids(store->ListAlerts({.limit = 2, .oldest_first = true})), ids({0, 1}));
  // Everything at once.
  EXPECT_EQ(Ids(store->ListAlerts({.since_ns = 100,
                                   .until_ns = 500,
                                   .address = "10.0.0.1",
                                   .alert_class = "BruteForce",
                                   .min_severity = Severity::kHigh,
                                   .before_id = alerts[4].id + 1,
                                   .after_id = alerts[0].id,
                                   .limit = 10,
                                   .oldest_first = true})),
            ids({1, 4}));
}

TEST_F(StoreTest, NewestFirstPagesCoverEveryAlertOnce) {
  auto store = Open();
  std::vector<int64_t> all;
  for (int i = 0; i < 120; ++i) {
    Alert alert = MakeAlert(i, "10.0.0.1", "10.0.0.2", i % 3 == 0 ? "A" : "B", Severity::kInfo);
    store->AddAlert(alert);
    all.push_back(alert.id);
  }
  for (const std::string cls : {"", "A"}) {
    std::vector<int64_t> seen;
    int64_t before = 0;
    for (;;) {
      const auto page = store->ListAlerts({.alert_class = cls, .before_id = before, .limit = 17});
      if (page.empty()) break;
      EXPECT_LE(page.size(), 17u);
      for (const Alert& a : page) seen.push_back(a.id);
      before = page.back().id;
    }
    std::vector<int64_t> expected;
    for (size_t i = all.size(); i-- > 0;) {
      if (cls.empty() || i % 3 == 0) expected.push_back(all[i]);
    }
    EXPECT_EQ(seen, expected) << "class '" << cls << "'";
  }
}

TEST_F(StoreTest, StreamResumesAfterId) {
  auto store = Open();
  std::vector<int64_t> all;
  for (int i = 0; i < 30; ++i) {
    Alert alert = MakeAlert(i, "10.0.0.1", "10.0.0.2", "X", Severity::kInfo);
    store->AddAlert(alert);
    all.push_back(alert.id);
  }
  // A subscriber read the first 10, disconnected, resumes from the last id it saw.
  std::vector<int64_t> seen = Ids(store->ListAlerts({.limit = 10, .oldest_first = true}));
  int64_t cursor = seen.back();
  for (int i = 0; i < 5; ++i) {  // more alerts arrive meanwhile
    Alert alert = MakeAlert(100 + i, "10.0.0.1", "10.0.0.2", "X", Severity::kInfo);
    store->AddAlert(alert);
    all.push_back(alert.id);
  }
  for (;;) {
    const auto page = store->ListAlerts({.after_id = cursor, .limit = 7, .oldest_first = true});
    if (page.empty()) break;
    for (const Alert& a : page) seen.push_back(a.id);
    cursor = page.back().id;
  }
  EXPECT_EQ(seen, all);
}

// ---- Blocks ----

TEST_F(StoreTest, BlocksPutReplaceRemoveList) {
  auto store = Open();
  Alert a1 = MakeAlert(1, "10.1.2.3", "10.0.0.1", "PortScan", Severity::kHigh);
  Alert a2 = MakeAlert(2, "10.1.2.3", "10.0.0.1", "PortScan", Severity::kHigh);
  store->AddAlert(a1);
  store->AddAlert(a2);

  BlockRecord auto_block{.prefix = "10.1.2.3/24",
                         .reason = "port scan",
                         .automatic = true,
                         .created_ns = 1000,
                         .expires_ns = 5000,
                         .alert_ids = {a2.id, a1.id, a2.id}};
  store->PutBlock(auto_block);
  EXPECT_GT(auto_block.id, 0);
  EXPECT_EQ(auto_block.prefix, "10.1.2.0/24");  // canonical

  BlockRecord manual{.prefix = "2001:db8::/32", .reason = "manual", .created_ns = 2000};
  store->PutBlock(manual);

  auto blocks = store->ListBlocks();
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].id, auto_block.id);
  EXPECT_EQ(blocks[0].prefix, "10.1.2.0/24");
  EXPECT_EQ(blocks[0].reason, "port scan");
  EXPECT_TRUE(blocks[0].automatic);
  EXPECT_EQ(blocks[0].created_ns, 1000);
  EXPECT_EQ(blocks[0].expires_ns, 5000);
  EXPECT_EQ(blocks[0].alert_ids, (std::vector<int64_t>{a1.id, a2.id}));
  EXPECT_EQ(blocks[1].prefix, "2001:db8::/32");
  EXPECT_FALSE(blocks[1].automatic);
  EXPECT_EQ(blocks[1].expires_ns, 0);
  EXPECT_TRUE(blocks[1].alert_ids.empty());

  // Replace by the same prefix in another spelling: same id, every field and link replaced.
  BlockRecord replacement{.prefix = "10.1.2.99/24",
                          .reason = "made permanent",
                          .automatic = false,
                          .created_ns = 3000,
                          .expires_ns = 0,
                          .alert_ids = {a2.id}};
  store->PutBlock(replacement);
  EXPECT_EQ(replacement.id, auto_block.id);
  blocks = store->ListBlocks();
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].reason, "made permanent");
  EXPECT_FALSE(blocks[0].automatic);
  EXPECT_EQ(blocks[0].created_ns, 3000);
  EXPECT_EQ(blocks[0].expires_ns, 0);
  EXPECT_EQ(blocks[0].alert_ids, std::vector<int64_t>{a2.id});

  EXPECT_TRUE(store->RemoveBlock("2001:db8:0::/32"));
  EXPECT_FALSE(store->RemoveBlock("2001:db8::/32"));
  EXPECT_FALSE(store->RemoveBlock("not a prefix"));
  EXPECT_TRUE(store->RemoveBlock("10.1.2.0/24"));
  EXPECT_TRUE(store->ListBlocks().empty());
  EXPECT_EQ(RawText("SELECT count(*) FROM block_alerts"), "0");  // links went with the blocks
}

TEST_F(StoreTest, BlockRejectsBadPrefixAndUnknownAlert) {
  auto store = Open();
  BlockRecord bad{.prefix = "10.0.0.0/33", .reason = "x"};
  EXPECT_THROW(store->PutBlock(bad), StoreError);
  BlockRecord orphan{.prefix = "10.0.0.0/8", .reason = "x", .alert_ids = {12345}};
  try {
    store->PutBlock(orphan);
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("FOREIGN KEY"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(store->ListBlocks().empty());  // the failed put was rolled back whole
}

TEST_F(StoreTest, TakeExpiredBlocks) {
  auto store = Open();
  Alert alert = MakeAlert(1, "10.9.9.9", "10.0.0.1", "BruteForce", Severity::kHigh);
  store->AddAlert(alert);
  BlockRecord soon{.prefix = "10.9.9.9",
                   .reason = "a",
                   .automatic = true,
                   .expires_ns = 100,
                   .alert_ids = {alert.id}};
  BlockRecord later{.prefix = "10.8.8.8", .reason = "b", .automatic = true, .expires_ns = 200};
  BlockRecord never{.prefix = "10.7.7.7", .reason = "c", .expires_ns = 0};
  store->PutBlock(soon);
  store->PutBlock(later);
  store->PutBlock(never);

  EXPECT_TRUE(store->TakeExpiredBlocks(99).empty());
  auto taken = store->TakeExpiredBlocks(100);  // expiry <= now
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].prefix, "10.9.9.9/32");
  EXPECT_EQ(taken[0].id, soon.id);
  EXPECT_EQ(taken[0].alert_ids, std::vector<int64_t>{alert.id});
  EXPECT_TRUE(store->TakeExpiredBlocks(100).empty());  // taken means removed

  taken = store->TakeExpiredBlocks(INT64_MAX);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].prefix, "10.8.8.8/32");
  const auto left = store->ListBlocks();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].prefix, "10.7.7.7/32");  // never expires
  EXPECT_EQ(RawText("SELECT count(*) FROM block_alerts"), "0");
}

// ---- Durability and concurrency ----

TEST_F(StoreTest, ReopenKeepsEverything) {
  Alert alert = MakeAlert(42, "10.0.0.1", "10.0.0.2", "PortScan", Severity::kHigh);
  std::vector<FlowRecord> flows = ManyFlows(0, 3);
  BlockRecord block{.prefix = "10.0.0.1",
                    .reason = "r",
                    .automatic = true,
                    .created_ns = 7,
                    .expires_ns = 9,
                    .alert_ids = {}};
  {
    auto store = Open();
    store->AddAlert(alert);
    store->AckAlert(alert.id);
    store->SetFeedback(alert.id, Feedback::kTruePositive);
    block.alert_ids = {alert.id};
    store->PutBlock(block);
    store->AddFlows(flows);
  }
  auto store = Open();
  EXPECT_EQ(store->schema_version(), Store::kSchemaVersion);
  const auto alerts = store->ListAlerts({});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].id, alert.id);
  EXPECT_EQ(alerts[0].alert_class, "PortScan");
  EXPECT_TRUE(alerts[0].acknowledged);
  EXPECT_EQ(alerts[0].feedback, Feedback::kTruePositive);
  EXPECT_EQ(Ids(store->ListFlows({.oldest_first = true})),
            (std::vector<int64_t>{flows[0].id, flows[1].id, flows[2].id}));
  const auto blocks = store->ListBlocks();
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].prefix, "10.0.0.1/32");
  EXPECT_EQ(blocks[0].alert_ids, std::vector<int64_t>{alert.id});
  // Ids continue after the reopen.
  Alert next = MakeAlert(43, "10.0.0.1", "10.0.0.2", "PortScan", Severity::kHigh);
  store->AddAlert(next);
  EXPECT_GT(next.id, alert.id);
}

TEST_F(StoreTest, ConcurrentWritersAndReaders) {
  auto store = Open(500);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> ids(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Alert alert = MakeAlert(i, "10.0.0." + std::to_string(t), "10.0.0.9", "X", Severity::kInfo);
        store->AddAlert(alert);
        ids[t].push_back(alert.id);
        auto flows = ManyFlows(t * 1000 + i * 10, 10);
        store->AddFlows(flows);
        store->ListAlerts({.address = "10.0.0.9", .limit = 5});
        store->ListFlows({.limit = 5});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<int64_t> unique;
  for (const auto& v : ids) unique.insert(v.begin(), v.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(store->ListAlerts({.limit = 0}).size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(store->flow_count(), 500u);
  EXPECT_EQ(store->flows_evicted(), static_cast<uint64_t>(kThreads * kPerThread * 10 - 500));
}

}  // namespace
}  // namespace netguard::store
