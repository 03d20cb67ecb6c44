// End to end: netguardd's configuration reload on SIGHUP and its shutdown on SIGTERM, with the
// real daemon attached to the sensor's veth, the `ngctl` binary and nmap SYN scans from the peer
// namespace (DaemonE2eTest).
//
//   (1) started with port_scan.distinct_ports 60, a scan of 30 ports from source A raises no
//       alert once its flows went through the pipeline;
//   (2) the file rewritten with distinct_ports 20 and SIGHUP: the log says it reloaded, and a
//       few more ports from A raise a PortScan alert counting the earlier probes (the window
//       still holds them; the detector keeps its state across the reload);
//   (3) an invalid file (a value out of range, then a YAML syntax error) and SIGHUP: the log
//       names the file, the line and the key; the daemon keeps running and serving, with the
//       running configuration (a scan from B alerts at the old threshold 20);
//   (4) A's address added to the allowlist and SIGHUP: `ngctl block A/32`, accepted before, is
//       refused with exit code 1 and FAILED_PRECONDITION naming the allowlist;
//   (5) SIGTERM: exit code 0; the API stops before the interface is detached, which happens
//       before the pipeline flushes its flows.
//
// Every wait has a deadline; on failure the daemon log is printed.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "daemon_fixture.h"
#include "netns_lab.h"
#include "traffic.h"

namespace netguard::e2e {
namespace {

using nlohmann::json;

constexpr milliseconds kFlowsProcessed{10000};  // SYN/RST -> ring -> pipeline -> detector
constexpr milliseconds kAlertVisible{10000};
constexpr milliseconds kLogged{5000};  // SIGHUP is taken at once by the signal thread
constexpr int kStartPorts = 60;        // distinct_ports at start: above the first scan
constexpr int kReloadPorts = 20;       // distinct_ports after the reload: below it
constexpr int kFirstScan = 30;         // ports 1-30 from A before the reload
constexpr int kWindowSeconds = 300;    // long enough to hold every probe of the test

/// The test's configuration file: its lines, so that a test can tell the line of a key.
std::vector<std::string> ConfigLines(const std::string& distinct_ports,
                                     const std::vector<std::string>& allowlist = {},
                                     const std::string& idle_timeout = "2s") {
  std::vector<std::string> lines = {
      "flows:",
      "  idle_timeout: " + idle_timeout,
      "  sweep_interval: 200ms",
      "port_scan:",
      "  enabled: true",
      "  window: " + std::to_string(kWindowSeconds) + "s",
      "  distinct_ports: " + distinct_ports,
  };
  if (!allowlist.empty()) {
    lines.push_back("allowlist:");
    for (const std::string& prefix : allowlist) lines.push_back("  - " + prefix);
  }
  return lines;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

/// 1-based line of the first line starting with `prefix`, 0 when none.
int LineOf(const std::vector<std::string>& lines, const std::string& prefix) {
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind(prefix, 0) == 0) return static_cast<int>(i) + 1;
  }
  return 0;
}

/// The last line of `text` containing `needle`, "" when none.
std::string LastLineWith(const std::string& text, const std::string& needle) {
  const size_t at = text.rfind(needle);
  if (at == std::string::npos) return "";
  const size_t begin = text.rfind('\n', at);
  const size_t end = text.find('\n', at);
  return text.substr(begin == std::string::npos ? 0 : begin + 1,
                     end == std::string::npos ? std::string::npos
                                              : end - (begin == std::string::npos ? 0 : begin + 1));
}

class ReloadE2eTest : public DaemonE2eTest {
 protected:
  ReloadE2eTest() : DaemonE2eTest("reload", {"nmap", "timeout"}) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DaemonE2eTest::SetUp());
    if (IsSkipped()) return;
    ASSERT_NO_FATAL_FAILURE(WriteConfig(Join(ConfigLines(std::to_string(kStartPorts)))));
  }

  /// Sends SIGHUP and waits until the daemon logged `needle` once more than before.
  void Hup(const std::string& needle) {
    const size_t before = CountOf(DaemonLog(), needle);
    daemon_->Signal(SIGHUP);
    ASSERT_TRUE(WaitForLog(needle, before + 1, kLogged))
        << "netguardd did not log \"" << needle << "\" within " << kLogged.count()
        << " ms of SIGHUP";
    ASSERT_TRUE(daemon_->Running()) << "netguardd exited after SIGHUP";
  }

  /// Scans `ports` from `source_ip` and waits until at least `flows` more flows started and
  /// finished in the pipeline (each probe is one flow: SYN, then the sensor's RST ends it), so
  /// the detector has seen every probe.
  void ScanAndWaitProcessed(const std::string& source_ip, const std::string& ports, int flows) {
    const std::optional<uint64_t> started0 = Counter("flows_started");
    const std::optional<uint64_t> finished0 = Counter("flows_finished");
    ASSERT_TRUE(started0 && finished0) << "no flow counters in ngctl status";
    std::string nmap_out;
    ASSERT_EQ(NmapSynScan(source_ip, ports, &nmap_out), 0) << nmap_out;
    uint64_t started = 0;
    uint64_t finished = 0;
    WaitFor(
        [&] {
          started = Counter("flows_started").value_or(0);
          finished = Counter("flows_finished").value_or(0);
          return started >= *started0 + flows && finished >= *finished0 + flows;
        },
        kFlowsProcessed, milliseconds(100));
    ASSERT_GE(started, *started0 + flows) << "flows_started; nmap said:\n" << nmap_out;
    ASSERT_GE(finished, *finished0 + flows) << "flows_finished; nmap said:\n" << nmap_out;
  }

  /// The PortScan alerts from `source_ip`, waiting up to `timeout` for at least one.
  std::vector<json> ScanAlertsFrom(const std::string& source_ip, milliseconds timeout) const {
    CtlResult alerts;
    WaitFor(
        [&] {
          alerts = Ctl({"alerts", "--src", source_ip, "--class", "PortScan"});
          return alerts.code == 0 && !alerts.objects.empty();
        },
        timeout, milliseconds(100));
    EXPECT_EQ(alerts.code, 0) << alerts.output;
    return alerts.objects;
  }
};

