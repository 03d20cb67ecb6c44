// IP reputation without the kernel: score decay and points, promotion and demotion, verdicts
// from the lists, bounded memory, persistence across a store reopen; the list-file parser
// (file:line errors); the never-block set (resolv.conf, default routes, host addresses).
#include "respond/reputation.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "respond/list_file.h"
#include "respond/never_block.h"
#include "store/schema.h"

namespace netguard::respond {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSecond;

Alert MakeAlert(const std::string& src, Severity severity, int64_t time_ns,
                const std::string& alert_class = "PortScan", int64_t id = 0) {
  Alert a;
  a.id = id;
  a.time_ns = time_ns;
  a.src_addr = src;
  a.alert_class = alert_class;
  a.severity = severity;
  return a;
}

class ReputationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ngp-rep-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    Reopen();
  }
  void TearDown() override {
    reputation_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen(ReputationOptions options = {}) {
    reputation_.reset();
    store_.reset();
    store_ = std::make_unique<store::Store>(store::StoreOptions{.path = dir_ / "s.db"});
    reputation_ = std::make_unique<Reputation>(*store_, std::move(options));
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Reputation> reputation_;
};

TEST(ReputationDecay, HalvesEveryHalfLifeAndNeverGrows) {
  const std::chrono::seconds hour(3600);
  EXPECT_DOUBLE_EQ(Reputation::Decay(100, kT0, kT0, hour), 100);
  EXPECT_NEAR(Reputation::Decay(100, kT0, kT0 + 3600 * kSecond, hour), 50, 1e-9);
  EXPECT_NEAR(Reputation::Decay(100, kT0, kT0 + 7200 * kSecond, hour), 25, 1e-9);
  EXPECT_NEAR(Reputation::Decay(100, kT0, kT0 + 1800 * kSecond, hour), 70.7107, 1e-3);
  EXPECT_DOUBLE_EQ(Reputation::Decay(100, kT0, kT0 - kSecond, hour), 100);  // clock went back
}

TEST_F(ReputationTest, AlertsAddPointsBySeverityTimesClassWeight) {
  Reopen({.severity_points = {1, 10, 40, 100}, .class_weights = {{"BruteForce", 3}}});
  EXPECT_DOUBLE_EQ(reputation_->Record(MakeAlert("10.0.0.5", Severity::kWarning, kT0)).score, 10);
  EXPECT_DOUBLE_EQ(
      reputation_->Record(MakeAlert("10.0.0.5", Severity::kHigh, kT0, "BruteForce")).score, 130);
  EXPECT_DOUBLE_EQ(reputation_->Record(MakeAlert("10.0.0.6", Severity::kInfo, kT0)).score, 1);
  // One half-life later the old score counts half.
  const IpReputation r =
      reputation_->Record(MakeAlert("10.0.0.5", Severity::kWarning, kT0 + 3600 * kSecond));
  EXPECT_NEAR(r.score, 75, 1e-9);
  EXPECT_EQ(r.alerts, 3u);
  EXPECT_EQ(r.first_seen_ns, kT0);
  EXPECT_EQ(r.last_seen_ns, kT0 + 3600 * kSecond);
}

TEST_F(ReputationTest, PromotedAboveTheThresholdAndDemotedBelowHalfOfIt) {
  Reopen({.half_life = std::chrono::seconds(60),
          .suspicious_threshold = 20,
          .malicious_threshold = 100});
  IpReputation r = reputation_->Record(MakeAlert("192.0.2.9", Severity::kHigh, kT0));
  EXPECT_EQ(r.verdict, "suspicious");
  EXPECT_FALSE(r.promoted);
  r = reputation_->Record(MakeAlert("192.0.2.9", Severity::kCritical, kT0 + kSecond));
  EXPECT_TRUE(r.promoted);
  EXPECT_TRUE(r.listed_malicious());
  EXPECT_EQ(r.verdict, "malicious");
  // 60 s later: ~70, below the threshold but above half of it: still malicious (hysteresis).
  EXPECT_EQ(reputation_->Get("192.0.2.9", kT0 + 61 * kSecond).verdict, "malicious");
  // 120 s later: ~35 < 50: demoted; still suspicious by score.
  r = reputation_->Get("192.0.2.9", kT0 + 121 * kSecond);
  EXPECT_FALSE(r.promoted);
  EXPECT_EQ(r.verdict, "suspicious");
  EXPECT_EQ(reputation_->Get("192.0.2.9", kT0 + 3600 * kSecond).verdict, "neutral");
}

TEST_F(ReputationTest, ListsDecideTheVerdictAndUnknownAddressesAreNeutral) {
  reputation_->SetLists({IpPrefix::Parse("10.1.0.0/16")}, {IpPrefix::Parse("203.0.113.0/24")});
  reputation_->Record(MakeAlert("10.1.2.3", Severity::kCritical, kT0));
  reputation_->Record(MakeAlert("10.1.2.3", Severity::kCritical, kT0));
  const IpReputation allowed = reputation_->Get("10.1.2.3", kT0);
  EXPECT_TRUE(allowed.allowlisted);
  EXPECT_EQ(allowed.verdict, "allowlisted");  // whatever the score
  const IpReputation listed = reputation_->Get("203.0.113.77", kT0);
  EXPECT_TRUE(listed.in_blocklist_file);
  EXPECT_EQ(listed.verdict, "malicious");
  EXPECT_DOUBLE_EQ(listed.score, 0);
  EXPECT_EQ(reputation_->Get("2001:db8::1", kT0).verdict, "neutral");
  EXPECT_THROW(reputation_->Get("not-an-ip", kT0), std::invalid_argument);
  EXPECT_THROW(reputation_->Get("10.0.0.0/8", kT0), std::invalid_argument);
  // An alert without a usable source changes nothing.
  EXPECT_TRUE(reputation_->Record(MakeAlert("", Severity::kHigh, kT0)).address.empty());
}

TEST_F(ReputationTest, ScoresOffencesAndPromotionSurviveAStoreReopen) {
  reputation_->Record(MakeAlert("2001:DB8::7", Severity::kCritical, kT0));
  reputation_->Record(MakeAlert("2001:db8::7", Severity::kCritical, kT0));
  EXPECT_EQ(reputation_->AddOffence("2001:db8::7", kT0), 1u);
  EXPECT_EQ(reputation_->AddOffence("2001:db8::7", kT0), 2u);
  Reopen();
  const IpReputation r = reputation_->Get("2001:db8:0::7", kT0 + 3600 * kSecond);
  EXPECT_EQ(r.address, "2001:db8::7");
  EXPECT_NEAR(r.score, 100, 1e-9);  // 200 halved once
  EXPECT_TRUE(r.promoted);
  EXPECT_EQ(r.offences, 2u);
  EXPECT_EQ(r.alerts, 2u);
  EXPECT_EQ(r.first_seen_ns, kT0);
}

TEST_F(ReputationTest, MemoryAndStoreStayBoundedByEvictingTheLeastRecentlySeen) {
  Reopen({.max_addresses = 3});
  for (int i = 1; i <= 5; ++i) {
    reputation_->Record(MakeAlert("10.9.0." + std::to_string(i), Severity::kWarning, kT0 + i));
  }
  EXPECT_EQ(reputation_->size(), 3u);
  EXPECT_EQ(reputation_->evicted(), 2u);
  EXPECT_EQ(store_->ListReputation().size(), 3u);
  EXPECT_FALSE(store_->GetReputation("10.9.0.1"));
  EXPECT_TRUE(store_->GetReputation("10.9.0.5"));
  EXPECT_DOUBLE_EQ(reputation_->Get("10.9.0.1", kT0).score, 0);
  // A smaller bound at reopen keeps the most recently seen.
  Reopen({.max_addresses = 1});
  EXPECT_EQ(reputation_->size(), 1u);
  EXPECT_TRUE(store_->GetReputation("10.9.0.5"));
  EXPECT_EQ(store_->ListReputation().size(), 1u);
}

TEST_F(ReputationTest, AVersion1StoreIsMigratedKeepingItsBlocksEnforceable) {
  reputation_.reset();
  store_.reset();
  const std::string path = (dir_ / "v1.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string v1 = std::string(store::internal::Migrations()[0].sql) +
                         "INSERT INTO blocks (prefix, reason, automatic, created_ns, expires_ns) "
                         "VALUES ('10.7.0.0/16', 'manual', 0, 1, 0); PRAGMA user_version = 1;";
  ASSERT_EQ(sqlite3_exec(db, v1.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  store_ = std::make_unique<store::Store>(store::StoreOptions{.path = path});
  EXPECT_EQ(store_->schema_version(), 2);
  const std::vector<store::BlockRecord> blocks = store_->ListBlocks();
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].prefix, "10.7.0.0/16");
  EXPECT_FALSE(blocks[0].dry_run);  // an old block stays a real one
  reputation_ = std::make_unique<Reputation>(*store_, ReputationOptions{});
  reputation_->Record(MakeAlert("10.7.1.1", Severity::kHigh, kT0));
  EXPECT_TRUE(store_->GetReputation("10.7.1.1"));
}

// ---- list files ----

TEST_F(ReputationTest, ListFilesTakeAddressesPrefixesCommentsAndBlankLines) {
  const std::string path = Write("allow.txt",
                                 "# trusted\n"
                                 "10.0.0.1\n"
                                 "  192.168.0.0/16   # office\n"
                                 "\n"
                                 "2001:db8::/32\r\n");
  const std::vector<IpPrefix> list = LoadListFile(path);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].ToString(), "10.0.0.1/32");
  EXPECT_EQ(list[1].ToString(), "192.168.0.0/16");
  EXPECT_EQ(list[2].ToString(), "2001:db8::/32");
}

