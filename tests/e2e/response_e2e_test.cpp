// End to end: the auto-block policy in the real netguardd attached to the sensor's veth, with
// nmap SYN scans from the peer namespace (source A) raising PortScan (T1046) alerts, HTTP
// clients on both peer addresses against servers in the sensor namespace, and the `ngctl`
// binary (DaemonE2eTest):
//
//   (1) auto-block on: A's scan gets A blocked at XDP, its HTTP requests fail from then on and
//       its last successful one is within a second of the alert (measured and printed), while
//       B's requests keep succeeding throughout; `ngctl blocks` and `ngctl ip A` show the
//       automatic block with its reason, expiry, alerts and A's score;
//   (2) A listed in a reputation allowlist file: its scan alerts but A is never blocked (logged
//       as spared) and keeps working, while the same scan from B gets B blocked;
//   (3) dry-run (the shipped default): A's scan records a "would block" (`ngctl blocks`,
//       `ngctl ip`, the log) and nothing is enforced: A keeps working; after dry_run: false and
//       SIGHUP, A's next scan gets it blocked;
//   (4) a UDP flood from random spoofed sources alerts and blocks nobody; the same flood from A
//       alone names A as its dominant source and gets A blocked, while B keeps working.
//
// Every wait and load loop is bounded; the lab's namespaces and pins are removed by the fixture.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.h"
#include "http_server.h"
#include "netns_lab.h"
#include "time_text.h"
#include "traffic.h"

namespace netguard::e2e {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kAlertVisible{10000};
// A blocked client's request fails by timing out: short, so the test sees several of them. The
// benign client's is generous, so a busy machine does not fail it.
constexpr milliseconds kAttackerTimeout{300};
constexpr milliseconds kBenignTimeout{3000};
constexpr milliseconds kMaxReaction{1000};  // alert -> the attacker's traffic dropped

int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One HTTP GET from `source_ip` (in `ns_fd`) to server_ip:port; true when the whole 200
// response with `body` arrived within `timeout`.
bool HttpGet(int ns_fd, const std::string& source_ip, const std::string& server_ip, uint16_t port,
             const std::string& body, milliseconds timeout) {
  Fd fd = BoundSocket(ns_fd, SOCK_STREAM, source_ip, 0);
  const timeval tv{.tv_sec = timeout.count() / 1000, .tv_usec = (timeout.count() % 1000) * 1000};
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));  // bounds connect() too
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr = Ipv4(server_ip);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) return false;
  const std::string request = "GET / HTTP/1.1\r\nHost: sensor\r\nConnection: close\r\n\r\n";
  if (send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return false;
  }
  std::string response;
  const auto deadline = SteadyClock::now() + timeout;
  while (response.find("\r\n\r\n" + body) == std::string::npos && SteadyClock::now() < deadline) {
    char buf[1024];
    const ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  return response.rfind("HTTP/1.1 200", 0) == 0 &&
         response.find("\r\n\r\n" + body) != std::string::npos;
}

// A client on its own thread that requests every `period` until stopped (at most 60 s) and
// keeps the wall time and outcome of every request.
class HttpLoad {
 public:
  struct Result {
    int64_t start_ns;
    bool ok;
  };

  HttpLoad(int ns_fd, std::string source_ip, std::string server_ip, uint16_t port, std::string body,
           milliseconds timeout, milliseconds period)
      : thread_([=, this] {
          const auto end = SteadyClock::now() + std::chrono::seconds(60);
          while (!stop_ && SteadyClock::now() < end) {
            const int64_t start = WallNs();
            const bool ok = HttpGet(ns_fd, source_ip, server_ip, port, body, timeout);
            {
              std::lock_guard lock(mu_);
              results_.push_back({start, ok});
            }
            std::this_thread::sleep_for(period);
          }
        }) {}
  ~HttpLoad() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Result> results() const {
    std::lock_guard lock(mu_);
    return results_;
  }

 private:
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Result> results_;
  std::thread thread_;
};

