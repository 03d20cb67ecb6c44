// The agent's response part built from the configuration: list files read at start (a bad line
// stops the start, naming file:line), SIGHUP reloads that keep the old lists when a file is bad,
// and the reputation-only observer of a data plane without a blocklist (pcap-live).
#include "app/response_setup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/clock.h"
#include "respond/list_file.h"

namespace netguard::app {
namespace {

class ResponseSetupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ngp-setup-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    store_ = std::make_unique<store::Store>(store::StoreOptions{.path = dir_ / "s.db"});
    allow_ = Write("allow.txt", "10.1.0.0/16\n");
    block_ = Write("block.txt", "# feed\n203.0.113.0/24\n");
    config_.reputation.allowlist_files = {allow_};
    config_.reputation.blocklist_files = {block_};
    config_.allowlist = {IpPrefix::Parse("10.2.0.0/16")};
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::string Verdict(const ResponseSetup& setup, const std::string& address) {
    return setup.reputation().Get(address, WallNowNs()).verdict;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::string allow_;
  std::string block_;
  config::Config config_;
};

TEST_F(ResponseSetupTest, ListFilesAndTheConfigAllowlistDecideVerdicts) {
  ResponseSetup setup(config_, *store_, nullptr);
  EXPECT_EQ(Verdict(setup, "10.1.2.3"), "allowlisted");  // allowlist file
  EXPECT_EQ(Verdict(setup, "10.2.2.3"), "allowlisted");  // config allowlist
  EXPECT_EQ(Verdict(setup, "203.0.113.9"), "malicious");
  EXPECT_EQ(Verdict(setup, "198.51.100.1"), "neutral");
}

TEST_F(ResponseSetupTest, ABadListFileStopsTheStartNamingFileAndLine) {
  Write("block.txt", "203.0.113.0/24\n203.0.113.300\n");
  try {
    ResponseSetup setup(config_, *store_, nullptr);
    FAIL() << "started with a bad list file";
  } catch (const respond::ListFileError& e) {
    EXPECT_NE(std::string(e.what()).find(block_ + ":2: '203.0.113.300'"), std::string::npos)
        << e.what();
  }
}

TEST_F(ResponseSetupTest, ReloadAppliesGoodListsAndKeepsTheOldOnesForABadFile) {
  ResponseSetup setup(config_, *store_, nullptr);
  Write("block.txt", "198.51.100.0/24\n");
  setup.Reload(config_);
  EXPECT_EQ(Verdict(setup, "198.51.100.1"), "malicious");
  EXPECT_EQ(Verdict(setup, "203.0.113.9"), "neutral");

  Write("allow.txt", "not an address\n");
  Write("block.txt", "192.0.2.0/24\n");
  config::Config next = config_;
  next.reputation.malicious_threshold = 30;           // other settings still apply ...
  next.allowlist = {IpPrefix::Parse("10.3.0.0/16")};  // ... the allowlist key included
  setup.Reload(next);
  EXPECT_EQ(Verdict(setup, "10.1.2.3"), "allowlisted");    // the old allowlist file stays
  EXPECT_EQ(Verdict(setup, "198.51.100.1"), "malicious");  // and the old blocklist file
  EXPECT_EQ(Verdict(setup, "192.0.2.1"), "neutral");
  EXPECT_EQ(Verdict(setup, "10.3.0.1"), "allowlisted");
  EXPECT_EQ(Verdict(setup, "10.2.0.1"), "neutral");
  Alert alert;
  alert.time_ns = WallNowNs();
  alert.src_addr = "192.0.2.50";
  alert.severity = Severity::kHigh;  // 40 points >= the reloaded threshold 30
  setup.observer().OnAlert(alert);
  EXPECT_EQ(Verdict(setup, "192.0.2.50"), "malicious");
}

TEST_F(ResponseSetupTest, WithoutABlocklistAlertsOnlyRaiseReputations) {
  ResponseSetup setup(config_, *store_, nullptr);
  Alert alert;
  alert.time_ns = WallNowNs();
  alert.src_addr = "198.51.100.7";
  alert.severity = Severity::kCritical;
  setup.observer().OnAlert(alert);
  EXPECT_EQ(Verdict(setup, "198.51.100.7"), "malicious");
  std::vector<std::pair<std::string, uint64_t>> counters;
  setup.AppendCounters(counters);
  ASSERT_FALSE(counters.empty());
  EXPECT_EQ(counters[0], (std::pair<std::string, uint64_t>{"reputation_addresses", 1}));
  EXPECT_TRUE(store_->ListBlocks().empty());
}

}  // namespace
}  // namespace netguard::app
