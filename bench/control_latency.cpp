// control_latency: how fast the control plane reacts, against the real netguardd attached to the
// sensor veth of a two-namespace lab (tests/e2e/netns_lab.h). Prints one JSON object.
//
//   (i)  alert latency: a client streams StreamAlerts over the unix socket; each run sends a
//        burst of SYNs to `--ports` distinct closed ports from a fresh source address of the
//        peer (raw IPPROTO_RAW socket), and measures first SYN sent -> PortScan alert received.
//        Goal: p99 <= 100 ms.
//  (ii)  block latency: source A streams sequenced UDP datagrams (one per 50 us, at most 2 s) to
//        a receiver in the sensor namespace; the Block RPC for A/32 is made mid-stream.
//        latency = send time of the last datagram received - time the RPC returned (0 when
//        nothing sent after the return got through). Goal: p99 <= 1 ms.
//
//   sudo ./build/bench/control_latency [--alert-runs 100] [--block-runs 50]
//
// Needs root (namespaces, BPF). All traffic stays between the lab's two namespaces; the lab,
// the pinned maps and the state directory are removed on exit, and by the next run's stale
// sweep if this process is killed.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "netguard/v1/netguard.grpc.pb.h"
#include "netns_lab.h"
#include "traffic.h"

#ifndef NETGUARDD_PATH
#error "NETGUARDD_PATH must name the netguardd binary"
#endif

namespace {

using netguard::e2e::BoundSocket;
using netguard::e2e::ChildProcess;
using netguard::e2e::Fd;
using netguard::e2e::Ipv4;
using netguard::e2e::LocalPort;
using netguard::e2e::NetnsLab;
using netguard::e2e::PinDir;
using netguard::e2e::RecvDatagram;
using netguard::e2e::RunCommandOrThrow;
using netguard::e2e::SendDatagram;
using netguard::e2e::SocketIn;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr uint32_t kDistinctPorts = 20;  // port_scan.distinct_ports of the bench's config
constexpr microseconds kUdpInterval{50};
constexpr milliseconds kUdpMaxStream{2000};
constexpr milliseconds kBeforeBlock{150};  // stream this long before the Block RPC ...
constexpr milliseconds kAfterBlock{150};   // ... and this long after it returns

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

/// Nearest-rank percentile of an unsorted sample.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

json Summary(const std::vector<double>& v) {
  if (v.empty()) return {{"runs", 0}};
  return {{"runs", v.size()},
          {"p50", Percentile(v, 50)},
          {"p99", Percentile(v, 99)},
          {"min", *std::min_element(v.begin(), v.end())},
          {"max", *std::max_element(v.begin(), v.end())}};
}

std::vector<double> Rounded(const std::vector<double>& v) {
  std::vector<double> out;
  for (double x : v) out.push_back(std::round(x * 100) / 100);
  return out;
}

uint16_t Checksum(const void* data, size_t len, uint32_t sum = 0) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len % 2) sum += static_cast<uint32_t>(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

/// An IPv4+TCP SYN from src:sport to dst:dport (the kernel fills the IP checksum and id).
std::vector<uint8_t> Syn(in_addr src, in_addr dst, uint16_t sport, uint16_t dport, uint32_t seq) {
  std::vector<uint8_t> packet(sizeof(iphdr) + sizeof(tcphdr), 0);
  auto* ip = reinterpret_cast<iphdr*>(packet.data());
  ip->version = 4;
  ip->ihl = 5;
  ip->tot_len = htons(static_cast<uint16_t>(packet.size()));
  ip->ttl = 64;
  ip->protocol = IPPROTO_TCP;
  ip->saddr = src.s_addr;
  ip->daddr = dst.s_addr;
  auto* tcp = reinterpret_cast<tcphdr*>(packet.data() + sizeof(iphdr));
  tcp->source = htons(sport);
  tcp->dest = htons(dport);
  tcp->seq = htonl(seq);
  tcp->doff = 5;
  tcp->syn = 1;
  tcp->window = htons(64240);
  // Pseudo-header: addresses, protocol, TCP length.
  uint8_t pseudo[12];
  std::memcpy(pseudo, &ip->saddr, 4);
  std::memcpy(pseudo + 4, &ip->daddr, 4);
  pseudo[8] = 0;
  pseudo[9] = IPPROTO_TCP;
  pseudo[10] = 0;
  pseudo[11] = sizeof(tcphdr);
  uint32_t sum = 0;
  for (size_t i = 0; i < sizeof(pseudo); i += 2) {
    sum += static_cast<uint32_t>(pseudo[i] << 8 | pseudo[i + 1]);
  }
  tcp->check = htons(Checksum(tcp, sizeof(tcphdr), sum));
  return packet;
}

/// Receives alerts on a StreamAlerts call in a thread and remembers when each source's first
/// alert arrived.
class AlertFollower {
 public:
  explicit AlertFollower(netguard::v1::NetGuard::Stub& stub) : stub_(stub) {
    thread_ = std::thread([this] { Run(); });
  }
  ~AlertFollower() {
    context_.TryCancel();
    thread_.join();
  }

  /// Time the first PortScan alert from `src` arrived, waiting up to `timeout`.
  std::optional<Clock::time_point> WaitFor(const std::string& src, milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return arrived_.count(src) > 0 || ended_; });
    const auto it = arrived_.find(src);
    if (it == arrived_.end()) return std::nullopt;
    return it->second;
  }

 private:
  void Run() {
    netguard::v1::StreamAlertsRequest request;
    request.set_alert_class("PortScan");
    std::unique_ptr<grpc::ClientReader<netguard::v1::Alert>> reader =
        stub_.StreamAlerts(&context_, request);
    netguard::v1::Alert alert;
    while (reader->Read(&alert)) {
      const Clock::time_point now = Clock::now();
      std::lock_guard lock(mu_);
      arrived_.try_emplace(alert.src_addr(), now);
      cv_.notify_all();
    }
    reader->Finish();
    std::lock_guard lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }

  netguard::v1::NetGuard::Stub& stub_;
  grpc::ClientContext context_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Clock::time_point> arrived_;
  bool ended_ = false;
  std::thread thread_;
};