class ResponseE2eTest : public DaemonE2eTest {
 protected:
  ResponseE2eTest() : DaemonE2eTest("respond", {"nmap", "hping3", "timeout"}) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DaemonE2eTest::SetUp());
    if (IsSkipped()) return;
    // One server per client: a stalled connection of the blocked one never delays the other.
    server_a_ = std::make_unique<HttpServer>(lab_->sensor().fd(), lab_->sensor_ip(), kBodyA);
    server_b_ = std::make_unique<HttpServer>(lab_->sensor().fd(), lab_->sensor_ip(), kBodyB);
  }
  void TearDown() override {
    server_a_.reset();
    server_b_.reset();
    DaemonE2eTest::TearDown();
  }

  // Port scan at 20 distinct ports; the policy blocks on any PortScan alert (warning).
  static std::string Config(bool dry_run, const std::string& extra = "") {
    return "flows:\n  idle_timeout: 2s\n  sweep_interval: 200ms\n"
           "port_scan:\n  distinct_ports: 20\n  window: 60s\n"
           "response:\n  auto_block: true\n  dry_run: " +
           std::string(dry_run ? "true" : "false") +
           "\n  min_severity: warning\n  base_ttl: 10m\n" + extra;
  }

  bool GetA() const {
    return HttpGet(lab_->peer().fd(), lab_->peer_ip_a(), lab_->sensor_ip(), server_a_->port(),
                   kBodyA, kBenignTimeout);
  }
  bool GetB() const {
    return HttpGet(lab_->peer().fd(), lab_->peer_ip_b(), lab_->sensor_ip(), server_b_->port(),
                   kBodyB, kBenignTimeout);
  }

  // Scans 1-150 from `source_ip` (nmap's exit code is not checked: probes blocked mid-scan are
  // simply unanswered).
  void Scan(const std::string& source_ip) {
    std::string out;
    NmapSynScan(source_ip, "1-150", &out);
  }

  // The first PortScan alert from `source_ip`, waiting for it.
  std::optional<json> WaitAlert(const std::string& source_ip) {
    std::optional<json> found;
    WaitFor(
        [&] {
          const CtlResult r = Ctl({"alerts", "--src", source_ip, "--class", "PortScan"});
          if (r.code == 0 && !r.objects.empty()) found = r.objects.front();
          return found.has_value();
        },
        kAlertVisible, milliseconds(100));
    return found;
  }

  // The block of `prefix` in `ngctl blocks`, waiting up to `timeout` for it.
  std::optional<json> WaitBlock(const std::string& prefix, milliseconds timeout = kWait) {
    std::optional<json> found;
    WaitFor(
        [&] {
          const CtlResult r = Ctl({"blocks"});
          for (const json& b : r.objects) {
            if (Str(b, "prefix") == prefix) found = b;
          }
          return found.has_value();
        },
        timeout, milliseconds(50));
    return found;
  }

  static int64_t TimeNs(const json& object, const char* key) {
    return ctl::ParseRfc3339Ns(Str(object, key)).value_or(0);
  }

  static constexpr const char* kBodyA = "hello A";
  static constexpr const char* kBodyB = "hello B";
  std::unique_ptr<HttpServer> server_a_;
  std::unique_ptr<HttpServer> server_b_;
};

