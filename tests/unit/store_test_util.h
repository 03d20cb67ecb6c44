// Shared fixture and helpers of the store's unit tests (store_test.cpp: opening, schema, alerts,
// blocks; store_flows_test.cpp: flow history, zone map, eviction), built into one executable
// (netguard_store_test). Both files use the one StoreTest fixture, so it is defined here, outside
// any anonymous namespace (gtest requires one fixture class per test suite).
#ifndef NETGUARD_TESTS_UNIT_STORE_TEST_UTIL_H_
#define NETGUARD_TESTS_UNIT_STORE_TEST_UTIL_H_

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "store/store.h"

namespace netguard::store {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ =
        (std::filesystem::temp_directory_path() / "netguard_store_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    // Two missing levels: the store creates its parent directory.
    path_ = (dir_ / "var" / "lib" / "store.db").string();
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<Store> Open(uint64_t max_flows = 1000000) {
    return std::make_unique<Store>(StoreOptions{.path = path_, .max_flows = max_flows});
  }

  // Runs SQL on the database file through a separate raw connection.
  void RawExec(const std::string& path, const std::string& sql) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
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

  std::filesystem::path dir_;
  std::string path_;
};

inline Alert MakeAlert(int64_t time_ns, std::string src, std::string dst, std::string alert_class,
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

inline void SetAddr(uint32_t* out, const char* text, uint8_t& family) {
  if (inet_pton(AF_INET, text, out) == 1) {
    family = NG_FAMILY_IPV4;
  } else {
    ASSERT_EQ(inet_pton(AF_INET6, text, out), 1) << text;
    family = NG_FAMILY_IPV6;
  }
}

// A flow between side A and side B; `initiator` says which side sent the first packet.
inline FlowRecord MakeFlow(const char* addr_a, uint16_t port_a, const char* addr_b, uint16_t port_b,
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
inline std::vector<FlowRecord> ManyFlows(int first, int count) {
  std::vector<FlowRecord> flows;
  for (int i = first; i < first + count; ++i) {
    const std::string a = "10.0." + std::to_string(i / 250 % 250) + "." + std::to_string(i % 250);
    flows.push_back(MakeFlow(a.c_str(), static_cast<uint16_t>(1000 + i % 60000), "192.0.2.1", 80, 6,
                             NG_SIDE_A, i * 1000LL, i * 1000LL + 500));
  }
  return flows;
}

inline std::vector<int64_t> Ids(const std::vector<Alert>& alerts) {
  std::vector<int64_t> ids;
  for (const Alert& a : alerts) ids.push_back(a.id);
  return ids;
}

inline std::vector<int64_t> Ids(const std::vector<FlowSummary>& flows) {
  std::vector<int64_t> ids;
  for (const FlowSummary& f : flows) ids.push_back(f.id);
  return ids;
}

}  // namespace netguard::store

#endif  // NETGUARD_TESTS_UNIT_STORE_TEST_UTIL_H_
