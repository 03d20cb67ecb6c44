// End to end: more behavioural rules on real traffic, netguardd (eBPF) on the sensor's veth with
// the shipped rules file (every threshold at its default). The sensor namespace gets extra
// addresses: a web server (nginx, port 80) and 12 "Windows hosts" answering WinRM logins (nginx,
// port 5985, 401 to everyone). From peer address A:
//   - slowhttptest slowloris (40 connections, 45 s) -> slow_http (T1499) once they have lasted
//                                                      30 s, while they are still held open
//   - slowhttptest slow read (40 connections, 45 s) -> slow_http (T1499) on a second address,
//                                                      likewise
//   - an hping3 UDP flood, 5 x 13000 packets (< 6 s)     -> udp_flood (T1498)
//   - an hping3 ICMP echo flood the sensor answers,
//     3 x 9000 packets (< 6 s)                           -> icmp_flood (T1498) from A on the sensor
//   - hydra: one password against the 12 hosts      -> credential_spraying (T1110.003)
//   - gratuitous ARP announcements from one MAC     -> garp_storm (T1557.002)
// From B, the benign versions: HTTP GETs, one failed login, a few UDP packets and pings, one
// gratuitous ARP announcing its own address -> nothing. Every command is bounded in time.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "rules_e2e_fixture.h"

namespace netguard::e2e {
namespace {

using nlohmann::json;

constexpr int kLoginHosts = 12;
constexpr uint16_t kWinRm = 5985;

class RulesAttacksE2eTest : public RulesE2eFixture {
 protected:
  RulesAttacksE2eTest()
      : RulesE2eFixture("rules-attacks",
                        {"hping3", "hydra", "slowhttptest", "nginx", "curl", "timeout"}) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DaemonE2eTest::SetUp());
    if (IsSkipped()) return;
    const std::string& sensor = lab_->sensor_ip();
    const std::string subnet = sensor.substr(0, sensor.rfind('.') + 1);
    web_ = subnet + "80";
    slow_read_web_ = subnet + "81";
    std::ofstream hosts(state_ + "/hosts");
    for (int i = 0; i < kLoginHosts; ++i) {
      logins_.push_back(subnet + std::to_string(20 + i));
      hosts << logins_.back() << '\n';
    }
    for (const std::string& ip : logins_) AddSensorAddress(ip);
    AddSensorAddress(web_);
    AddSensorAddress(slow_read_web_);
    StartNginx();
    rules_ = state_ + "/rules.yaml";
    WriteRules(ShippedRules());
    // flows.idle_timeout stays at its default (30 s): a slow reader's connection can be quiet
    // for seconds while the server's zero-window probes back off.
    ASSERT_NO_FATAL_FAILURE(
        WriteConfig("flows:\n  sweep_interval: 200ms\nrules:\n  file: " + rules_ + "\n"));
  }

  void TearDown() override {
    for (auto* slow : {&slowloris_, &slow_read_}) {
      if (*slow) {  // timeout passes SIGTERM on to slowhttptest (a SIGKILL would orphan it)
        (*slow)->Signal(SIGTERM);
        (*slow)->WaitExit(milliseconds(5000));
      }
      slow->reset();
    }
    nginx_.reset();
    DaemonE2eTest::TearDown();
  }

  // A sensor address that clients which do not bind (slowhttptest, hydra) reach from A.
  void AddSensorAddress(const std::string& ip) {
    RunCommandOrThrow(
        {"ip", "-n", lab_->sensor().name(), "addr", "add", ip + "/32", "dev", lab_->sensor_if()});
    RunCommandOrThrow({"ip", "-n", lab_->peer().name(), "route", "add", ip + "/32", "dev",
                       lab_->peer_if(), "src", lab_->peer_ip_a()});
  }