TEST_F(ResponseE2eTest, TheScannerIsDroppedWithinASecondWhileTheBenignClientKeepsWorking) {
  WriteConfig(Config(/*dry_run=*/false));
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_TRUE(GetA() && GetB()) << "the HTTP servers do not answer before any block";

  HttpLoad benign(lab_->peer().fd(), lab_->peer_ip_b(), lab_->sensor_ip(), server_b_->port(),
                  kBodyB, kBenignTimeout, milliseconds(50));
  HttpLoad attacker(lab_->peer().fd(), lab_->peer_ip_a(), lab_->sensor_ip(), server_a_->port(),
                    kBodyA, kAttackerTimeout, milliseconds(10));
  std::this_thread::sleep_for(milliseconds(300));
  const int64_t scan_ns = WallNs();
  Scan(lab_->peer_ip_a());
  const std::string prefix = lab_->peer_ip_a() + "/32";
  const std::optional<json> block = WaitBlock(prefix);
  ASSERT_TRUE(block) << "A was not blocked after its scan";
  std::this_thread::sleep_for(milliseconds(2000));  // both clients go on after the block
  attacker.Stop();
  benign.Stop();

  const std::optional<json> alert = WaitAlert(lab_->peer_ip_a());
  ASSERT_TRUE(alert) << "no PortScan alert from A";
  EXPECT_EQ(Str(*alert, "mitreTechnique"), "T1046");
  const int64_t alert_ns = TimeNs(*alert, "time");
  const int64_t block_ns = TimeNs(*block, "created");
  ASSERT_GT(alert_ns, 0);
  ASSERT_GT(block_ns, 0);

  // A: its last successful request started within a second of the alert; none after.
  int64_t last_ok_ns = 0;
  int a_ok = 0, a_after_block = 0;
  for (const HttpLoad::Result& r : attacker.results()) {
    if (r.ok) last_ok_ns = std::max(last_ok_ns, r.start_ns), ++a_ok;
    if (r.start_ns > block_ns + 50'000'000) {
      ++a_after_block;
      EXPECT_FALSE(r.ok) << "A's request at " << (r.start_ns - block_ns) / 1000000
                         << " ms after the block succeeded";
    }
  }
  EXPECT_GT(a_ok, 0) << "A never got through, even before its scan";
  EXPECT_GT(a_after_block, 3);
  const double alert_to_block_ms = (block_ns - alert_ns) / 1e6;
  const double alert_to_last_ok_ms = (last_ok_ns - alert_ns) / 1e6;
  std::cout << "[ figures ] scan start -> alert: " << (alert_ns - scan_ns) / 1e6
            << " ms; alert -> block stored and enforced: " << alert_to_block_ms
            << " ms; alert -> start of A's last successful request: " << alert_to_last_ok_ms
            << " ms\n";
  EXPECT_LT(block_ns - alert_ns, std::chrono::nanoseconds(kMaxReaction).count());
  EXPECT_LT(last_ok_ns - alert_ns, std::chrono::nanoseconds(kMaxReaction).count());

  // B: every request succeeded, before and after the block.
  int b_ok = 0, b_after_block = 0;
  for (const HttpLoad::Result& r : benign.results()) {
    EXPECT_TRUE(r.ok) << "B's request at " << (r.start_ns - block_ns) / 1000000
                      << " ms from the block failed";
    b_ok += r.ok;
    b_after_block += r.ok && r.start_ns > block_ns;
  }
  EXPECT_GT(b_ok, 20);
  EXPECT_GT(b_after_block, 10);

  // The block as `ngctl blocks` shows it: automatic, enforced, with expiry, reason and alerts.
  EXPECT_TRUE(block->value("automatic", false));
  EXPECT_FALSE(block->value("dryRun", true));
  const std::optional<json> live = WaitBlock(prefix);
  ASSERT_TRUE(live);
  EXPECT_TRUE(live->value("enforced", false));
  EXPECT_GT(U64(live->value("packets", json(0))), 0u) << "XDP dropped nothing of A";
  EXPECT_NE(Str(*live, "reason").find("PortScan T1046"), std::string::npos) << *live;
  EXPECT_NEAR(static_cast<double>(TimeNs(*live, "expires") - block_ns) / 1e9, 600, 1);
  ASSERT_FALSE(live->value("alertIds", json::array()).empty());
  EXPECT_EQ(I64(live->value("alertIds", json::array()).front()), I64(alert->value("id", json(0))));

  // `ngctl ip A`: score, alerts, block.
  const CtlResult ip = Ctl({"ip", lab_->peer_ip_a()});
  ASSERT_EQ(ip.code, 0) << ip.output;
  ASSERT_EQ(ip.objects.size(), 1u) << ip.output;
  const json& info = ip.objects[0];
  EXPECT_TRUE(info.value("blocked", false)) << info;
  EXPECT_GT(info.value("score", 0.0), 0.0) << info;
  EXPECT_GE(U64(info.value("alertCount", json(0))), 1u) << info;
  EXPECT_EQ(info.value("offences", 0), 1) << info;
  EXPECT_EQ(Str(info.value("block", json::object()), "prefix"), prefix) << info;
  EXPECT_FALSE(info.value("recentFlows", json::array()).empty()) << info;
  const CtlResult ip_b = Ctl({"ip", lab_->peer_ip_b()});
  ASSERT_EQ(ip_b.objects.size(), 1u) << ip_b.output;
  EXPECT_FALSE(ip_b.objects[0].value("blocked", true));
  EXPECT_TRUE(WaitForLog("auto-block: blocked " + lab_->peer_ip_a(), 1, milliseconds(0)));
}

