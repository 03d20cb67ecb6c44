#include "rules_e2e_fixture.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

namespace netguard::e2e {

using nlohmann::json;

std::string ShippedRules() {
  std::ifstream in(NETGUARD_SOURCE_DIR "/packaging/rules.yaml");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << "no " NETGUARD_SOURCE_DIR "/packaging/rules.yaml";
  return text.str();
}

void RulesE2eFixture::WriteRules(const std::string& yaml) const {
  std::ofstream out(rules_, std::ios::trunc);
  out << yaml;
}

long RulesE2eFixture::Flood(const std::vector<std::string>& args, int processes, int count) const {
  std::vector<std::unique_ptr<ChildProcess>> floods;
  std::vector<std::string> logs;
  for (int i = 0; i < processes; ++i) {
    logs.push_back(state_ + "/flood-" + std::to_string(i) + ".log");
    std::ofstream(logs.back(), std::ios::trunc).close();
    std::vector<std::string> command = {"/usr/bin/env",
                                        "ip",
                                        "netns",
                                        "exec",
                                        lab_->peer().name(),
                                        "timeout",
                                        "-s",
                                        "INT",
                                        "-k",
                                        "1",
                                        std::to_string(kFloodSeconds),
                                        "hping3",
                                        "-q",
                                        "-c",
                                        std::to_string(count),
                                        "-i",
                                        "u10"};
    command.insert(command.end(), args.begin(), args.end());
    command.push_back(lab_->sensor_ip());
    floods.push_back(
        std::make_unique<ChildProcess>(command, ChildProcess::Options{.output_path = logs.back()}));
  }
  long sent = 0;
  const std::regex transmitted("([0-9]+) packets transmitted");
  for (int i = 0; i < processes; ++i) {
    EXPECT_TRUE(floods[i]->WaitExit(milliseconds((kFloodSeconds + 3) * 1000)))
        << "flood " << i << " still running";
    std::ifstream in(logs[i]);
    std::stringstream output;
    output << in.rdbuf();
    const std::string text = output.str();
    std::smatch m;
    if (std::regex_search(text, m, transmitted)) {
      sent += std::stol(m[1]);
    } else {
      ADD_FAILURE() << "hping3 said: " << text;
    }
  }
  return sent;
}

int RulesE2eFixture::Curl(const std::string& source_ip, const std::string& host,
                          uint16_t port) const {
  return InPeer({"curl", "-sS", "--noproxy", "*", "--interface", source_ip, "--max-time", "5",
                 "http://" + host + ":" + std::to_string(port) + "/"},
                10);
}

void RulesE2eFixture::SendArp(const std::array<uint8_t, 6>& mac, const std::string& sender_ip,
                              const std::string& target_ip, uint16_t op, int count,
                              milliseconds gap) const {
  Fd raw = SocketIn(lab_->peer().fd(), AF_PACKET, SOCK_RAW, htons(ETH_P_ARP));
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = IfIndexIn(lab_->peer().fd(), lab_->peer_if());
  to.sll_halen = 6;
  std::fill_n(to.sll_addr, 6, 0xff);
  const in_addr sender = Ipv4(sender_ip);
  const in_addr target = Ipv4(target_ip);
  uint8_t frame[42] = {};
  std::fill_n(frame, 6, 0xff);  // broadcast
  std::copy(mac.begin(), mac.end(), frame + 6);
  frame[12] = 0x08, frame[13] = 0x06;                                       // ARP
  const uint8_t head[8] = {0, 1, 8, 0, 6, 4, 0, static_cast<uint8_t>(op)};  // Ethernet/IPv4
  std::copy_n(head, 8, frame + 14);
  std::copy(mac.begin(), mac.end(), frame + 22);
  std::memcpy(frame + 28, &sender, 4);
  std::fill_n(frame + 32, 6, op == 2 ? 0xff : 0x00);
  std::memcpy(frame + 38, &target, 4);
  for (int i = 0; i < count; ++i) {
    ASSERT_EQ(
        sendto(raw.get(), frame, sizeof(frame), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
        static_cast<ssize_t>(sizeof(frame)))
        << strerror(errno);
    std::this_thread::sleep_for(gap);
  }
}

std::multimap<std::string, json> RulesE2eFixture::AlertsByDetector() const {
  std::multimap<std::string, json> out;
  for (const json& a : Ctl({"alerts"}).objects) out.emplace(Str(a, "detector"), a);
  return out;
}

std::multimap<std::string, json> RulesE2eFixture::ExpectAlertsFrom(
    const std::string& source, const std::map<std::string, std::string>& expected) const {
  auto from_source = [&](const std::multimap<std::string, json>& alerts,
                         const std::string& detector) -> const json* {
    auto [begin, end] = alerts.equal_range(detector);
    for (auto it = begin; it != end; ++it) {
      if (Str(it->second, "srcAddr") == source) return &it->second;
    }
    return nullptr;
  };
  std::multimap<std::string, json> alerts;
  WaitFor(
      [&] {
        alerts = AlertsByDetector();
        for (const auto& [detector, technique] : expected) {
          if (!from_source(alerts, detector)) return false;
        }
        return true;
      },
      kAlertVisible, milliseconds(250));
  for (const auto& [detector, technique] : expected) {
    const json* alert = from_source(alerts, detector);
    if (!alert) {
      ADD_FAILURE() << "no " << detector << " alert from " << source
                    << "; status: " << Ctl({"status"}).output;
      continue;
    }
    EXPECT_EQ(Str(*alert, "mitreTechnique"), technique) << alert->dump();
  }
  return alerts;
}

}  // namespace netguard::e2e
