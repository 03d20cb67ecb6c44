// The auto-block policy over a real BlockManager and real LPM-trie maps (label bpf: creating
// the maps needs root or CAP_BPF): severity and score triggers, alert links, TTL growth, the
// per-minute cap, every never-block class, dry-run, blocklist files; then GetIp and `ngctl ip`
// over the same state.
#include "respond/auto_block.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "api_harness.h"
#include "app/response_setup.h"
#include "common/clock.h"

namespace netguard::respond {
namespace {

using netguard::testing::ApiHarness;
using netguard::testing::HarnessOptions;
using netguard::testing::RunNgctl;
constexpr int64_t kSecond = 1'000'000'000;

class AutoBlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<ApiHarness>(HarnessOptions{.with_blocks = true});
    if (!h_->blocks_ok()) GTEST_SKIP() << h_->blocks_error();
    reputation_ = std::make_unique<Reputation>(h_->store(), ReputationOptions{});
    h_->UseReputation(reputation_.get());
    Build(Options());
  }
  void TearDown() override {
    if (h_) h_->StopServer();  // before the reputation it reads goes
    blocker_.reset();
    never_.reset();
    reputation_.reset();
    h_.reset();
  }

  // A policy with fixed system sources: this host is 10.250.0.1, the default gateway
  // 192.168.0.1, /etc/resolv.conf names 10.53.53.53.
  void Build(AutoBlockOptions options, NeverBlockConfig never = {}) {
    blocker_.reset();
    never_ = std::make_unique<NeverBlock>(
        std::move(never),
        SystemSources{
            .resolv_conf = Write("resolv.conf", "nameserver 10.53.53.53\n"),
            .route_v4 = Write("route",
                              "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\t"
                              "Metric\tMask\neth0\t00000000\t0100A8C0\t0003\t0\t"
                              "0\t0\t00000000\n"),
            .route_v6 = Write("ipv6_route", ""),
            .host_addresses = [] { return std::vector<IpPrefix>{IpPrefix::Parse("10.250.0.1")}; }});
    blocker_ = std::make_unique<AutoBlocker>(*reputation_, *h_->blocks(), *never_, options,
                                             [this] { return now_; });
  }

  static AutoBlockOptions Options() {
    return {.enabled = true,
            .dry_run = false,
            .min_severity = Severity::kHigh,
            .min_score = 0,
            .base_ttl = std::chrono::seconds(60),
            .ttl_factor = 2,
            .max_ttl = std::chrono::seconds(300),
            .max_blocks_per_minute = 10};
  }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = h_->dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // Commits an alert like FlowSink does, then hands it to the policy.
  int64_t Alert(const std::string& src, Severity severity, bool source_sampled = false) {
    netguard::Alert a;
    a.source_sampled = source_sampled;
    a.time_ns = WallNowNs();
    a.src_addr = src;
    a.dst_addr = "10.250.0.1";
    a.protocol = 6;
    a.alert_class = "PortScan";
    a.mitre_technique = "T1046";
    a.detector = "rule.port_scan";
    a.evidence_json = "{}";
    a.severity = severity;
    h_->store().AddAlert(a);
    blocker_->OnAlert(a);
    return a.id;
  }

  std::optional<store::BlockRecord> Stored(const std::string& prefix) {
    for (store::BlockRecord& b : h_->store().ListBlocks()) {
      if (b.prefix == prefix) return b;
    }
    return std::nullopt;
  }
  bool InKernel(const std::string& prefix) {
    return h_->kernel()->Get(IpPrefix::Parse(prefix)).has_value();
  }

  std::unique_ptr<ApiHarness> h_;
  std::unique_ptr<Reputation> reputation_;
  std::unique_ptr<NeverBlock> never_;
  std::unique_ptr<AutoBlocker> blocker_;
  int64_t now_ = 1'800'000'000 * kSecond;
};

