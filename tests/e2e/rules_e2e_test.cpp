// End to end: the behavioural rules on real traffic. netguardd (eBPF) on the sensor's veth with
// the shipped rules file (every threshold at its default); attacks from peer address A, benign
// traffic from peer address B:
//   - nmap SYN, FIN, XMAS, ACK and UDP scans, and a ping sweep (-sn)
//                                             -> port_scan, fin_scan, xmas_scan, ack_scan,
//                                                udp_scan, ping_sweep (T1046)
//   - an hping3 SYN flood, 3000 SYNs (< 3 s)  -> syn_flood (T1498)
//   - 32 short connections to WinRM (5985)    -> brute_force (T1110)
//   - 24 dig TXT queries, long random labels  -> dns_tunnel (T1071.004), from ring DNS samples
//   - ARP replies giving an address a new MAC -> arp_spoof (T1557.002), from ring ARP samples
//   - 10 connections to one service, 1.2 s apart, in the background during the scans
//                                             -> beaconing (T1071)
//   - B: a few HTTP GETs and a DNS lookup     -> nothing
// Then `ngctl rules`: list, disable, a reload of an invalid file refused with the rule and
// line named while the running rules stay, and the disable kept across a reload and a SIGHUP
// (a FIN scan then raises nothing). Every wait is bounded.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "http_server.h"
#include "rules_e2e_fixture.h"

namespace netguard::e2e {
namespace {

using nlohmann::json;

class RulesE2eTest : public RulesE2eFixture {
 protected:
  RulesE2eTest()
      : RulesE2eFixture("rules", {"nmap", "hping3", "dnsmasq", "curl", "timeout"}) {}  // + dig

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DaemonE2eTest::SetUp());
    if (IsSkipped()) return;
    web_ = std::make_unique<HttpServer>(lab_->sensor().fd(), lab_->sensor_ip(), "hello\n");
    login_ =
        std::make_unique<HttpServer>(lab_->sensor().fd(), lab_->sensor_ip(), "denied\n", kWinRm);
    beacon_ = std::make_unique<HttpServer>(lab_->sensor().fd(), lab_->sensor_ip(), "task\n");
    rules_ = state_ + "/rules.yaml";
    WriteRules(ValidRules());
    ASSERT_NO_FATAL_FAILURE(
        WriteConfig("flows:\n  idle_timeout: 2s\n  sweep_interval: 200ms\n"
                    "rules:\n  file: " +
                    rules_ + "\n"));
    dnsmasq_log_ = state_ + "/dnsmasq.log";
    dump_on_failure_.push_back(dnsmasq_log_);
    dnsmasq_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-resolv",
                                 "--no-hosts", "--bind-interfaces",
                                 "--listen-address=" + lab_->sensor_ip(), "--port=53",
                                 "--address=/#/192.0.2.1", "--pid-file=", "--user=root"},
        ChildProcess::Options{.netns_fd = lab_->sensor().fd(), .output_path = dnsmasq_log_});
  }

  void TearDown() override {
    beacons_.reset();
    dnsmasq_.reset();
    web_.reset();
    login_.reset();
    beacon_.reset();
    DaemonE2eTest::TearDown();
  }

  std::string ValidRules() const { return ShippedRules(); }

  /// An implant polling `beacon_` from A every 1.2 s (+ curl's time), `n` times, in the
  /// background; bounded to 20 s.
  void StartBeacons(int n) {
    const std::string log = state_ + "/beacons.log";
    dump_on_failure_.push_back(log);
    const std::string url =
        "http://" + lab_->sensor_ip() + ":" + std::to_string(beacon_->port()) + "/";
    std::vector<std::string> command = PeerCommand(
        {"sh", "-c",
         "for i in $(seq " + std::to_string(n) + "); do curl -sS --noproxy '*' --interface " +
             lab_->peer_ip_a() + " --max-time 2 " + url + "; sleep 1.2; done"},
        20);
    command.insert(command.begin(), "/usr/bin/env");  // ChildProcess takes a path
    beacons_ = std::make_unique<ChildProcess>(command, ChildProcess::Options{.output_path = log});
  }

  static constexpr uint16_t kWinRm = 5985;  // a brute_force port (HTTP, so curl logs in)

  std::unique_ptr<HttpServer> web_;
  std::unique_ptr<HttpServer> login_;
  std::unique_ptr<HttpServer> beacon_;  // a command-and-control server polled periodically
  std::unique_ptr<ChildProcess> dnsmasq_;
  std::unique_ptr<ChildProcess> beacons_;
  std::string dnsmasq_log_;
};

