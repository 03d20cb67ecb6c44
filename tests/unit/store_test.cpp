// Unit tests of the SQLite store (agent/store): schema and migrations, alerts, flows, blocks.
#include "store/store.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/flow_zones.h"
#include "store/schema.h"

namespace netguard::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "netguard_store_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    // Two missing levels: the store creates its parent directory.
    path_ = (dir_ / "var" / "lib" / "store.db").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<Store> Open(uint64_t max_flows = 1000000) {
    return std::make_unique<Store>(StoreOptions{.path = path_, .max_flows = max_flows});
  }

  // Runs SQL on the database file through a separate raw connection.
  void RawExec(const std::string& path, const std::string& sql) {
    fs::create_directories(fs::path(path).parent_path());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  std::string RawText(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    std::string result;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      result = text != nullptr ? reinterpret_cast<const char*>(text) : "";
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return result;
  }

  fs::path dir_;
  std::string path_;
};

Alert MakeAlert(int64_t time_ns, std::string src, std::string dst, std::string alert_class,
                Severity severity) {
  Alert alert;
  alert.time_ns = time_ns;
  alert.src_addr = std::move(src);
  alert.src_port = 40000;
  alert.dst_addr = std::move(dst);
  alert.dst_port = 22;
  alert.protocol = 6;
  alert.alert_class = std::move(alert_class);
  alert.score = 0.5;
  alert.severity = severity;
  alert.mitre_technique = "T1046";
  alert.detector = "rule.test";
  alert.evidence_json = R"({"n":1})";
  return alert;
}

void SetAddr(uint32_t* out, const char* text, uint8_t& family) {
  if (inet_pton(AF_INET, text, out) == 1) {
    family = NG_FAMILY_IPV4;
  } else {
    ASSERT_EQ(inet_pton(AF_INET6, text, out), 1) << text;
    family = NG_FAMILY_IPV6;
  }
}

// A flow between side A and side B; `initiator` says which side sent the first packet.
FlowRecord MakeFlow(const char* addr_a, uint16_t port_a, const char* addr_b, uint16_t port_b,
                    uint8_t proto, ng_side initiator, int64_t start_ns, int64_t end_ns) {
  FlowRecord flow;
  SetAddr(flow.key.addr_a, addr_a, flow.key.family);
  SetAddr(flow.key.addr_b, addr_b, flow.key.family);
  flow.key.port_a = port_a;
  flow.key.port_b = port_b;
  flow.key.proto = proto;
  flow.acc.initiator = static_cast<uint8_t>(initiator);
  flow.acc.dir[NG_DIR_FWD].payload.count = 10;
  flow.acc.dir[NG_DIR_FWD].payload.sum = 1000;
  flow.acc.dir[NG_DIR_BWD].payload.count = 7;
  flow.acc.dir[NG_DIR_BWD].payload.sum = 70000;
  flow.end_reason = FlowEndReason::kFin;
  flow.ifindex = 3;
  flow.start_ns = start_ns;
  flow.end_ns = end_ns;
  return flow;
}

// `count` flows 10.0.<i/250>.<i%250>:1000+i -> 192.0.2.1:80, start i*1000, end i*1000+500.
std::vector<FlowRecord> ManyFlows(int first, int count) {
  std::vector<FlowRecord> flows;
  for (int i = first; i < first + count; ++i) {
    const std::string a = "10.0." + std::to_string(i / 250 % 250) + "." + std::to_string(i % 250);
    flows.push_back(MakeFlow(a.c_str(), static_cast<uint16_t>(1000 + i % 60000), "192.0.2.1", 80, 6,
                             NG_SIDE_A, i * 1000LL, i * 1000LL + 500));
  }
  return flows;
}

std::vector<int64_t> Ids(const std::vector<Alert>& alerts) {
  std::vector<int64_t> ids;
  for (const Alert& a : alerts) ids.push_back(a.id);
  return ids;
}

std::vector<int64_t> Ids(const std::vector<FlowSummary>& flows) {
  std::vector<int64_t> ids;
  for (const FlowSummary& f : flows) ids.push_back(f.id);
  return ids;
}

// ---- Schema and opening ----

TEST_F(StoreTest, NewDatabaseHasCurrentSchemaAndWal) {
  auto store = Open();
  EXPECT_EQ(store->schema_version(), Store::kSchemaVersion);
  EXPECT_EQ(store->schema_version(), 1);
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