TEST_F(ResponseE2eTest, AnAllowlistedScannerIsNeverBlocked) {
  const std::string allow_file = state_ + "/allow.txt";
  std::ofstream(allow_file) << "# trusted scanner\n" << lab_->peer_ip_a() << "\n";
  WriteConfig(Config(/*dry_run=*/false, "reputation:\n  allowlist_files: [" + allow_file + "]\n"));
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  Scan(lab_->peer_ip_a());
  ASSERT_TRUE(WaitAlert(lab_->peer_ip_a())) << "no PortScan alert from A";
  ASSERT_TRUE(WaitForLog("auto-block: sparing " + lab_->peer_ip_a() + " (allowlisted", 1))
      << "the policy did not consider A";
  // The same scan from B, not allowlisted, is blocked: the policy is live.
  Scan(lab_->peer_ip_b());
  ASSERT_TRUE(WaitBlock(lab_->peer_ip_b() + "/32"));
  for (const json& b : Ctl({"blocks"}).objects) {
    EXPECT_NE(Str(b, "prefix"), lab_->peer_ip_a() + "/32") << b;
  }
  EXPECT_TRUE(GetA()) << "the allowlisted A lost its service";
  const CtlResult ip = Ctl({"ip", lab_->peer_ip_a()});
  ASSERT_EQ(ip.objects.size(), 1u) << ip.output;
  EXPECT_EQ(Str(ip.objects[0], "verdict"), "allowlisted");
  EXPECT_FALSE(ip.objects[0].value("blocked", true));
}

TEST_F(ResponseE2eTest, DryRunRecordsWouldBlockAndBlocksNothingUntilSighupTurnsItOff) {
  // No response.dry_run key: the shipped default is dry-run. A 3 s window lets a second scan
  // alert again soon.
  const std::string config =
      "flows:\n  idle_timeout: 2s\n  sweep_interval: 200ms\n"
      "port_scan:\n  distinct_ports: 20\n  window: 3s\n"
      "response:\n  min_severity: warning\n";
  WriteConfig(config);
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  Scan(lab_->peer_ip_a());
  const std::string prefix = lab_->peer_ip_a() + "/32";
  const std::optional<json> record = WaitBlock(prefix);
  ASSERT_TRUE(record) << "no \"would block\" record for A";
  EXPECT_TRUE(record->value("dryRun", false)) << *record;
  EXPECT_FALSE(record->value("enforced", true)) << *record;
  EXPECT_TRUE(record->value("automatic", false)) << *record;
  EXPECT_TRUE(WaitForLog("auto-block (dry-run): would block " + lab_->peer_ip_a(), 1));
  EXPECT_TRUE(GetA()) << "dry-run blocked A";
  const std::optional<uint64_t> active = [&]() -> std::optional<uint64_t> {
    const CtlResult s = Ctl({"status"});
    if (s.objects.size() != 1) return std::nullopt;
    return U64(s.objects[0].value("activeBlocks", json(0)));
  }();
  EXPECT_EQ(active, std::optional<uint64_t>(0));
  const CtlResult ip = Ctl({"ip", lab_->peer_ip_a()});
  ASSERT_EQ(ip.objects.size(), 1u) << ip.output;
  EXPECT_FALSE(ip.objects[0].value("blocked", true));
  EXPECT_TRUE(ip.objects[0].value("block", json::object()).value("dryRun", false));

  // The operator reviewed the record: dry-run off, SIGHUP; A's next scan gets it blocked.
  const auto reviewed = SteadyClock::now();
  WriteConfig(config + "  dry_run: false\n");
  daemon_->Signal(SIGHUP);
  ASSERT_TRUE(WaitForLog("SIGHUP: reloaded", 1)) << "no reload";
  std::this_thread::sleep_until(reviewed + std::chrono::seconds(3));  // the scan window passed
  Scan(lab_->peer_ip_a());
  std::optional<json> enforced;
  WaitFor(
      [&] {
        enforced = WaitBlock(prefix, milliseconds(0));
        return enforced && !enforced->value("dryRun", true);
      },
      kWait, milliseconds(100));
  ASSERT_TRUE(enforced && !enforced->value("dryRun", true)) << "A's record stayed dry-run";
  EXPECT_TRUE(enforced->value("enforced", false)) << *enforced;
  EXPECT_FALSE(HttpGet(lab_->peer().fd(), lab_->peer_ip_a(), lab_->sensor_ip(), server_a_->port(),
                       kBodyA, kAttackerTimeout))
      << "A still gets through after the policy left dry-run";
  EXPECT_TRUE(GetB());
}

