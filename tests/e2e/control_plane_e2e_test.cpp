// End to end through the control plane, as an operator uses it: the real netguardd attached to
// the sensor's veth, the installed-style `ngctl` binary talking to its unix socket, real
// clients in the peer namespace (curl from source B, an nmap SYN scan from source A).
//
//   (a) benign curl flows from B appear in `ngctl flows` once finished;
//   (b) the scan from A raises a PortScan alert (T1046), listed by `ngctl alerts` and delivered
//       to an `ngctl alerts --follow` started before the scan;
//   (c) `ngctl block A/32` drops A (UDP and TCP) while B's curl works; the drop counter rises;
//   (d) `ngctl unblock` lets A through again;
//   (e) alerts and a block survive a restart of netguardd (same store and pinned maps), the
//       block still enforced with its expiry unchanged;
//   (f) a block with a short TTL expires on its own.
//
// Every wait has a deadline; on failure the daemon log and the follower's stderr are printed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "daemon_fixture.h"
#include "http_server.h"
#include "netns_lab.h"
#include "traffic.h"

#ifndef NGCTL_PATH
#error "NGCTL_PATH must name the ngctl binary"
#endif

namespace netguard::e2e {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kFlowVisible{10000};  // FIN -> ring -> store (idle timeout 2 s as backstop)
constexpr milliseconds kAlertVisible{10000};
constexpr milliseconds kNotReceived{300};  // a blocked datagram must not arrive within this
constexpr int kDistinctPorts = 20;         // port_scan.distinct_ports of the test's config
constexpr int kShortTtlSeconds = 3;
constexpr milliseconds kShortTtlDeadline{6000};  // TTL + the agent's 1 s expiry tick + margin
constexpr char kHttpBody[] = "netguard-e2e-ok";

// Seconds since the epoch of an RFC 3339 UTC time as protobuf prints it
// ("2024-05-01T12:00:00.123Z"); the fraction is dropped. nullopt when it does not parse.
std::optional<int64_t> Rfc3339Seconds(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

class ControlPlaneE2eTest : public DaemonE2eTest {
 protected:
  ControlPlaneE2eTest() : DaemonE2eTest("control", {"nmap", "curl", "timeout"}) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DaemonE2eTest::SetUp());
    if (IsSkipped()) return;
    follower_log_ = state_ + "/ngctl-follow.stderr";
    dump_on_failure_.push_back(follower_log_);
    std::ostringstream config;
    config << "flows:\n"
              "  idle_timeout: 2s\n"
              "  sweep_interval: 200ms\n"
              "port_scan:\n"
              "  enabled: true\n"
              "  window: 60s\n"
              "  distinct_ports: "
           << kDistinctPorts << "\n";
    ASSERT_NO_FATAL_FAILURE(WriteConfig(config.str()));
    http_ = std::make_unique<HttpServer>(lab_->sensor().fd(), lab_->sensor_ip(), kHttpBody);
    udp_server_ = BoundSocket(lab_->sensor().fd(), SOCK_DGRAM, lab_->sensor_ip(), 0);
    udp_port_ = LocalPort(udp_server_.get());
    from_a_ = BoundSocket(lab_->peer().fd(), SOCK_DGRAM, lab_->peer_ip_a(), 0);
    from_b_ = BoundSocket(lab_->peer().fd(), SOCK_DGRAM, lab_->peer_ip_b(), 0);
    a32_ = lab_->peer_ip_a() + "/32";
  }

  void TearDown() override {
    follower_.reset();  // SIGKILL whatever still runs
    http_.reset();
    udp_server_.Reset();
    from_a_.Reset();
    from_b_.Reset();
    DaemonE2eTest::TearDown();  // the daemon, the logs on failure, state, pins, namespaces
  }

  // ---- the clients ----

  /// GET / from `source_ip` in the peer namespace with curl; returns curl's exit code (28: the
  /// connection timed out) and its output in *body.
  int Curl(const std::string& source_ip, std::string* body, int connect_timeout_s = 3) const {
    const std::string url =
        "http://" + lab_->sensor_ip() + ":" + std::to_string(http_->port()) + "/";
    return RunCommand({"ip", "netns", "exec", lab_->peer().name(), "timeout", "15", "curl", "-sS",
                       "--noproxy", "*", "--interface", source_ip, "--connect-timeout",
                       std::to_string(connect_timeout_s), "--max-time", "8", url},
                      body);
  }

  void ExpectCurlWorks(const std::string& source_ip) const {
    std::string body;
    EXPECT_EQ(Curl(source_ip, &body), 0) << "curl from " << source_ip << ": " << body;
    EXPECT_EQ(body, kHttpBody);
  }