  void StartNginx() {
    std::filesystem::create_directories(state_ + "/www");
    std::ofstream(state_ + "/www/big.bin") << std::string(8 << 20, 'x');  // for the slow reader
    const std::string conf = state_ + "/nginx.conf";
    std::ofstream(conf) << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
                        << "pid " << state_ << "/nginx.pid;\nerror_log " << state_
                        << "/nginx.log;\nevents { worker_connections 512; }\n"
                        << "http {\n  access_log off;\n"
                        << "  server { listen 80; location / { return 200 \"hello\\n\"; }\n"
                        << "    location = /big.bin { root " << state_ << "/www; } }\n"
                        << "  server { listen " << kWinRm << "; location / {\n"
                        << "    add_header WWW-Authenticate 'Basic realm=\"wsman\"' always;\n"
                        << "    return 401; } }\n}\n";
    dump_on_failure_.push_back(state_ + "/nginx.log");
    nginx_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/sbin/nginx", "-c", conf, "-p", state_},
        ChildProcess::Options{.netns_fd = lab_->sensor().fd(),
                              .output_path = state_ + "/nginx.log"});
  }

  /// slowhttptest `args` from A in the background, bounded to 50 s; its output goes to
  /// state_/`name`.log.
  std::unique_ptr<ChildProcess> SlowHttpTest(std::vector<std::string> args,
                                             const std::string& name) {
    const std::string log = state_ + "/" + name + ".log";
    dump_on_failure_.push_back(log);
    args.insert(args.begin(), "slowhttptest");
    std::vector<std::string> command = PeerCommand(args, 50);
    command.insert(command.begin(), "/usr/bin/env");  // ChildProcess takes a path
    return std::make_unique<ChildProcess>(command, ChildProcess::Options{.output_path = log});
  }

  std::string web_;
  std::vector<std::string> logins_;
  std::unique_ptr<ChildProcess> nginx_;
  std::unique_ptr<ChildProcess> slowloris_;
  std::string slow_read_web_;  // the slow-read attack's target (the same nginx)
  std::unique_ptr<ChildProcess> slow_read_;
};