TEST_F(ReloadE2eTest, SighupReloadsDetectorAndAllowlistKeepsConfigOnErrorAndSigtermStopsInOrder) {
  const std::string& ip_a = lab_->peer_ip_a();
  const std::string& ip_b = lab_->peer_ip_b();
  const std::string a32 = ip_a + "/32";
  const std::string reloaded = "SIGHUP: reloaded " + config_;
  const std::string kept = "SIGHUP: keeping the running configuration";
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  // ---- (1) 30 ports under a threshold of 60: no alert ----
  {
    SCOPED_TRACE("(1) below the start threshold");
    ASSERT_NO_FATAL_FAILURE(
        ScanAndWaitProcessed(ip_a, "1-" + std::to_string(kFirstScan), kFirstScan));
    const CtlResult alerts = Ctl({"alerts"});
    ASSERT_EQ(alerts.code, 0) << alerts.output;
    EXPECT_TRUE(alerts.objects.empty()) << "alert below distinct_ports " << kStartPorts << ":\n"
                                        << alerts.output;
    EXPECT_EQ(Counter("alerts"), std::optional<uint64_t>(0));
  }

  // ---- (2) threshold lowered to 20 by SIGHUP: a few more ports from A alert ----
  {
    SCOPED_TRACE("(2) reload lowers the threshold");
    ASSERT_NO_FATAL_FAILURE(WriteConfig(Join(ConfigLines(std::to_string(kReloadPorts)))));
    ASSERT_NO_FATAL_FAILURE(Hup(reloaded));
    // Only a reloadable key changed; the command-line overrides (-i, --store, --socket, ...) are
    // applied to the reloaded file too, so nothing is reported as waiting for a restart.
    EXPECT_EQ(CountOf(DaemonLog(), "take effect at the next restart"), 0u);
    constexpr int kMore = 5;
    ASSERT_NO_FATAL_FAILURE(ScanAndWaitProcessed(
        ip_a, std::to_string(kFirstScan + 1) + "-" + std::to_string(kFirstScan + kMore), kMore));
    const std::vector<json> alerts = ScanAlertsFrom(ip_a, kAlertVisible);
    ASSERT_EQ(alerts.size(), 1u) << "one PortScan alert from " << ip_a << " expected";
    const json& alert = alerts[0];
    EXPECT_EQ(Str(alert, "mitreTechnique"), "T1046");
    EXPECT_EQ(Str(alert, "detector"), "rule.port_scan");
    EXPECT_EQ(Str(alert, "dstAddr"), lab_->sensor_ip());
    const json evidence = json::parse(Str(alert, "evidenceJson"), nullptr, false);
    EXPECT_EQ(evidence.value("threshold", 0), kReloadPorts) << evidence.dump();
    EXPECT_EQ(evidence.value("window_s", 0), kWindowSeconds) << evidence.dump();
    // The earlier 30 probes count: the alert fired at the first new port, with 31 targets.
    EXPECT_GT(evidence.value("distinct_targets", 0), kFirstScan) << evidence.dump();
    EXPECT_LE(evidence.value("distinct_targets", 0), kFirstScan + kMore) << evidence.dump();
  }

  // ---- (3) invalid files are refused with file:line: key; the daemon keeps its config ----
  {
    SCOPED_TRACE("(3) invalid configuration");
    const std::vector<std::string> out_of_range = ConfigLines("1");
    const int line = LineOf(out_of_range, "  distinct_ports:");
    ASSERT_GT(line, 0);
    ASSERT_NO_FATAL_FAILURE(WriteConfig(Join(out_of_range)));
    ASSERT_NO_FATAL_FAILURE(Hup(kept));
    const std::string error = LastLineWith(DaemonLog(), kept);
    EXPECT_NE(error.find(config_ + ":" + std::to_string(line) + ": port_scan.distinct_ports: "),
              std::string::npos)
        << "the error must name the file, line " << line << " and the key: " << error;
    EXPECT_NE(error.find("[error]"), std::string::npos) << error;

    // A YAML syntax error: an unclosed flow sequence.
    ASSERT_NO_FATAL_FAILURE(WriteConfig("port_scan:\n  distinct_ports: [20\n"));
    ASSERT_NO_FATAL_FAILURE(Hup(kept));
    const std::string syntax = LastLineWith(DaemonLog(), kept);
    EXPECT_TRUE(std::regex_search(syntax, std::regex(config_ + ":[1-9][0-9]*: \\(syntax\\): ")))
        << "the error must name the file, a line and (syntax): " << syntax;

    ASSERT_TRUE(daemon_->Running()) << "netguardd exited on an invalid configuration";
    const CtlResult status = Ctl({"status"});
    ASSERT_EQ(status.code, 0) << status.output;
    ASSERT_EQ(status.objects.size(), 1u) << status.output;
    EXPECT_EQ(Str(status.objects[0], "version").empty(), false) << status.output;

    // Still the running threshold (20), not the refused 1: B's 25 ports alert at 20.
    constexpr int kScanB = 25;
    ASSERT_NO_FATAL_FAILURE(ScanAndWaitProcessed(ip_b, "1-" + std::to_string(kScanB), kScanB));
    const std::vector<json> alerts = ScanAlertsFrom(ip_b, kAlertVisible);
    ASSERT_EQ(alerts.size(), 1u) << "one PortScan alert from " << ip_b << " expected";
    const json evidence = json::parse(Str(alerts[0], "evidenceJson"), nullptr, false);
    EXPECT_EQ(evidence.value("threshold", 0), kReloadPorts) << evidence.dump();
    EXPECT_EQ(evidence.value("distinct_targets", 0), kReloadPorts) << evidence.dump();
  }

  // ---- (4) allowlist reload: blocking A is refused ----
  {
    SCOPED_TRACE("(4) allowlist reload");
    // Accepted with the running (empty) allowlist.
    const CtlResult before = Ctl({"block", a32, "--ttl", "1m", "--reason", "before reload"});
    ASSERT_EQ(before.code, 0) << before.output;
    ASSERT_EQ(Ctl({"unblock", a32}).code, 0);

    // The allowlist, and a restart-only key (flows.idle_timeout) that must be reported as such.
    const std::string restart_warning = "take effect at the next restart";
    const size_t warnings = CountOf(DaemonLog(), restart_warning);
    ASSERT_NO_FATAL_FAILURE(
        WriteConfig(Join(ConfigLines(std::to_string(kReloadPorts), {a32}, "3s"))));
    ASSERT_NO_FATAL_FAILURE(Hup(reloaded));
    EXPECT_GT(CountOf(DaemonLog(), restart_warning), warnings)
        << "no warning for the changed flows.idle_timeout";

    const CtlResult refused = Ctl({"block", a32, "--ttl", "1m", "--reason", "after reload"});
    EXPECT_EQ(refused.code, 1) << refused.output;
    EXPECT_NE(refused.output.find("FAILED_PRECONDITION"), std::string::npos) << refused.output;
    EXPECT_NE(refused.output.find("allowlist"), std::string::npos) << refused.output;
    const CtlResult blocks = Ctl({"blocks"});
    ASSERT_EQ(blocks.code, 0) << blocks.output;
    EXPECT_TRUE(blocks.objects.empty()) << blocks.output;
    // B, not allowlisted, can still be blocked.
    const CtlResult block_b = Ctl({"block", ip_b + "/32", "--ttl", "1m"});
    EXPECT_EQ(block_b.code, 0) << block_b.output;
    EXPECT_EQ(Ctl({"unblock", ip_b + "/32"}).code, 0);
  }

  // ---- (5) SIGTERM: exit 0, API stopped -> detached -> flows flushed ----
  {
    SCOPED_TRACE("(5) SIGTERM");
    ASSERT_NO_FATAL_FAILURE(StopDaemon());
    const std::string log = DaemonLog();
    const size_t term = log.rfind("SIGTERM: shutting down");
    ASSERT_NE(term, std::string::npos) << "no \"SIGTERM: shutting down\" in the log";
    const std::string detached = "detached from " + lab_->sensor_if();
    const size_t api = log.find("API stopped", term);
    const size_t detach = log.find(detached, term);
    const size_t flushed = log.find("flows flushed", term);
    ASSERT_NE(api, std::string::npos) << "no \"API stopped\" after SIGTERM";
    ASSERT_NE(detach, std::string::npos) << "no \"" << detached << "\" after SIGTERM";
    ASSERT_NE(flushed, std::string::npos) << "no \"flows flushed\" after SIGTERM";
    EXPECT_LT(api, detach) << "the API must stop before capture is detached";
    EXPECT_LT(detach, flushed) << "capture must be detached before the flows are flushed";
    EXPECT_NE(log.find("stopped; blocks stay pinned", flushed), std::string::npos)
        << "no final \"stopped\" line after the flush";
  }
}

}  // namespace
}  // namespace netguard::e2e