TEST_F(AutoBlockTest, ASevereAlertBlocksItsSourceLinkedToItsAlerts) {
  const int64_t warning = Alert("198.51.100.7", Severity::kWarning);
  EXPECT_FALSE(Stored("198.51.100.7/32"));  // below min_severity, score not considered
  const int64_t before = WallNowNs();
  const int64_t high = Alert("198.51.100.7", Severity::kHigh);
  const std::optional<store::BlockRecord> block = Stored("198.51.100.7/32");
  ASSERT_TRUE(block);
  EXPECT_TRUE(InKernel("198.51.100.7/32"));
  EXPECT_TRUE(block->automatic);
  EXPECT_FALSE(block->dry_run);
  EXPECT_EQ(block->alert_ids, (std::vector<int64_t>{warning, high}));
  EXPECT_NE(block->reason.find("PortScan T1046 alert " + std::to_string(high)), std::string::npos)
      << block->reason;
  EXPECT_NE(block->reason.find("severity high >= high"), std::string::npos) << block->reason;
  EXPECT_GE(block->expires_ns - before, 60 * kSecond);
  EXPECT_LE(block->expires_ns - block->created_ns, 60 * kSecond);
  EXPECT_EQ(blocker_->counters().blocked.load(), 1u);
  EXPECT_EQ(reputation_->Get("198.51.100.7", WallNowNs()).offences, 1u);
  // Already blocked: a further alert changes nothing.
  Alert("198.51.100.7", Severity::kCritical);
  EXPECT_EQ(blocker_->counters().blocked.load(), 1u);
  EXPECT_EQ(Stored("198.51.100.7/32")->alert_ids.size(), 2u);
}

// A flood's alert names a sender it sampled, maybe a spoofed one: blocking it would let an
// attacker get any address blocked, so it neither scores nor blocks.
TEST_F(AutoBlockTest, ASampledSourceOfAFloodIsNeverScoredNorBlocked) {
  for (int i = 0; i < 5; ++i) Alert("198.51.100.8", Severity::kCritical, true);
  EXPECT_FALSE(Stored("198.51.100.8/32"));
  EXPECT_FALSE(InKernel("198.51.100.8/32"));
  EXPECT_EQ(reputation_->Get("198.51.100.8", WallNowNs()).alerts, 0u);
  EXPECT_EQ(blocker_->counters().blocked.load(), 0u);
  Alert("198.51.100.8", Severity::kCritical);  // the same address caught scanning
  EXPECT_TRUE(Stored("198.51.100.8/32"));
}

TEST_F(AutoBlockTest, AScoreCrossingMinScoreBlocksWhateverTheSeverity) {
  AutoBlockOptions options = Options();
  options.min_severity = Severity::kCritical;
  options.min_score = 25;  // warnings are worth 10 points each
  Build(options);
  Alert("2001:db8::66", Severity::kWarning);
  Alert("2001:db8::66", Severity::kWarning);
  EXPECT_FALSE(Stored("2001:db8::66/128"));
  Alert("2001:db8::66", Severity::kWarning);
  const auto block = Stored("2001:db8::66/128");
  ASSERT_TRUE(block);
  EXPECT_TRUE(InKernel("2001:db8::66/128"));
  EXPECT_NE(block->reason.find("score 30.0 >= 25.0"), std::string::npos) << block->reason;
  EXPECT_EQ(block->alert_ids.size(), 3u);
}

TEST_F(AutoBlockTest, TheTtlGrowsForRepeatOffendersUpToTheCap) {
  const AutoBlockOptions options = Options();  // 60 s x2, at most 300 s
  EXPECT_EQ(GrownTtl(options, 0).count(), 60);
  EXPECT_EQ(GrownTtl(options, 1).count(), 120);
  EXPECT_EQ(GrownTtl(options, 2).count(), 240);
  EXPECT_EQ(GrownTtl(options, 3).count(), 300);
  EXPECT_EQ(GrownTtl(options, 1000).count(), 300);  // no overflow
  for (int64_t expected : {60, 120, 240, 300}) {
    Alert("198.51.100.8", Severity::kHigh);
    const auto block = Stored("198.51.100.8/32");
    ASSERT_TRUE(block);
    EXPECT_EQ((block->expires_ns - block->created_ns) / kSecond, expected);
    h_->blocks()->Unblock("198.51.100.8");  // it expired, or an operator lifted it
    now_ += 61 * kSecond;
  }
  EXPECT_EQ(reputation_->Get("198.51.100.8", WallNowNs()).offences, 4u);
}