TEST_F(RulesAttacksE2eTest,
       FloodsSprayingGarpStormSlowlorisAndSlowReadRaiseTheirRulesBenignNothing) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_TRUE(WaitForLog("rules: 23 from " + rules_, 1)) << "the rules file is in force";
  const std::string a = lab_->peer_ip_a();
  const std::string b = lab_->peer_ip_b();
  ASSERT_TRUE(WaitFor([&] { return Curl(b, web_, 80) == 0; })) << "nginx serves";

  // Slowloris from A, in the background: 40 connections held open with a header line a second;
  // and a slow read of an 8 MiB file on the second web address: 40 connections that asked once
  // and read through a 16-32 byte window. Both last 45 s: slow_http (min_duration_s 30) alerts
  // after 30 s; the other attacks run meanwhile.
  const auto slow_start = std::chrono::steady_clock::now();
  slowloris_ = SlowHttpTest({"-H", "-c", "40", "-r", "40", "-i", "1", "-x", "24", "-p", "3", "-l",
                             "45", "-u", "http://" + web_ + "/"},
                            "slowloris");
  slow_read_ =
      SlowHttpTest({"-X", "-c", "40", "-r", "40", "-w", "16",
                    "-y", "32", "-n", "2",  "-z", "32", "-k",
                    "3",  "-p", "3",  "-l", "45", "-u", "http://" + slow_read_web_ + "/big.bin"},
                   "slowread");

  // Benign, from B, while the slowloris connections are held.
  EXPECT_EQ(Curl(b, web_, 80), 0);
  EXPECT_EQ(Curl(b, logins_[0], kWinRm), 0) << "one refused login";
  EXPECT_TRUE(Hping({"--udp", "-p", "9999", "-a", b}, 5, 100000));
  EXPECT_TRUE(Hping({"--icmp", "-a", b}, 5, 100000));
  std::string peer_mac;
  ASSERT_EQ(RunCommand({"ip", "netns", "exec", lab_->peer().name(), "cat",
                        "/sys/class/net/" + lab_->peer_if() + "/address"},
                       &peer_mac),
            0);
  std::array<uint8_t, 6> mac{};
  ASSERT_EQ(sscanf(peer_mac.c_str(), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2],
                   &mac[3], &mac[4], &mac[5]),
            6);
  ASSERT_NO_FATAL_FAILURE(SendArp(mac, b, b, 1, 1, milliseconds(0)));

  // The other attacks, from A, while the slow connections are held. A UDP flood of 65000
  // packets (5 flows, -k keeps each one's source port) over udp_flood's 50000 in 10 s.
  EXPECT_GE(Flood({"--udp", "-p", "9999", "-k", "-a", a}, 5, 13000), 50000)
      << "the UDP flood sent too little within " << kFloodSeconds << " s";
  // An echo flood that the sensor answers, 27000 requests (over icmp_flood's 20000 in 10 s) in
  // 3 flows whose requests and replies alternate; each direction's 1-in-K samples stand for its
  // own packets, the replies count against nobody.
  EXPECT_GE(Flood({"--icmp", "-a", a}, 3, 9000), 20000)
      << "the ICMP flood sent too little within " << kFloodSeconds << " s";
  std::string hydra;
  EXPECT_EQ(
      InPeer({"hydra", "-I", "-l", "administrator", "-p", "Winter2026!", "-M", state_ + "/hosts",
              "-s", std::to_string(kWinRm), "-t", "1", "-w", "5", "http-get", "/wsman"},
             30, &hydra),
      0)
      << hydra;
  EXPECT_NE(hydra.find(std::to_string(kLoginHosts) + " of " + std::to_string(kLoginHosts) +
                       " targets completed"),
            std::string::npos)
      << hydra;

  // slow_http fires for each server while slowhttptest still holds its connections open, once 20 of
  // them have lasted 30 s (and a sweep saw them).
  for (const auto& [target, attack] :
       {std::pair{web_, slowloris_.get()}, std::pair{slow_read_web_, slow_read_.get()}}) {
    json slow;
    EXPECT_TRUE(WaitFor(
        [&] {
          const auto alerts = AlertsByDetector();
          auto [it, end] = alerts.equal_range("rule.slow_http");
          for (; it != end; ++it) {
            if (Str(it->second, "dstAddr") == target) slow = it->second;
          }
          return !slow.is_null();
        },
        std::chrono::duration_cast<milliseconds>(slow_start + std::chrono::seconds(44) -
                                                 std::chrono::steady_clock::now()),
        milliseconds(200)))
        << "no slow_http alert on " << target;
    if (slow.is_null()) continue;
    EXPECT_TRUE(attack->Running())
        << "slow_http alerted only after the attack on " << target << " ended";
    EXPECT_GE(std::chrono::steady_clock::now() - slow_start, std::chrono::seconds(30))
        << "slow_http alerted before its connections lasted min_duration_s";
    EXPECT_GE(
        json::parse(Str(slow, "evidenceJson"), nullptr, false).value("distinct_connections", 0), 20)
        << slow.dump();
    EXPECT_EQ(Str(slow, "srcAddr"), a) << slow.dump();
    EXPECT_EQ(Str(slow, "mitreTechnique"), "T1499") << slow.dump();
  }

  // Last (the sensor's neighbour entry for A then points at a bogus MAC): a gratuitous ARP
  // storm, 30 announcements of A's address from one MAC in 0.6 s.
  ASSERT_NO_FATAL_FAILURE(SendArp({0x02, 0, 0, 0, 0, 0x0a}, a, a, 1, 30, milliseconds(20)));

  const auto alerts = ExpectAlertsFrom(a, {{"rule.slow_http", "T1499"},
                                           {"rule.udp_flood", "T1498"},
                                           {"rule.icmp_flood", "T1498"},
                                           {"rule.credential_spraying", "T1110.003"},
                                           {"rule.garp_storm", "T1557.002"}});
  auto [icmp, icmp_end] = alerts.equal_range("rule.icmp_flood");
  ASSERT_NE(icmp, icmp_end) << "no icmp_flood alert";
  for (; icmp != icmp_end; ++icmp) {  // the attacker is the source, the victim the target
    EXPECT_EQ(Str(icmp->second, "srcAddr"), a) << icmp->second.dump();
    EXPECT_EQ(Str(icmp->second, "dstAddr"), lab_->sensor_ip()) << icmp->second.dump();
  }
  for (const auto& [detector, alert] : alerts) {
    EXPECT_NE(Str(alert, "srcAddr"), b) << "benign traffic alerted: " << alert.dump();
  }
}

}  // namespace
}  // namespace netguard::e2e