  /// A's datagram does not arrive (and B's echo still works both ways).
  void ExpectADropped() {
    ASSERT_TRUE(SendDatagram(from_a_.get(), lab_->sensor_ip(), udp_port_, 32));
    std::string data;
    const std::optional<Source> got = RecvDatagram(udp_server_.get(), &data, kNotReceived);
    EXPECT_FALSE(got.has_value()) << "a datagram from blocked " << got->ip << " arrived";
    EXPECT_EQ(UdpRoundTrip(from_b_.get(), udp_server_.get(), lab_->sensor_ip(), udp_port_, 48), "");
  }

  void ExpectAPasses() {
    EXPECT_EQ(UdpRoundTrip(from_a_.get(), udp_server_.get(), lab_->sensor_ip(), udp_port_, 40), "");
  }

  /// A's entry in `ngctl blocks`, if any.
  std::optional<json> BlockOfA() const {
    const CtlResult blocks = Ctl({"blocks"});
    EXPECT_EQ(blocks.code, 0) << blocks.output;
    for (const json& b : blocks.objects) {
      if (Str(b, "prefix") == a32_) return b;
    }
    return std::nullopt;
  }

  std::string follower_log_;
  std::unique_ptr<ChildProcess> follower_;
  std::unique_ptr<HttpServer> http_;
  Fd udp_server_;
  uint16_t udp_port_ = 0;
  Fd from_a_;
  Fd from_b_;
  std::string a32_;
};

