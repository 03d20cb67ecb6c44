// Block, Unblock and ListBlocks through the API and ngctl, over a real BlockManager and real
// LPM-trie maps (label bpf: creating the maps needs root or CAP_BPF).
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "api/convert.h"
#include "api_harness.h"
#include "common/clock.h"

namespace netguard::testing {
namespace {

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return context;
}

class ApiBlocksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<ApiHarness>(
        HarnessOptions{.with_blocks = true, .allowlist = {IpPrefix::Parse("192.0.2.0/24")}});
    if (!h_->blocks_ok()) GTEST_SKIP() << h_->blocks_error();
    stub_ = h_->Stub();
  }

  grpc::Status Block(const std::string& prefix, uint32_t ttl, v1::BlockEntry* entry = nullptr) {
    v1::BlockRequest request;
    request.set_prefix(prefix);
    request.set_ttl_seconds(ttl);
    request.set_reason("test");
    v1::BlockEntry ignored;
    return stub_->Block(Context().get(), request, entry ? entry : &ignored);
  }

  std::vector<v1::BlockEntry> List() {
    v1::ListBlocksResponse response;
    const grpc::Status s = stub_->ListBlocks(Context().get(), v1::ListBlocksRequest(), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.blocks().begin(), response.blocks().end()};
  }

  // Nothing in the store, nothing in the kernel maps.
  void ExpectNothingBlocked() {
    EXPECT_TRUE(List().empty());
    EXPECT_TRUE(h_->store().ListBlocks().empty());
    EXPECT_TRUE(h_->kernel()->List().empty());
  }

  std::vector<std::string> Args(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", h_->socket_path()});
    return args;
  }

  std::unique_ptr<ApiHarness> h_;
  std::unique_ptr<v1::NetGuard::Stub> stub_;
};