/// Everything the bench starts, torn down in reverse order also on an exception.
struct Bench {
  NetnsLab lab;
  PinDir pins{"bench"};
  std::string state = "/tmp/" + NetnsLab::Tag() + "-bench";
  std::string socket = state + "/netguard.sock";
  std::string log = state + "/netguardd.log";
  std::unique_ptr<ChildProcess> daemon;

  Bench() {
    std::filesystem::remove_all(state);
    std::filesystem::create_directories(state);
    std::ofstream config(state + "/netguard.yaml");
    config << "flows:\n  idle_timeout: 2s\n  sweep_interval: 200ms\n"
              "port_scan:\n  enabled: true\n  window: 60s\n  distinct_ports: "
           << kDistinctPorts << "\n";
  }
  ~Bench() {
    if (daemon) {
      daemon->Signal(SIGTERM);
      daemon->WaitExit(milliseconds(15000));
      daemon.reset();
    }
    std::error_code ec;
    std::filesystem::remove_all(state, ec);
  }

  void DumpLog() const {
    std::ifstream in(log);
    std::cerr << "---- " << log << " ----\n" << in.rdbuf() << "\n";
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"control_latency: port-scan alert latency and block latency of netguardd"};
  int alert_runs = 100;
  int block_runs = 50;
  cli.add_option("--alert-runs", alert_runs, "Measured port-scan runs")->check(CLI::Range(1, 200));
  cli.add_option("--block-runs", block_runs, "Measured block runs")->check(CLI::Range(1, 1000));
  CLI11_PARSE(cli, argc, argv);
  if (geteuid() != 0) {
    std::cerr << "control_latency: run as root (namespaces, BPF)\n";
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  std::optional<Bench> bench;
  try {
    bench.emplace();
    NetnsLab& lab = bench->lab;
    const int sensor = lab.sensor().fd();
    const int peer = lab.peer().fd();
    const std::string subnet = lab.sensor_ip().substr(0, lab.sensor_ip().rfind('.') + 1);

    bench->daemon = std::make_unique<ChildProcess>(
        std::vector<std::string>{NETGUARDD_PATH, "--config", bench->state + "/netguard.yaml", "-i",
                                 lab.sensor_if(), "--bpf-pin-dir", bench->pins.path(), "--store",
                                 bench->state + "/netguard.db", "--socket", bench->socket},
        ChildProcess::Options{.netns_fd = sensor, .output_path = bench->log});
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel("unix:" + bench->socket, grpc::InsecureChannelCredentials());
    std::unique_ptr<netguard::v1::NetGuard::Stub> stub = netguard::v1::NetGuard::NewStub(channel);
    {
      bool ready = false;
      const auto deadline = Clock::now() + milliseconds(20000);
      while (!ready && Clock::now() < deadline && bench->daemon->Running()) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + milliseconds(500));
        netguard::v1::Status status;
        if (stub->GetStatus(&context, netguard::v1::GetStatusRequest(), &status).ok()) {
          for (const auto& i : status.interfaces()) ready |= i.tc_egress();
        }
        if (!ready) std::this_thread::sleep_for(milliseconds(100));
      }
      if (!ready) throw std::runtime_error("netguardd did not come up");
    }

