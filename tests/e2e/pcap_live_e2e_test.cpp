// pcap-live end to end: the real netguardd with `capture.backend: pcap-live` (libpcap + the
// user-space FlowTable, no eBPF) on the sensor's veth, UDP echoes and one TCP connection from the
// peer namespace, and the flows as `ngctl flows -o json` lists them:
//
//   - status reports the interface with backend "pcap-live";
//   - the UDP echoes are one flow with exact packet and payload byte counts;
//   - the TCP connection (handshake, 3000 bytes up, 5000 down, FINs) gives flows whose payload
//     bytes add up exactly per endpoint, and whose packets per endpoint equal those of an
//     independent tcpdump capture of the same interface (read here with libpcap, by hand);
//   - Block answers FAILED_PRECONDITION (no eBPF blocklist) with a message naming pcap-live.
//
// Traffic stays between the lab's namespaces; every wait is bounded; the daemon and tcpdump are
// SIGKILLed and the namespaces and files removed also when the test fails.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "child_process.h"
#include "netns_lab.h"
#include "traffic.h"

#ifndef NETGUARDD_PATH
#error "NETGUARDD_PATH must name the netguardd binary"
#endif
#ifndef NGCTL_PATH
#error "NGCTL_PATH must name the ngctl binary"
#endif

namespace netguard::e2e {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kDaemonStart{15000};
constexpr milliseconds kDaemonStop{15000};
constexpr milliseconds kFlowVisible{10000};  // idle timeout 1 s, sweeps every 200 ms
constexpr int kEchoes = 5;
constexpr size_t kEchoBytes = 100;
constexpr size_t kUp = 3000;    // TCP client -> server
constexpr size_t kDown = 5000;  // TCP server -> client

uint64_t U64(const json& v) {
  if (v.is_string()) return std::stoull(v.get<std::string>());
  return v.is_number() ? v.get<uint64_t>() : 0;
}

// Packets and payload bytes one endpoint (ip, port) sent.
struct Sent {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  friend bool operator==(const Sent&, const Sent&) = default;
};
std::ostream& operator<<(std::ostream& os, const Sent& s) {
  return os << s.packets << " packets / " << s.bytes << " payload bytes";
}
using Endpoint = std::pair<std::string, uint16_t>;

// Per-sender totals of the TCP packets between `a` and `b` in a pcap file, parsed by hand
// (Ethernet, IPv4, TCP): the reference the agent's flows are compared with.
std::map<Endpoint, Sent> TcpTotalsFromPcap(const std::string& path, const Endpoint& a,
                                           const Endpoint& b) {
  std::map<Endpoint, Sent> out;
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (!p) throw std::runtime_error(path + ": " + err);
  pcap_pkthdr* h = nullptr;
  const u_char* d = nullptr;
  while (pcap_next_ex(p, &h, &d) == 1) {
    if (h->caplen < 14 + 20 || d[12] != 0x08 || d[13] != 0x00) continue;  // IPv4 only
    const u_char* ip = d + 14;
    const size_t ihl = (ip[0] & 0x0f) * 4u;
    if (ip[9] != IPPROTO_TCP || h->caplen < 14 + ihl + 20) continue;
    const size_t total = (size_t{ip[2]} << 8) | ip[3];
    const u_char* tcp = ip + ihl;
    const size_t doff = (tcp[12] >> 4) * 4u;
    char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, ip + 12, src, sizeof(src));
    inet_ntop(AF_INET, ip + 16, dst, sizeof(dst));
    const Endpoint from{src, static_cast<uint16_t>((tcp[0] << 8) | tcp[1])};
    const Endpoint to{dst, static_cast<uint16_t>((tcp[2] << 8) | tcp[3])};
    if (!((from == a && to == b) || (from == b && to == a))) continue;
    out[from].packets++;
    out[from].bytes += total - ihl - doff;
  }
  pcap_close(p);
  return out;
}