TEST_F(ApiBlocksTest, RefusedBlocksHaveTheRightCodeAndChangeNothing) {
  struct Case {
    std::string prefix;
    uint32_t ttl;
    grpc::StatusCode code;
  };
  const Case cases[] = {
      {"10.0.0.300/24", 0, grpc::StatusCode::INVALID_ARGUMENT},
      {"not-a-prefix", 0, grpc::StatusCode::INVALID_ARGUMENT},
      {"10.0.0.0/33", 0, grpc::StatusCode::INVALID_ARGUMENT},
      {"", 0, grpc::StatusCode::INVALID_ARGUMENT},
      {"0.0.0.0/0", 0, grpc::StatusCode::INVALID_ARGUMENT},
      {"::/0", 0, grpc::StatusCode::INVALID_ARGUMENT},
      {"192.0.2.77", 0, grpc::StatusCode::FAILED_PRECONDITION},    // allowlisted
      {"192.0.0.0/16", 0, grpc::StatusCode::FAILED_PRECONDITION},  // covers the allowlist
      {"127.0.0.1", 0, grpc::StatusCode::FAILED_PRECONDITION},     // this host
      {"198.51.100.0/24", 31 * 24 * 3600, grpc::StatusCode::INVALID_ARGUMENT},  // ttl > 30 d
  };
  for (const Case& c : cases) {
    const grpc::Status s = Block(c.prefix, c.ttl);
    EXPECT_EQ(s.error_code(), c.code) << c.prefix << ": " << s.error_message();
    EXPECT_FALSE(s.error_message().empty()) << c.prefix;
  }
  ExpectNothingBlocked();

  v1::UnblockRequest unblock;
  unblock.set_prefix("198.51.100.0/24");
  v1::UnblockResponse response;
  EXPECT_EQ(stub_->Unblock(Context().get(), unblock, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  unblock.set_prefix("bogus");
  EXPECT_EQ(stub_->Unblock(Context().get(), unblock, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ApiBlocksTest, BlockListUnblock) {
  const int64_t before = WallNowNs();
  v1::BlockEntry entry;
  ASSERT_TRUE(Block("198.51.100.7/24", 3600, &entry).ok());
  EXPECT_EQ(entry.prefix(), "198.51.100.0/24");  // canonical
  EXPECT_EQ(entry.reason(), "test");
  EXPECT_FALSE(entry.automatic());
  EXPECT_TRUE(entry.enforced());
  EXPECT_EQ(entry.packets(), 0u);
  ASSERT_TRUE(entry.has_expires());
  EXPECT_NEAR(static_cast<double>(api::FromTimestamp(entry.expires()) -
                                  api::FromTimestamp(entry.created())),
              3600e9, 1e6);
  EXPECT_GE(api::FromTimestamp(entry.created()), before);

  ASSERT_TRUE(Block("2001:db8:dead::/48", 0).ok());
  std::vector<v1::BlockEntry> blocks = List();
  ASSERT_EQ(blocks.size(), 2u);
  for (const v1::BlockEntry& b : blocks) EXPECT_TRUE(b.enforced()) << b.prefix();
  const v1::BlockEntry& v6 = blocks[0].prefix() == "2001:db8:dead::/48" ? blocks[0] : blocks[1];
  EXPECT_EQ(v6.prefix(), "2001:db8:dead::/48");
  EXPECT_FALSE(v6.has_expires());  // ttl 0: never
  EXPECT_TRUE(h_->kernel()->Get(IpPrefix::Parse("198.51.100.0/24")).has_value());

  // Removed from the kernel behind the agent's back: listed, but not enforced.
  ASSERT_TRUE(h_->kernel()->Remove(IpPrefix::Parse("2001:db8:dead::/48")));
  for (const v1::BlockEntry& b : List()) {
    EXPECT_EQ(b.enforced(), b.prefix() != "2001:db8:dead::/48") << b.prefix();
  }

  v1::UnblockRequest unblock;
  unblock.set_prefix("198.51.100.0/24");
  v1::UnblockResponse response;
  ASSERT_TRUE(stub_->Unblock(Context().get(), unblock, &response).ok());
  unblock.set_prefix("2001:db8:dead::/48");
  ASSERT_TRUE(stub_->Unblock(Context().get(), unblock, &response).ok());
  ExpectNothingBlocked();
  EXPECT_EQ(stub_->Unblock(Context().get(), unblock, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ApiBlocksTest, NgctlBlockBlocksUnblock) {
  CommandResult r = RunNgctl(
      Args({"-o", "json", "block", "203.0.113.9/24", "--ttl", "1h", "--reason", "scanner"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json entry = nlohmann::json::parse(Lines(r.out).at(0));
  EXPECT_EQ(entry.at("prefix"), "203.0.113.0/24");
  EXPECT_EQ(entry.at("reason"), "scanner");
  EXPECT_EQ(entry.at("enforced"), true);
  EXPECT_TRUE(entry.contains("expires"));

  r = RunNgctl(Args({"blocks", "-o", "json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Lines(r.out).size(), 1u) << r.out;
  EXPECT_EQ(nlohmann::json::parse(Lines(r.out)[0]).at("prefix"), "203.0.113.0/24");

  r = RunNgctl(Args({"blocks"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Lines(r.out).size(), 2u) << r.out;
  EXPECT_EQ(Lines(r.out)[0].rfind("PREFIX", 0), 0u);
  EXPECT_NE(Lines(r.out)[1].find("203.0.113.0/24"), std::string::npos);
  EXPECT_NE(Lines(r.out)[1].find("manual"), std::string::npos);
  EXPECT_NE(Lines(r.out)[1].find("scanner"), std::string::npos);

  r = RunNgctl(Args({"block", "192.0.2.1"}));  // allowlisted
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("FAILED_PRECONDITION"), std::string::npos) << r.err;
  r = RunNgctl(Args({"block", "0.0.0.0/0"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("INVALID_ARGUMENT"), std::string::npos) << r.err;

  r = RunNgctl(Args({"unblock", "203.0.113.0/24"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "unblocked 203.0.113.0/24\n");
  r = RunNgctl(Args({"unblock", "203.0.113.0/24"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("NOT_FOUND"), std::string::npos) << r.err;
  ExpectNothingBlocked();
}

}  // namespace
}  // namespace netguard::testing