TEST_F(ControlPlaneE2eTest, FlowsAlertsBlocksThroughNgctlAcrossARestart) {
  const std::string& ip_a = lab_->peer_ip_a();
  const std::string& ip_b = lab_->peer_ip_b();
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  // ---- (a) benign curl flows from B are listed once finished ----
  {
    SCOPED_TRACE("(a) benign flows");
    constexpr int kRequests = 3;
    for (int i = 0; i < kRequests; ++i) ASSERT_NO_FATAL_FAILURE(ExpectCurlWorks(ip_b));
    // One flow per connection carries the exchange; the FIN that follows the one ending it
    // starts (and ends) a trailing 1-packet flow of the same 5-tuple, as in CICFlowMeter
    // (docs/data-plane.md, "Flow lifecycle"). So: kRequests distinct client ports, each with
    // a complete request/response flow.
    std::map<uint16_t, json> exchanges;  // client port -> its request/response flow
    CtlResult flows;
    WaitFor(
        [&] {
          flows = Ctl({"flows", "--addr", ip_b, "--proto", "TCP"});
          exchanges.clear();
          for (const json& f : flows.objects) {
            if (Str(f, "srcAddr") == ip_b && Str(f, "dstAddr") == lab_->sensor_ip() &&
                f.value("dstPort", 0u) == http_->port() && Str(f, "protocol") == "TCP" &&
                U64(f["bwdBytes"]) > 0) {
              exchanges[f.value("srcPort", 0u)] = f;
            }
          }
          return flows.code == 0 && exchanges.size() >= kRequests;
        },
        kFlowVisible, milliseconds(100));
    ASSERT_EQ(flows.code, 0) << flows.output;
    ASSERT_EQ(exchanges.size(), static_cast<size_t>(kRequests))
        << "curl flows B -> " << lab_->sensor_ip() << ":" << http_->port()
        << " not listed by ngctl flows:\n"
        << flows.output;
    for (const auto& [port, f] : exchanges) {
      EXPECT_GE(U64(f["fwdPackets"]), 3u) << f.dump();  // SYN, ACK, request, ...
      EXPECT_GE(U64(f["bwdPackets"]), 2u) << f.dump();  // SYN-ACK, response, ...
      EXPECT_GT(U64(f["fwdBytes"]), 0u) << f.dump();    // the GET
      EXPECT_GE(U64(f["bwdBytes"]), sizeof(kHttpBody) - 1) << f.dump();
      EXPECT_EQ(Str(f, "endReason"), "fin") << f.dump();
    }
  }

  // ---- (b) an nmap SYN scan from A: alert listed and pushed to a running follower ----
  int64_t scan_alert_id = 0;
  {
    SCOPED_TRACE("(b) port scan alert");
    follower_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{NGCTL_PATH, "--socket", socket_, "-o", "json", "alerts",
                                 "--follow"},
        ChildProcess::Options{.output_path = follower_log_, .pipe_stdout = true});
    // No alert exists yet, so the follower prints nothing; give it time to open its stream.
    std::this_thread::sleep_for(milliseconds(1000));
    ASSERT_TRUE(follower_->Running()) << "ngctl alerts --follow exited";
    EXPECT_EQ(Ctl({"alerts"}).objects.size(), 0u) << "an alert exists before the scan";

    std::string nmap_out;
    const int nmap_rc = NmapSynScan(ip_a, "1-200", &nmap_out);
    ASSERT_EQ(nmap_rc, 0) << nmap_out;

    // Pushed to the follower that was already running.
    std::optional<json> pushed;
    const auto deadline = Clock::now() + kAlertVisible;
    while (!pushed && Clock::now() < deadline) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      const std::optional<std::string> line = follower_->ReadLine(left);
      if (!line) break;
      const json alert = json::parse(*line, nullptr, false);
      if (Str(alert, "alertClass") == "PortScan" && Str(alert, "srcAddr") == ip_a) pushed = alert;
    }
    ASSERT_TRUE(pushed.has_value())
        << "no PortScan alert from " << ip_a << " on the follower's stdout; nmap said:\n"
        << nmap_out;
    EXPECT_EQ(Str(*pushed, "mitreTechnique"), "T1046");
    EXPECT_EQ(Str(*pushed, "dstAddr"), lab_->sensor_ip());
    EXPECT_EQ(Str(*pushed, "detector"), "rule.port_scan");
    scan_alert_id = I64((*pushed)["id"]);
    EXPECT_GT(scan_alert_id, 0);
    const json evidence = json::parse(Str(*pushed, "evidenceJson"), nullptr, false);
    EXPECT_EQ(evidence.value("threshold", 0), kDistinctPorts) << evidence.dump();
    EXPECT_GE(evidence.value("distinct_targets", 0), kDistinctPorts) << evidence.dump();

    // Listed, with the same id, also through the CLI's filters.
    const CtlResult listed = Ctl({"alerts", "--src", ip_a, "--class", "PortScan"});
    ASSERT_EQ(listed.code, 0) << listed.output;
    ASSERT_EQ(listed.objects.size(), 1u) << listed.output;
    EXPECT_EQ(I64(listed.objects[0]["id"]), scan_alert_id);
    EXPECT_EQ(Str(listed.objects[0], "mitreTechnique"), "T1046");
    EXPECT_EQ(Str(listed.objects[0], "srcAddr"), ip_a);
    // B's benign traffic raised nothing.
    EXPECT_EQ(Ctl({"alerts", "--src", ip_b}).objects.size(), 0u);
    EXPECT_TRUE(follower_->Running()) << "the follower must keep following";
    follower_->Signal(SIGTERM);
    EXPECT_TRUE(follower_->WaitExit(kWait).has_value());
    follower_.reset();
  }

  // ---- (c) block A: A dropped, B served, the drop counter rises ----
  {
    SCOPED_TRACE("(c) block");
    const CtlResult block = Ctl({"block", a32_, "--ttl", "1h", "--reason", "test"});
    ASSERT_EQ(block.code, 0) << block.output;
    ASSERT_EQ(block.objects.size(), 1u) << block.output;
    EXPECT_EQ(Str(block.objects[0], "prefix"), a32_);
    EXPECT_EQ(Str(block.objects[0], "reason"), "test");
    EXPECT_TRUE(block.objects[0].value("enforced", false)) << block.output;

    ASSERT_NO_FATAL_FAILURE(ExpectADropped());
    std::string body;
    EXPECT_EQ(Curl(ip_a, &body, /*connect_timeout_s=*/2), 28)
        << "curl from blocked " << ip_a << " must time out connecting: " << body;
    ASSERT_NO_FATAL_FAILURE(ExpectCurlWorks(ip_b));

    std::optional<json> first = BlockOfA();
    ASSERT_TRUE(first.has_value()) << a32_ << " not in ngctl blocks";
    const uint64_t before = U64((*first)["packets"]);
    EXPECT_GE(before, 2u) << "the datagram and curl's SYNs were dropped: " << first->dump();
    constexpr int kMore = 5;
    for (int i = 0; i < kMore; ++i) {
      ASSERT_TRUE(SendDatagram(from_a_.get(), lab_->sensor_ip(), udp_port_, 20));
    }
    uint64_t after = 0;
    WaitFor(
        [&] {
          const std::optional<json> second = BlockOfA();
          after = second ? U64((*second)["packets"]) : 0;
          return after >= before + kMore;
        },
        kWait, milliseconds(100));
    EXPECT_GE(after, before + kMore) << "drop counter of " << a32_ << " did not rise";
    std::string data;
    EXPECT_FALSE(RecvDatagram(udp_server_.get(), &data, milliseconds(0)).has_value());
  }

  // ---- (d) unblock A: A passes again ----
  {
    SCOPED_TRACE("(d) unblock");
    const CtlResult unblock = Ctl({"unblock", a32_});
    ASSERT_EQ(unblock.code, 0) << unblock.output;
    EXPECT_FALSE(BlockOfA().has_value());
    ASSERT_NO_FATAL_FAILURE(ExpectAPasses());
    ASSERT_NO_FATAL_FAILURE(ExpectCurlWorks(ip_a));
    // Unblocking again is refused by the agent: exit code 1.
    EXPECT_EQ(Ctl({"unblock", a32_}).code, 1);
  }

  // ---- (e) alerts and blocks survive a restart; the block's expiry is unchanged ----
  {
    SCOPED_TRACE("(e) restart");
    const CtlResult block = Ctl({"block", a32_, "--ttl", "1h", "--reason", "test"});
    ASSERT_EQ(block.code, 0) << block.output;
    const std::optional<json> before = BlockOfA();
    ASSERT_TRUE(before.has_value());
    const std::string created = Str(*before, "created");
    const std::string expires = Str(*before, "expires");
    ASSERT_FALSE(created.empty()) << before->dump();
    ASSERT_FALSE(expires.empty()) << "a 1h block must have an expiry: " << before->dump();
    ASSERT_NO_FATAL_FAILURE(ExpectADropped());

    ASSERT_NO_FATAL_FAILURE(StopDaemon());
    EXPECT_EQ(Ctl({"status"}).code, 3) << "ngctl must report the stopped agent as unreachable";
    ASSERT_NO_FATAL_FAILURE(StartDaemon());

    const CtlResult alerts = Ctl({"alerts"});
    ASSERT_EQ(alerts.code, 0) << alerts.output;
    bool kept = false;
    for (const json& a : alerts.objects) {
      if (I64(a["id"]) == scan_alert_id) {
        kept = Str(a, "alertClass") == "PortScan" && Str(a, "srcAddr") == ip_a &&
               Str(a, "mitreTechnique") == "T1046";
      }
    }
    EXPECT_TRUE(kept) << "alert " << scan_alert_id << " not listed after the restart:\n"
                      << alerts.output;

    const std::optional<json> after = BlockOfA();
    ASSERT_TRUE(after.has_value()) << "the block of " << a32_ << " is gone after the restart";
    EXPECT_EQ(Str(*after, "created"), created);
    EXPECT_EQ(Str(*after, "expires"), expires);
    EXPECT_EQ(Str(*after, "reason"), "test");
    EXPECT_TRUE(after->value("enforced", false)) << after->dump();
    const std::optional<int64_t> expires_s = Rfc3339Seconds(expires);
    ASSERT_TRUE(expires_s.has_value()) << expires;
    const int64_t remaining = *expires_s - static_cast<int64_t>(std::time(nullptr));
    EXPECT_GT(remaining, 3600 - 120) << "remaining TTL " << remaining << " s";
    EXPECT_LE(remaining, 3600) << "remaining TTL " << remaining << " s";
    ASSERT_NO_FATAL_FAILURE(ExpectADropped());
    ASSERT_NO_FATAL_FAILURE(ExpectCurlWorks(ip_b));
  }

  // ---- (f) a block with a short TTL expires on its own ----
  {
    SCOPED_TRACE("(f) expiry");
    ASSERT_EQ(Ctl({"unblock", a32_}).code, 0);
    const CtlResult block =
        Ctl({"block", a32_, "--ttl", std::to_string(kShortTtlSeconds) + "s", "--reason", "short"});
    ASSERT_EQ(block.code, 0) << block.output;
    const auto blocked_at = Clock::now();
    ASSERT_NO_FATAL_FAILURE(ExpectADropped());
    const bool gone = WaitFor(
        [&] { return !BlockOfA().has_value(); },
        kShortTtlDeadline - std::chrono::duration_cast<milliseconds>(Clock::now() - blocked_at),
        milliseconds(100));
    const auto elapsed =
        std::chrono::duration_cast<milliseconds>(Clock::now() - blocked_at).count();
    ASSERT_TRUE(gone) << "the " << kShortTtlSeconds << " s block still listed after " << elapsed
                      << " ms";
    EXPECT_GE(elapsed, kShortTtlSeconds * 1000 - 500) << "expired before its TTL";
    ASSERT_NO_FATAL_FAILURE(ExpectAPasses());
    ASSERT_NO_FATAL_FAILURE(ExpectCurlWorks(ip_a));
  }

  ASSERT_NO_FATAL_FAILURE(StopDaemon());
}

}  // namespace
}  // namespace netguard::e2e