    // Neighbours resolved both ways before anything is timed.
    Fd udp_server = BoundSocket(sensor, SOCK_DGRAM, lab.sensor_ip(), 0);
    const uint16_t udp_port = LocalPort(udp_server.get());
    Fd from_a = BoundSocket(peer, SOCK_DGRAM, lab.peer_ip_a(), 0);
    // Room for 2 s of the block runs' stream: a receiver descheduled for a while must not lose
    // datagrams to a full socket buffer (that would look like an early block).
    const int rcvbuf = 32 << 20;
    if (setsockopt(udp_server.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) {
      throw std::system_error(errno, std::generic_category(), "SO_RCVBUFFORCE");
    }
    {
      Fd from_b = BoundSocket(peer, SOCK_DGRAM, lab.peer_ip_b(), 0);
      const std::string e1 = netguard::e2e::UdpRoundTrip(from_b.get(), udp_server.get(),
                                                         lab.sensor_ip(), udp_port, 16);
      const std::string e2 = netguard::e2e::UdpRoundTrip(from_a.get(), udp_server.get(),
                                                         lab.sensor_ip(), udp_port, 16);
      if (!e1.empty() || !e2.empty()) throw std::runtime_error("warm-up echo: " + e1 + e2);
    }

    // ---- (i) alert latency ----
    // Sources .10, .11, ... of the lab's /24 (run 0 is a warm-up), added to the peer so the
    // sensor's RSTs resolve and nobody ARPs in vain.
    std::vector<std::string> sources;
    for (int i = 0; i <= alert_runs; ++i) {
      sources.push_back(subnet + std::to_string(10 + i));
      RunCommandOrThrow({"ip", "-n", lab.peer().name(), "addr", "add", sources.back() + "/24",
                         "dev", lab.peer_if()});
    }
    Fd raw = SocketIn(peer, AF_INET, SOCK_RAW, IPPROTO_RAW);
    const in_addr sensor_addr = Ipv4(lab.sensor_ip());
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr = sensor_addr;
    std::vector<double> alert_ms;
    int alert_missed = 0;
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> gap(0, 19'999);  // us
    {
      AlertFollower follower(*stub);
      for (int run = 0; run <= alert_runs; ++run) {
        const in_addr src = Ipv4(sources[run]);
        std::vector<std::vector<uint8_t>> burst;
        for (uint32_t p = 0; p < kDistinctPorts; ++p) {
          burst.push_back(Syn(src, sensor_addr, static_cast<uint16_t>(40000 + p),
                              static_cast<uint16_t>(2000 + p), 0x1000u * (run + 1) + p));
        }
        const Clock::time_point first = Clock::now();
        for (const std::vector<uint8_t>& syn : burst) {
          if (sendto(raw.get(), syn.data(), syn.size(), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof(to)) != static_cast<ssize_t>(syn.size())) {
            throw std::system_error(errno, std::generic_category(), "send SYN");
          }
        }
        // The warm-up run may wait for the stream to open; measured runs get 2 s.
        const std::optional<Clock::time_point> got =
            follower.WaitFor(sources[run], milliseconds(run == 0 ? 10000 : 2000));
        if (run == 0) {
          if (!got) throw std::runtime_error("no alert for the warm-up scan");
        } else if (got) {
          alert_ms.push_back(Ms(*got - first));
        } else {
          ++alert_missed;
        }
        // A random gap: the agent reads the ring on a 10 ms timer, and a fixed cadence would
        // lock the bursts to one phase of it.
        std::this_thread::sleep_for(microseconds(50'000 + gap(rng)));
      }
    }

    // ---- (ii) block latency ----
    const std::string a32 = lab.peer_ip_a() + "/32";
    std::vector<double> block_ms;
    std::vector<double> rpc_ms;
    std::vector<double> enforced_after_call_ms;  // first lost datagram's send - call start
    uint64_t lost_before_block = 0;
    int passed_after_return = 0;  // runs in which a datagram sent after the return got through
    const size_t max_packets = kUdpMaxStream / kUdpInterval;
    std::vector<Clock::time_point> sent_at(max_packets);
    for (int run = 0; run < block_runs; ++run) {
      std::atomic<bool> stop_sender{false};
      std::atomic<bool> stop_receiver{false};
      std::atomic<int64_t> last_received{-1};
      std::atomic<uint64_t> received{0};
      size_t sent = 0;
      std::thread receiver([&] {
        char buf[64];
        while (!stop_receiver) {
          pollfd p{.fd = udp_server.get(), .events = POLLIN, .revents = 0};
          if (poll(&p, 1, 5) <= 0) continue;
          for (;;) {
            const ssize_t n = recv(udp_server.get(), buf, sizeof(buf), MSG_DONTWAIT);
            if (n < 8) break;
            int64_t seq;
            std::memcpy(&seq, buf, 8);
            received.fetch_add(1);
            if (seq > last_received) last_received = seq;
          }
        }
      });
      std::thread sender([&] {
        sockaddr_in dst{};
        dst.sin_family = AF_INET;
        dst.sin_addr = sensor_addr;
        dst.sin_port = htons(udp_port);
        const Clock::time_point start = Clock::now();
        for (size_t seq = 0; seq < max_packets && !stop_sender; ++seq) {
          const Clock::time_point due = start + seq * kUdpInterval;
          while (Clock::now() < due) {
          }
          char payload[32] = {};
          const int64_t s = static_cast<int64_t>(seq);
          std::memcpy(payload, &s, 8);
          sent_at[seq] = Clock::now();
          sendto(from_a.get(), payload, sizeof(payload), 0, reinterpret_cast<sockaddr*>(&dst),
                 sizeof(dst));
          sent = seq + 1;
        }
      });
      std::this_thread::sleep_for(kBeforeBlock);
      netguard::v1::BlockRequest request;
      request.set_prefix(a32);
      request.set_ttl_seconds(600);
      request.set_reason("control_latency");
      netguard::v1::BlockEntry entry;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + milliseconds(5000));
      const Clock::time_point call = Clock::now();
      const grpc::Status status = stub->Block(&context, request, &entry);
      const Clock::time_point returned = Clock::now();
      std::this_thread::sleep_for(kAfterBlock);
      stop_sender = true;
      sender.join();
      std::this_thread::sleep_for(milliseconds(50));  // in-flight datagrams
      stop_receiver = true;
      receiver.join();
      if (!status.ok()) throw std::runtime_error("Block: " + status.error_message());

      const int64_t last = last_received;
      size_t sent_before_return = 0;
      while (sent_before_return < sent && sent_at[sent_before_return] < returned) {
        ++sent_before_return;
      }
      if (last < 0 || static_cast<size_t>(last) + 1 >= sent) {
        throw std::runtime_error("run " + std::to_string(run) + ": nothing was dropped");
      }
      const double latency = Ms(sent_at[static_cast<size_t>(last)] - returned);
      if (latency > 0) ++passed_after_return;
      block_ms.push_back(std::max(0.0, latency));
      rpc_ms.push_back(Ms(returned - call));
      enforced_after_call_ms.push_back(Ms(sent_at[static_cast<size_t>(last) + 1] - call));
      lost_before_block += static_cast<uint64_t>(last + 1) - received.load();

      // Unblock, and wait until A gets through again before the next run.
      grpc::ClientContext unblock_context;
      unblock_context.set_deadline(std::chrono::system_clock::now() + milliseconds(5000));
      netguard::v1::UnblockRequest unblock;
      unblock.set_prefix(a32);
      netguard::v1::UnblockResponse unblocked;
      const grpc::Status u = stub->Unblock(&unblock_context, unblock, &unblocked);
      if (!u.ok()) throw std::runtime_error("Unblock: " + u.error_message());
      std::string data;
      while (RecvDatagram(udp_server.get(), &data, milliseconds(0))) {
      }
      const std::string echo = netguard::e2e::UdpRoundTrip(from_a.get(), udp_server.get(),
                                                           lab.sensor_ip(), udp_port, 16);
      if (!echo.empty()) throw std::runtime_error("A after unblock: " + echo);
    }

    netguard::v1::Status final_status;
    {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + milliseconds(5000));
      stub->GetStatus(&context, netguard::v1::GetStatusRequest(), &final_status);
    }

    json out = {
        {"bench", "control_latency"},
        {"alert_latency_ms", Summary(alert_ms)},
        {"alert_latency_all_ms", Rounded(alert_ms)},
        {"alert_missed", alert_missed},
        {"alert_syns_per_run", kDistinctPorts},
        {"block_latency_ms", Summary(block_ms)},
        {"block_runs_with_packets_after_return", passed_after_return},
        {"block_rpc_ms", Summary(rpc_ms)},
        {"block_enforced_after_call_start_ms", Summary(enforced_after_call_ms)},
        {"udp_lost_before_block", lost_before_block},
        {"udp_interval_us", kUdpInterval.count()},
        {"ring_drops", final_status.ring_drops()},
        {"goals",
         {{"alert_p99_ms", 100},
          {"alert_ok", alert_missed == 0 && Percentile(alert_ms, 99) <= 100},
          {"block_p99_ms", 1},
          {"block_ok", Percentile(block_ms, 99) <= 1}}},
    };
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "control_latency: " << e.what() << "\n";
    if (bench) bench->DumpLog();
    return 1;
  }
}