TEST_F(AutoBlockTest, NewBlocksAreCappedPerMinute) {
  AutoBlockOptions options = Options();
  options.max_blocks_per_minute = 2;
  Build(options);
  Alert("198.51.100.1", Severity::kHigh);
  now_ += 10 * kSecond;
  Alert("198.51.100.2", Severity::kHigh);
  now_ += 10 * kSecond;
  Alert("198.51.100.3", Severity::kHigh);
  EXPECT_TRUE(Stored("198.51.100.2/32"));
  EXPECT_FALSE(Stored("198.51.100.3/32"));
  EXPECT_FALSE(InKernel("198.51.100.3/32"));
  EXPECT_EQ(blocker_->counters().rate_capped.load(), 1u);
  now_ += 41 * kSecond;  // the first block left the window
  Alert("198.51.100.3", Severity::kHigh);
  EXPECT_TRUE(InKernel("198.51.100.3/32"));
  Alert("198.51.100.4", Severity::kHigh);
  EXPECT_FALSE(Stored("198.51.100.4/32"));
}

TEST_F(AutoBlockTest, NeverBlockAddressesAreNeverBlocked) {
  Build(Options(), {.allowlist = {IpPrefix::Parse("10.1.0.0/16")},
                    .never_block = {IpPrefix::Parse("10.2.0.2")},
                    .gateways = {IpPrefix::Parse("10.3.0.1")},
                    .dns_servers = {IpPrefix::Parse("10.4.0.53")}});
  const char* protected_addresses[] = {"10.1.9.9",      // allowlist
                                       "10.2.0.2",      // response.never_block
                                       "10.250.0.1",    // this host
                                       "10.3.0.1",      // configured gateway
                                       "192.168.0.1",   // default-route gateway
                                       "10.4.0.53",     // configured DNS server
                                       "10.53.53.53"};  // resolv.conf nameserver
  for (const char* address : protected_addresses) {
    Alert(address, Severity::kCritical);
    Alert(address, Severity::kCritical);
  }
  EXPECT_TRUE(h_->store().ListBlocks().empty());
  EXPECT_TRUE(h_->kernel()->List().empty());
  EXPECT_EQ(blocker_->counters().spared.load(), 14u);
  EXPECT_EQ(blocker_->counters().blocked.load(), 0u);
  // Their scores still count (visible in GetIp), and others are still blocked.
  EXPECT_TRUE(reputation_->Get("10.2.0.2", WallNowNs()).promoted);
  Alert("10.6.0.6", Severity::kCritical);
  EXPECT_TRUE(InKernel("10.6.0.6/32"));
}

TEST_F(AutoBlockTest, DryRunRecordsWouldBlockAndBlocksNothing) {
  AutoBlockOptions options = Options();
  options.dry_run = true;
  Build(options);
  const int64_t id = Alert("198.51.100.9", Severity::kHigh);
  Alert("198.51.100.9", Severity::kHigh);  // recorded once
  const auto record = Stored("198.51.100.9/32");
  ASSERT_TRUE(record);
  EXPECT_TRUE(record->dry_run);
  EXPECT_TRUE(record->automatic);
  EXPECT_EQ(record->alert_ids, std::vector<int64_t>{id});
  EXPECT_TRUE(h_->kernel()->List().empty());
  EXPECT_EQ(blocker_->counters().would_block.load(), 1u);
  EXPECT_EQ(reputation_->Get("198.51.100.9", WallNowNs()).offences, 0u);
  // Listed as such, never enforced, and not restored into the kernel at the next start.
  const std::vector<BlockView> list = h_->blocks()->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_FALSE(list[0].enforced);
  EXPECT_EQ(h_->blocks()->Restore(WallNowNs()), 0u);
  EXPECT_TRUE(h_->kernel()->List().empty());
  // A dry-run record never replaces an enforced block.
  h_->blocks()->Block({.prefix = "198.51.100.10", .reason = "manual"});
  EXPECT_THROW(h_->blocks()->Block({.prefix = "198.51.100.10", .dry_run = true}), BlockError);
  // Leaving dry-run enforces the next time the source meets the policy.
  options.dry_run = false;
  blocker_->set_options(options);
  Alert("198.51.100.9", Severity::kHigh);
  ASSERT_TRUE(Stored("198.51.100.9/32"));
  EXPECT_FALSE(Stored("198.51.100.9/32")->dry_run);
  EXPECT_TRUE(InKernel("198.51.100.9/32"));
}