TEST_F(RulesE2eTest, AttacksRaiseTheirRulesBenignTrafficNothingAndRulesAreManagedLive) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_TRUE(WaitForLog("rules: 23 from " + rules_, 1)) << "the rules file is in force";
  const std::string a = lab_->peer_ip_a();
  const std::string b = lab_->peer_ip_b();
  const std::string sensor = lab_->sensor_ip();

  // Benign, from B.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Curl(b, sensor, web_->port()), 0);
  std::string answer;
  EXPECT_EQ(InPeer({"dig", "-b", b, "@" + sensor, "+tries=1", "+time=2", "+short", "A",
                    "www.example.com"},
                   10, &answer),
            0)
      << answer;

  // Attacks, from A. Beacons in the background (8 regular ones alert) while the scans run.
  StartBeacons(10);
  // A ping sweep of 12 addresses that exist only as neighbour entries
  // pointing at the sensor's MAC, so the probes reach its XDP hook.
  const std::string subnet = sensor.substr(0, sensor.rfind('.') + 1);
  std::string sensor_mac;
  ASSERT_EQ(RunCommand({"ip", "netns", "exec", lab_->sensor().name(), "cat",
                        "/sys/class/net/" + lab_->sensor_if() + "/address"},
                       &sensor_mac),
            0);
  sensor_mac = sensor_mac.substr(0, sensor_mac.find('\n'));
  for (int host = 100; host < 112; ++host) {
    RunCommandOrThrow({"ip", "-n", lab_->peer().name(), "neigh", "replace",
                       subnet + std::to_string(host), "lladdr", sensor_mac, "dev", lab_->peer_if(),
                       "nud", "permanent"});
  }
  EXPECT_EQ(InPeer({"nmap", "-sn", "--send-ip", "-n", "--max-retries", "0", "-S", a, "-e",
                    lab_->peer_if(), subnet + "100-111"}),
            0);
  EXPECT_EQ(InPeer({"nmap", "-sS", "-Pn", "-n", "-p", "41-80", "--max-retries", "0", "-S", a, "-e",
                    lab_->peer_if(), sensor}),
            0);
  for (const char* kind : {"-sF", "-sX", "-sA"}) {
    EXPECT_EQ(InPeer({"nmap", kind, "-Pn", "-n", "-p", "1-40", "--max-retries", "0", "-S", a, "-e",
                      lab_->peer_if(), sensor}),
              0);
  }
  EXPECT_EQ(InPeer({"nmap", "-sU", "-Pn", "-n", "-p", "1-40", "--max-retries", "0", "--min-rate",
                    "200", "-S", a, "-e", lab_->peer_if(), sensor}),
            0);
  EXPECT_EQ(InPeer({"hping3", "-q", "-S", "-p", std::to_string(web_->port()), "-i", "u100", "-c",
                    "3000", "-a", a, sensor},
                   kFloodSeconds),
            0)
      << "3000 SYNs within " << kFloodSeconds << " s";
  for (int i = 0; i < 32; ++i) Curl(a, sensor, login_->port());
  std::mt19937 random(7);
  for (int i = 0; i < 24; ++i) {
    std::string label;
    for (int c = 0; c < 40; ++c) label += "abcdefghijklmnopqrstuvwxyz0123456789"[random() % 36];
    InPeer({"dig", "-b", a, "@" + sensor, "+tries=1", "+time=1", "TXT", label + ".t.evil.example"},
           5);
  }
  EXPECT_TRUE(beacons_->WaitExit(milliseconds(20000))) << "the beacons are done";
  // Last: the sensor's neighbour entry for A now points at a bogus MAC.
  ASSERT_NO_FATAL_FAILURE(SendArp({0x02, 0, 0, 0, 0, 1}, a, a, 2, 1, milliseconds(50)));
  ASSERT_NO_FATAL_FAILURE(SendArp({0x02, 0, 0, 0, 0, 2}, a, a, 2, 1, milliseconds(50)));

  const std::map<std::string, std::string> expected = {
      {"rule.port_scan", "T1046"},      {"rule.ping_sweep", "T1046"},
      {"rule.fin_scan", "T1046"},       {"rule.xmas_scan", "T1046"},
      {"rule.udp_scan", "T1046"},       {"rule.ack_scan", "T1046"},
      {"rule.syn_flood", "T1498"},      {"rule.brute_force", "T1110"},
      {"rule.dns_tunnel", "T1071.004"}, {"rule.arp_spoof", "T1557.002"},
      {"rule.beaconing", "T1071"},
  };
  const std::multimap<std::string, json> alerts = ExpectAlertsFrom(a, expected);
  for (const auto& [detector, alert] : alerts) {
    EXPECT_NE(Str(alert, "srcAddr"), b) << "benign traffic alerted: " << alert.dump();
  }

  // The samples reached the rules, and their state is visible.
  EXPECT_GT(Counter("packet_samples").value_or(0), 0u);
  EXPECT_GT(Counter("rules_windows").value_or(0), 0u);
  EXPECT_EQ(Counter("rules_evictions").value_or(1), 0u);

  // Rules managed live.
  CtlResult listed = Ctl({"rules"});
  ASSERT_EQ(listed.code, 0) << listed.output;
  EXPECT_EQ(listed.objects.size(), 23u);
  CtlResult disabled = Ctl({"rules", "disable", "fin_scan"});
  ASSERT_EQ(disabled.code, 0) << disabled.output;
  ASSERT_EQ(disabled.objects.size(), 1u);
  EXPECT_FALSE(disabled.objects[0].value("enabled", true));
  EXPECT_NE(Ctl({"rules", "enable", "no_such_rule"}).code, 0);
  WriteRules("rules:\n  port_scan:\n    threshold: nope\n");
  const CtlResult refused = Ctl({"rules", "reload"});
  EXPECT_NE(refused.code, 0);
  EXPECT_NE(refused.output.find(rules_ + ":3: rule port_scan: threshold"), std::string::npos)
      << refused.output;
  WriteRules(ValidRules());
  const CtlResult reloaded = Ctl({"rules", "reload"});
  ASSERT_EQ(reloaded.code, 0) << reloaded.output;
  EXPECT_EQ(reloaded.objects.size(), 23u);

  // The API's disable outlives reloads (ngctl rules reload, SIGHUP) of a file that did not
  // change fin_scan's `enabled`, and FIN scans stay silent.
  auto fin_scan_enabled = [&](const std::vector<json>& rules) {
    for (const json& r : rules) {
      if (r.value("name", "") == "fin_scan") return r.value("enabled", false);
    }
    ADD_FAILURE() << "fin_scan not listed";
    return true;
  };
  EXPECT_FALSE(fin_scan_enabled(reloaded.objects)) << reloaded.output;
  EXPECT_TRUE(WaitForLog("rules: fin_scan disabled (ngctl override kept)", 1));
  daemon_->Signal(SIGHUP);
  EXPECT_TRUE(WaitForLog("rules: fin_scan disabled (ngctl override kept)", 2));
  EXPECT_FALSE(fin_scan_enabled(Ctl({"rules"}).objects));
  const auto fin_alerts = [&] { return AlertsByDetector().count("rule.fin_scan"); };
  const size_t fin_before = fin_alerts();
  EXPECT_EQ(InPeer({"nmap", "-sF", "-Pn", "-n", "-p", "1-40", "--max-retries", "0", "-S", b, "-e",
                    lab_->peer_if(), sensor}),
            0);
  std::this_thread::sleep_for(milliseconds(1000));
  EXPECT_EQ(fin_alerts(), fin_before) << "a FIN scan alerted with fin_scan disabled";
}

}  // namespace
}  // namespace netguard::e2e