class PcapLiveE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, packet capture)";
    for (const char* tool : {"/usr/bin/tcpdump"}) {
      ASSERT_TRUE(std::filesystem::exists(tool)) << tool << " is needed (scripts/install-deps.sh)";
    }
    lab_ = std::make_unique<NetnsLab>();
    // /tmp/nge2e-<pid>-*: removed by NetnsLab::RemoveStale if this process is killed.
    state_ = "/tmp/" + NetnsLab::Tag() + "-pcaplive";
    std::filesystem::remove_all(state_);
    std::filesystem::create_directories(state_);
    socket_ = state_ + "/netguard.sock";
    config_ = state_ + "/netguard.yaml";
    daemon_log_ = state_ + "/netguardd.log";
    tcpdump_log_ = state_ + "/tcpdump.log";
    reference_ = state_ + "/reference.pcap";
    std::ofstream(config_) << "capture:\n"
                              "  backend: pcap-live\n"
                              "flows:\n"
                              "  idle_timeout: 1s\n"
                              "  sweep_interval: 200ms\n"
                              "port_scan:\n"
                              "  enabled: false\n";
  }

  void TearDown() override {
    tcpdump_.reset();
    daemon_.reset();  // SIGKILL if still running
    if (HasFailure() && !state_.empty()) {
      for (const std::string& path : {daemon_log_, tcpdump_log_}) {
        std::ifstream in(path);
        if (in) std::cerr << "---- " << path << " ----\n" << in.rdbuf() << "\n";
      }
    }
    if (!state_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(state_, ec);
    }
    lab_.reset();
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Runs `ngctl --socket S -o json ARGS...`; returns the exit code, the output in *output and
  // the JSON lines in *objects.
  int Ctl(const std::vector<std::string>& args, std::string* output,
          std::vector<json>* objects = nullptr) const {
    std::vector<std::string> argv = {NGCTL_PATH, "--socket", socket_, "-o", "json"};
    argv.insert(argv.end(), args.begin(), args.end());
    const int rc = RunCommand(argv, output);
    if (objects) {
      std::istringstream lines(*output);
      for (std::string line; std::getline(lines, line);) {
        if (!line.empty() && line.front() == '{') {
          objects->push_back(json::parse(line, nullptr, /*allow_exceptions=*/false));
        }
      }
    }
    return rc;
  }

  void StartDaemon() {
    daemon_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{NETGUARDD_PATH, "--config", config_, "-i", lab_->sensor_if(),
                                 "--store", state_ + "/netguard.db", "--socket", socket_},
        ChildProcess::Options{.netns_fd = lab_->sensor().fd(), .output_path = daemon_log_});
    // Ready when the API (started last, after the capture is active) answers.
    const bool ready = WaitFor(
        [&] {
          if (!daemon_->Running()) return true;
          std::string out;
          std::vector<json> objects;
          return Ctl({"status"}, &out, &objects) == 0 && objects.size() == 1;
        },
        kDaemonStart, milliseconds(100));
    ASSERT_TRUE(daemon_->Running()) << "netguardd exited";
    ASSERT_TRUE(ready) << "netguardd did not serve " << socket_ << " within "
                       << kDaemonStart.count() << " ms";
  }

  // tcpdump on the sensor's interface, writing every TCP packet to reference_ unbuffered.
  void StartTcpdump() {
    tcpdump_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/tcpdump", "-i", lab_->sensor_if(), "-n", "-U", "-s",
                                 "128", "-w", reference_, "tcp"},
        ChildProcess::Options{.netns_fd = lab_->sensor().fd(), .output_path = tcpdump_log_});
    ASSERT_TRUE(
        WaitFor([&] { return ReadFile(tcpdump_log_).find("listening on") != std::string::npos; },
                kWait, milliseconds(20)))
        << "tcpdump did not start";
  }

  void StopTcpdump() {
    tcpdump_->Signal(SIGINT);  // flushes and closes the file
    const std::optional<int> status = tcpdump_->WaitExit(kWait);
    ASSERT_TRUE(status.has_value()) << "tcpdump did not stop";
  }

  // Every flow of `protocol` between the two endpoints in `ngctl flows`.
  std::vector<json> FlowsBetween(const std::string& protocol, const Endpoint& a,
                                 const Endpoint& b) const {
    std::string out;
    std::vector<json> objects;
    if (Ctl({"flows", "--proto", protocol}, &out, &objects) != 0) return {};
    std::vector<json> matching;
    for (const json& f : objects) {
      const Endpoint src{f.value("srcAddr", ""), static_cast<uint16_t>(f.value("srcPort", 0))};
      const Endpoint dst{f.value("dstAddr", ""), static_cast<uint16_t>(f.value("dstPort", 0))};
      if ((src == a && dst == b) || (src == b && dst == a)) matching.push_back(f);
    }
    return matching;
  }

  // Per-sender totals over `flows` (src is each flow's initiator).
  static std::map<Endpoint, Sent> Totals(const std::vector<json>& flows) {
    std::map<Endpoint, Sent> out;
    for (const json& f : flows) {
      const Endpoint src{f.value("srcAddr", ""), static_cast<uint16_t>(f.value("srcPort", 0))};
      const Endpoint dst{f.value("dstAddr", ""), static_cast<uint16_t>(f.value("dstPort", 0))};
      out[src].packets += U64(f.value("fwdPackets", json("0")));
      out[src].bytes += U64(f.value("fwdBytes", json("0")));
      out[dst].packets += U64(f.value("bwdPackets", json("0")));
      out[dst].bytes += U64(f.value("bwdBytes", json("0")));
    }
    return out;
  }

  std::unique_ptr<NetnsLab> lab_;
  std::string state_, socket_, config_, daemon_log_, tcpdump_log_, reference_;
  std::unique_ptr<ChildProcess> daemon_;
  std::unique_ptr<ChildProcess> tcpdump_;
};