TEST_F(AutoBlockTest, BlocklistFileSourcesAreBlockedOnAnyAlertAndDisabledBlocksNothing) {
  reputation_->SetLists({}, {IpPrefix::Parse("203.0.113.0/24")});
  Alert("203.0.113.5", Severity::kInfo);
  ASSERT_TRUE(Stored("203.0.113.5/32"));
  EXPECT_NE(Stored("203.0.113.5/32")->reason.find("listed in a blocklist file"), std::string::npos);
  AutoBlockOptions options = Options();
  options.enabled = false;
  blocker_->set_options(options);
  Alert("203.0.113.6", Severity::kCritical);
  EXPECT_FALSE(Stored("203.0.113.6/32"));
  EXPECT_GT(reputation_->Get("203.0.113.6", WallNowNs()).score, 0);  // still scored
}

TEST_F(AutoBlockTest, GetIpAndNgctlIpShowScoreAlertsAndBlock) {
  Alert("198.51.100.20", Severity::kWarning);
  Alert("198.51.100.20", Severity::kHigh);
  auto stub = h_->Stub();
  v1::GetIpRequest request;
  request.set_address("198.51.100.20");
  v1::IpInfo info;
  grpc::ClientContext context;
  ASSERT_TRUE(stub->GetIp(&context, request, &info).ok());
  EXPECT_EQ(info.address(), "198.51.100.20");
  EXPECT_NEAR(info.score(), 50, 0.1);  // 10 + 40, decayed by the test's duration only
  EXPECT_EQ(info.verdict(), "suspicious");
  EXPECT_EQ(info.alert_count(), 2u);
  EXPECT_EQ(info.recent_alerts_size(), 2);
  EXPECT_EQ(info.offences(), 1u);
  EXPECT_TRUE(info.blocked());
  EXPECT_EQ(info.block().prefix(), "198.51.100.20/32");
  EXPECT_TRUE(info.block().enforced());
  EXPECT_TRUE(info.block().automatic());
  EXPECT_EQ(info.block().alert_ids_size(), 2);

  grpc::ClientContext bad;
  request.set_address("198.51.100.0/24");
  EXPECT_EQ(stub->GetIp(&bad, request, &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const auto table = RunNgctl({"--socket", h_->socket_path(), "ip", "198.51.100.20"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("suspicious"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("198.51.100.20/32 enforced, auto"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("recent alerts"), std::string::npos) << table.out;
  const auto json = RunNgctl({"--socket", h_->socket_path(), "-o", "json", "ip", "198.51.100.21"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json unknown = nlohmann::json::parse(json.out);
  EXPECT_EQ(unknown["verdict"], "neutral");
  EXPECT_FALSE(unknown["blocked"].get<bool>());
  const auto invalid = RunNgctl({"--socket", h_->socket_path(), "ip", "nonsense"});
  EXPECT_NE(invalid.exit_code, 0);
  EXPECT_NE(invalid.err.find("not an IPv4 or IPv6 address"), std::string::npos) << invalid.err;
}

TEST_F(AutoBlockTest, ManualBlocksAreRefusedForAllowlistFilesAlsoAfterABadReload) {
  const std::string allow = Write("allow.txt", "198.51.100.128/25\n");
  config::Config c;
  c.reputation.allowlist_files = {allow};
  app::ResponseSetup setup(c, h_->store(), h_->blocks());
  const BlockRequest request{.prefix = "198.51.100.200", .reason = "manual"};
  try {
    h_->blocks()->Block(request);
    FAIL() << "blocked an address of the allowlist file";
  } catch (const BlockError& e) {
    EXPECT_EQ(e.code(), BlockError::Code::kFailedPrecondition);
  }
  Write("allow.txt", "bogus\n");
  setup.Reload(c);  // rejected: the file's previous entries stay in force
  EXPECT_THROW(h_->blocks()->Block(request), BlockError);
  EXPECT_TRUE(h_->kernel()->List().empty());
  Write("allow.txt", "# emptied\n");
  setup.Reload(c);
  EXPECT_NO_THROW(h_->blocks()->Block(request));
  EXPECT_TRUE(InKernel("198.51.100.200/32"));
}

}  // namespace
}  // namespace netguard::respond