TEST_F(ResponseE2eTest, AFloodFromOneSenderGetsItBlockedAFloodFromSpoofedSendersNobody) {
  // udp_flood at 3000 packets in 10 s: the policy is under test here, not the threshold
  // (rules_live_e2e floods at the shipped one).
  const std::string rules = state_ + "/rules.yaml";
  std::ofstream(rules) << "rules:\n  udp_flood: {threshold: 3000}\n";
  WriteConfig(Config(/*dry_run=*/false, "rules:\n  file: " + rules + "\n"));
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  auto floods = [&] {
    std::vector<json> out;
    for (const json& a : Ctl({"alerts"}).objects) {
      if (Str(a, "detector") == "rule.udp_flood") out.push_back(a);
    }
    return out;
  };

  // hping3's exit status says nothing answered UDP on 9999; Hping checks all 6000 were sent
  EXPECT_TRUE(Hping({"--udp", "-p", "9999", "--rand-source"}, 6000, 100));
  ASSERT_TRUE(WaitFor([&] { return !floods().empty(); }, kAlertVisible, milliseconds(200)))
      << "no udp_flood alert for the spoofed flood";
  EXPECT_EQ(json::parse(Str(floods()[0], "evidenceJson")).value("source", ""), "sampled");
  std::this_thread::sleep_for(milliseconds(1000));  // time for a (wrong) block to show
  EXPECT_TRUE(Ctl({"blocks"}).objects.empty()) << "a spoofed sender was blocked";

  std::this_thread::sleep_for(std::chrono::seconds(10));  // the victim's flood window rolls over
  EXPECT_TRUE(Hping({"--udp", "-p", "9999", "-a", lab_->peer_ip_a()}, 6000, 100));
  const std::optional<json> block = WaitBlock(lab_->peer_ip_a() + "/32");
  ASSERT_TRUE(block) << "A was not blocked after its flood";
  const std::vector<json> both = floods();
  ASSERT_EQ(both.size(), 2u);
  const json& named = both[1];
  EXPECT_EQ(Str(named, "srcAddr"), lab_->peer_ip_a()) << named;
  EXPECT_EQ(json::parse(Str(named, "evidenceJson")).value("source", ""), "dominant") << named;
  EXPECT_NE(Str(*block, "reason").find("DoS-Flood T1498"), std::string::npos) << *block;
  EXPECT_EQ(Ctl({"blocks"}).objects.size(), 1u);
  EXPECT_FALSE(HttpGet(lab_->peer().fd(), lab_->peer_ip_a(), lab_->sensor_ip(), server_a_->port(),
                       kBodyA, kAttackerTimeout))
      << "A still gets through";
  EXPECT_TRUE(GetB()) << "B lost its service";
}

}  // namespace
}  // namespace netguard::e2e