TEST_F(PcapLiveE2eTest, FlowsWithExactCountsAndNoBlocking) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  // Status: the interface, captured by pcap-live.
  {
    std::string out;
    std::vector<json> status;
    ASSERT_EQ(Ctl({"status"}, &out, &status), 0) << out;
    ASSERT_EQ(status.size(), 1u) << out;
    const json interfaces = status[0].value("interfaces", json::array());
    ASSERT_EQ(interfaces.size(), 1u) << out;
    EXPECT_EQ(interfaces[0].value("name", ""), lab_->sensor_if());
    EXPECT_EQ(interfaces[0].value("backend", ""), "pcap-live");
  }

  ASSERT_NO_FATAL_FAILURE(StartTcpdump());

  // UDP: kEchoes echoes of kEchoBytes from peer B to the sensor.
  Fd udp_server = BoundSocket(lab_->sensor().fd(), SOCK_DGRAM, lab_->sensor_ip(), 0);
  Fd udp_client = BoundSocket(lab_->peer().fd(), SOCK_DGRAM, lab_->peer_ip_b(), 0);
  const Endpoint udp_b{lab_->peer_ip_b(), LocalPort(udp_client.get())};
  const Endpoint udp_s{lab_->sensor_ip(), LocalPort(udp_server.get())};
  for (int i = 0; i < kEchoes; i++) {
    ASSERT_EQ(
        UdpRoundTrip(udp_client.get(), udp_server.get(), udp_s.first, udp_s.second, kEchoBytes),
        "");
  }

  // TCP: handshake, kUp bytes up, kDown back, the client closes first, then the server.
  TcpPorts ports;
  ASSERT_EQ(TcpExchange(lab_->peer().fd(), lab_->peer_ip_b(), lab_->sensor().fd(),
                        lab_->sensor_ip(), kUp, kDown, &ports),
            "");
  const Endpoint tcp_b{lab_->peer_ip_b(), ports.client};
  const Endpoint tcp_s{lab_->sensor_ip(), ports.server};

  // UDP: one flow (ended by the idle timeout), exact counts.
  std::vector<json> udp;
  ASSERT_TRUE(WaitFor([&] { return !(udp = FlowsBetween("UDP", udp_b, udp_s)).empty(); },
                      kFlowVisible, milliseconds(100)))
      << "no UDP flow in ngctl flows";
  ASSERT_EQ(udp.size(), 1u) << udp.size() << " UDP flows";
  EXPECT_EQ(udp[0].value("srcAddr", ""), udp_b.first);
  EXPECT_EQ(udp[0].value("srcPort", 0), udp_b.second);
  EXPECT_EQ(U64(udp[0]["fwdPackets"]), static_cast<uint64_t>(kEchoes));
  EXPECT_EQ(U64(udp[0]["bwdPackets"]), static_cast<uint64_t>(kEchoes));
  EXPECT_EQ(U64(udp[0]["fwdBytes"]), kEchoes * kEchoBytes);
  EXPECT_EQ(U64(udp[0]["bwdBytes"]), kEchoes * kEchoBytes);
  EXPECT_EQ(udp[0].value("endReason", ""), "idle_timeout");
  EXPECT_EQ(udp[0].value("ifindex", 0), IfIndexIn(lab_->sensor().fd(), lab_->sensor_if()));

  // TCP: FIN ends a flow, so the connection is the flow up to the client's FIN, the server's
  // packets up to its FIN, and the client's last ACK (idle timeout): three flows.
  std::vector<json> tcp;
  ASSERT_TRUE(WaitFor([&] { return (tcp = FlowsBetween("TCP", tcp_b, tcp_s)).size() >= 3; },
                      kFlowVisible, milliseconds(100)))
      << tcp.size() << " TCP flows in ngctl flows";
  ASSERT_NO_FATAL_FAILURE(StopTcpdump());
  EXPECT_EQ(tcp.size(), 3u);
  std::map<std::string, int> reasons;
  for (const json& f : tcp) reasons[f.value("endReason", "")]++;
  EXPECT_EQ(reasons["fin"], 2);
  EXPECT_EQ(reasons["idle_timeout"], 1);
  const std::map<Endpoint, Sent> agent = Totals(tcp);
  const std::map<Endpoint, Sent> reference = TcpTotalsFromPcap(reference_, tcp_b, tcp_s);
  ASSERT_EQ(reference.count(tcp_b), 1u);
  ASSERT_EQ(reference.count(tcp_s), 1u);
  EXPECT_EQ(reference.at(tcp_b).bytes, kUp);
  EXPECT_EQ(reference.at(tcp_s).bytes, kDown);
  EXPECT_EQ(agent.at(tcp_b), reference.at(tcp_b)) << "client";
  EXPECT_EQ(agent.at(tcp_s), reference.at(tcp_s)) << "server";
  EXPECT_GE(reference.at(tcp_b).packets, 5u);  // SYN, ACK, 3 data segments, FIN, last ACK
  std::cout << "TCP: client " << agent.at(tcp_b) << ", server " << agent.at(tcp_s)
            << " (tcpdump: " << reference.at(tcp_b) << ", " << reference.at(tcp_s) << ")\n";

  // Blocking needs the eBPF blocklist.
  {
    std::string out;
    EXPECT_NE(Ctl({"block", lab_->peer_ip_a() + "/32"}, &out), 0) << out;
    EXPECT_NE(out.find("FAILED_PRECONDITION"), std::string::npos) << out;
    EXPECT_NE(out.find("pcap-live"), std::string::npos) << out;
  }

  // SIGTERM: a clean stop.
  daemon_->Signal(SIGTERM);
  const std::optional<int> status = daemon_->WaitExit(kDaemonStop);
  ASSERT_TRUE(status.has_value()) << "netguardd did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeWaitStatus(*status);
}

}  // namespace
}  // namespace netguard::e2e