TEST_F(ReputationTest, ABadLineRejectsTheWholeFileNamingFileAndLine) {
  const std::string path = Write("bad.txt", "10.0.0.1\nbogus\n10.0.0.0/33 # too long\n0.0.0.0/0\n");
  try {
    LoadListFile(path);
    FAIL() << "accepted a bad file";
  } catch (const ListFileError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path + ":2: 'bogus'"), std::string::npos) << what;
    EXPECT_NE(what.find(path + ":3: '10.0.0.0/33'"), std::string::npos) << what;
    EXPECT_NE(what.find(path + ":4: '0.0.0.0/0': covers every address"), std::string::npos) << what;
    EXPECT_NE(what.find("3 bad line(s), nothing applied"), std::string::npos) << what;
  }
  EXPECT_THROW(LoadListFile((dir_ / "missing.txt").string()), ListFileError);
  EXPECT_THROW(LoadListFiles({Write("ok.txt", "10.0.0.1\n"), path}), ListFileError);
}

// ---- never-block ----

TEST_F(ReputationTest, ResolversAndDefaultGatewaysAreReadFromTheSystemFiles) {
  const std::string resolv = Write("resolv.conf",
                                   "# generated\nsearch lan\nnameserver 10.53.0.1\n"
                                   "nameserver fe80::53%eth0\nnameserver bogus\n");
  const std::vector<IpPrefix> resolvers = ResolvConfNameservers(resolv);
  ASSERT_EQ(resolvers.size(), 2u);
  EXPECT_EQ(resolvers[0].ToString(), "10.53.0.1/32");
  EXPECT_EQ(resolvers[1].ToString(), "fe80::53/128");
  EXPECT_TRUE(ResolvConfNameservers((dir_ / "none").string()).empty());

  // /proc/net/route prints addresses as host-order hex: 010200C0 is 192.0.2.1 here (x86).
  const std::string route4 =
      Write("route",
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
            "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
            "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
  const std::string route6 =
      Write("ipv6_route",
            "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
            "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
            "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
            "fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n");
  const std::vector<IpPrefix> gateways = DefaultGateways(route4, route6);
  ASSERT_EQ(gateways.size(), 2u);
  EXPECT_EQ(gateways[0].ToString(), "192.0.2.1/32");
  EXPECT_EQ(gateways[1].ToString(), "fd00::1/128");
}

TEST_F(ReputationTest, EveryNeverBlockClassIsNamedAndHostAddressesAreReread) {
  std::vector<IpPrefix> host = {IpPrefix::Parse("10.99.0.1")};
  const std::string route4 =
      Write("route",
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
            "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\n");  // 192.168.1.1
  NeverBlock never({.allowlist = {IpPrefix::Parse("10.1.0.0/16")},
                    .never_block = {IpPrefix::Parse("10.2.0.5")},
                    .gateways = {IpPrefix::Parse("10.3.0.1")},
                    .dns_servers = {IpPrefix::Parse("10.4.0.53")}},
                   {.resolv_conf = Write("resolv.conf", "nameserver 10.5.0.53\n"),
                    .route_v4 = route4,
                    .route_v6 = (dir_ / "none").string(),
                    .host_addresses = [&host] { return host; }});
  const auto why = [&](const std::string& a) {
    return never.Why(IpPrefix::Parse(a)).value_or("(none)");
  };
  EXPECT_EQ(why("10.1.7.7"), "allowlisted (10.1.0.0/16)");
  EXPECT_EQ(why("10.2.0.5"), "in response.never_block (10.2.0.5/32)");
  EXPECT_EQ(why("10.99.0.1"), "this host's address (10.99.0.1/32)");
  EXPECT_EQ(why("10.3.0.1"), "a configured gateway (10.3.0.1/32)");
  EXPECT_EQ(why("192.168.1.1"), "a default-route gateway (192.168.1.1/32)");
  EXPECT_EQ(why("10.4.0.53"), "a configured DNS server (10.4.0.53/32)");
  EXPECT_NE(why("10.5.0.53").find("a DNS server from"), std::string::npos);
  EXPECT_EQ(why("10.6.0.6"), "(none)");
  EXPECT_EQ(why("10.0.0.0/8"), "allowlisted (10.1.0.0/16)");  // a prefix covering one

  host.push_back(IpPrefix::Parse("fd00::99"));  // an address added to an interface
  EXPECT_EQ(why("fd00::99"), "(none)");
  never.Refresh();
  EXPECT_EQ(why("fd00::99"), "this host's address (fd00::99/128)");
}

}  // namespace
}  // namespace netguard::respond
