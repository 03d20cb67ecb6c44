// offline_features: offline pcap -> flows -> features on one core, in packets/s, next to
// ndpiReader and argus on the same captures in the same run.
//
// The captures are made at bench time in a temporary directory:
//   syn_flood  a random-source SYN flood (random source addresses and ports, one target,
//              exponential inter-arrival times around 2 us), written with pcap_dump;
//   http       curl fetching from a small HTTP server across the e2e lab's namespaces (veth,
//              offloads off), recorded by tcpdump on the server side: 2,000 requests of
//              200 kB, about 0.3 M packets, so that a run lasts long enough to time a rate;
//   mixed      a generated mix of TCP conversations, DNS over UDP, other UDP and ICMP echoes,
//              IPv4 and IPv6, interleaved in time.
// Before the runs each capture is left in the page cache as if read from disk (--page-cache read,
// the default) or as its writer left it (--page-cache written).
// Each tool runs as a process pinned to one CPU, --repeat times per file, interleaved; the best
// wall-clock time counts:
//   netguardd --read FILE --features cic2017 --flows-csv /dev/null --no-rules
//                                    (pcap -> flows -> features of every written flow)
//   the same without --no-rules      (the whole offline pipeline, the default rules included)
//   ndpiReader -i FILE -q            (libndpi-bin; output to /dev/null)
//   argus -X -r FILE -w /dev/null    (argus-server; -X: no /etc/argus.conf)
// Prints one JSON object. See docs/benchmarks.md.
#include <fcntl.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "http_server.h"
#include "netns_lab.h"
#include "support/packet_builder.h"
#include "traffic.h"

#ifndef NETGUARDD_PATH
#error "NETGUARDD_PATH must name the netguardd binary"
#endif

namespace netguard::bench {
namespace {

using e2e::ChildProcess;
using nlohmann::json;
using testing::PacketBuilder;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint64_t kEpochNs = 1700000000ULL * 1000000000ULL;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kPsh = 0x08, kAck = 0x10;

// A pcap file written with pcap_dump (Ethernet, microsecond timestamps).
class PcapWriter {
 public:
  explicit PcapWriter(const std::string& path) {
    dead_ = pcap_open_dead(DLT_EN10MB, 65535);
    dumper_ = pcap_dump_open(dead_, path.c_str());
    if (!dumper_) throw std::runtime_error(path + ": " + pcap_geterr(dead_));
  }
  ~PcapWriter() {
    if (dumper_) pcap_dump_close(dumper_);
    pcap_close(dead_);
  }
  void Write(const std::vector<uint8_t>& frame, uint64_t ts_ns) {
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<time_t>(ts_ns / 1000000000ULL);
    h.ts.tv_usec = static_cast<suseconds_t>(ts_ns % 1000000000ULL / 1000);
    h.caplen = h.len = static_cast<uint32_t>(frame.size());
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, frame.data());
    packets_++;
    bytes_ += frame.size();
  }
  uint64_t packets() const { return packets_; }
  uint64_t bytes() const { return bytes_; }

 private:
  pcap_t* dead_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
  uint64_t packets_ = 0, bytes_ = 0;
};

std::string Ipv4Text(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

// (a) Random-source SYN flood at about 500k packets/s.
void WriteSynFlood(const std::string& path, uint64_t packets) {
  std::mt19937_64 rng(20170707);
  std::exponential_distribution<double> gap_us(0.5);  // mean 2 us
  std::uniform_int_distribution<uint32_t> addr(0x01000000u, 0xdfffffffu);
  std::uniform_int_distribution<uint32_t> port(1024, 65535);
  std::uniform_int_distribution<uint32_t> window(512, 65535);
  PcapWriter out(path);
  double t_us = 0;
  for (uint64_t i = 0; i < packets; i++) {
    t_us += gap_us(rng);
    const auto frame =
        PacketBuilder()
            .Ip(Ipv4Text(addr(rng)), "192.0.2.80")
            .Tcp(static_cast<uint16_t>(port(rng)), 80, kSyn, static_cast<uint16_t>(window(rng)))
            .Build();
    out.Write(frame, kEpochNs + static_cast<uint64_t>(t_us * 1000));
  }
}

// (c) A mix of conversations, interleaved: TCP (handshake, data both ways, FINs), DNS query and
// answer, other UDP, ICMP echoes; one flow in five over IPv6.
void WriteMixed(const std::string& path, uint64_t flows) {
  std::mt19937_64 rng(4242);
  struct Pkt {
    uint64_t ts_ns;
    std::vector<uint8_t> frame;
  };
  std::vector<Pkt> all;
  std::uniform_int_distribution<int> kind(0, 99), small(1, 12), bytes(0, 1460), host(1, 250);
  std::uniform_int_distribution<uint32_t> port(1024, 65535);
  std::exponential_distribution<double> start_gap_us(1.0 / 50);  // a new flow every ~50 us
  std::exponential_distribution<double> rtt_us(1.0 / 300);
  double start_us = 0;
  for (uint64_t f = 0; f < flows; f++) {
    start_us += start_gap_us(rng);
    const bool v6 = kind(rng) < 20;
    const int h = host(rng), s = host(rng);
    const std::string client =
        v6 ? "2001:db8:1::" + std::to_string(h) : "10.1.0." + std::to_string(h);
    const std::string server =
        v6 ? "2001:db8:2::" + std::to_string(s) : "10.2.0." + std::to_string(s);
    const auto cport = static_cast<uint16_t>(port(rng));
    double t = start_us;
    auto add = [&](PacketBuilder b) {
      t += rtt_us(rng);
      all.push_back({kEpochNs + static_cast<uint64_t>(t * 1000), b.Build()});
    };
    const int k = kind(rng);
    if (k < 50) {  // TCP
      const uint16_t sp = k < 25 ? 443 : 80;
      add(PacketBuilder().Ip(client, server).Tcp(cport, sp, kSyn, 64240, 12));
      add(PacketBuilder().Ip(server, client).Tcp(sp, cport, kSyn | kAck, 65160, 12));
      add(PacketBuilder().Ip(client, server).Tcp(cport, sp, kAck, 502));
      for (int i = small(rng); i > 0; i--) {
        add(PacketBuilder()
                .Ip(client, server)
                .Tcp(cport, sp, kPsh | kAck, 502)
                .Payload(static_cast<size_t>(bytes(rng) / 4)));
        for (int j = small(rng) / 3 + 1; j > 0; j--)
          add(PacketBuilder()
                  .Ip(server, client)
                  .Tcp(sp, cport, kAck, 509)
                  .Payload(static_cast<size_t>(bytes(rng))));
        add(PacketBuilder().Ip(client, server).Tcp(cport, sp, kAck, 502));
      }
      add(PacketBuilder().Ip(client, server).Tcp(cport, sp, kFin | kAck, 502));
      add(PacketBuilder().Ip(server, client).Tcp(sp, cport, kFin | kAck, 509));
      add(PacketBuilder().Ip(client, server).Tcp(cport, sp, kAck, 502));
    } else if (k < 75) {  // DNS
      add(PacketBuilder()
              .Ip(client, server)
              .Udp(cport, 53)
              .Payload(static_cast<size_t>(30 + small(rng) * 3)));
      add(PacketBuilder()
              .Ip(server, client)
              .Udp(53, cport)
              .Payload(static_cast<size_t>(60 + bytes(rng) / 6)));
    } else if (k < 90) {  // other UDP (e.g. a media or QUIC-like stream)
      for (int i = small(rng); i > 0; i--) {
        add(PacketBuilder()
                .Ip(client, server)
                .Udp(cport, 4433)
                .Payload(static_cast<size_t>(bytes(rng))));
        add(PacketBuilder()
                .Ip(server, client)
                .Udp(4433, cport)
                .Payload(static_cast<size_t>(bytes(rng))));
      }
    } else {  // ICMP echo request/reply
      for (int i = 0; i < 3; i++) {
        add(PacketBuilder().Ip(client, server).Icmp(v6 ? 128 : 8).Payload(56));
        add(PacketBuilder().Ip(server, client).Icmp(v6 ? 129 : 0).Payload(56));
      }
    }
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const Pkt& a, const Pkt& b) { return a.ts_ns < b.ts_ns; });
  PcapWriter out(path);
  for (const Pkt& p : all) out.Write(p.frame, p.ts_ns);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// (b) curl in the peer namespace fetching `requests` times from an HTTP server in the sensor
// namespace, recorded by tcpdump on the sensor's veth. Bounded: curl 120 s, tcpdump stop 5 s.
void RecordHttp(const std::string& path, const std::string& dir, int requests, size_t body) {
  e2e::NetnsLab lab;
  e2e::HttpServer server(lab.sensor().fd(), lab.sensor_ip(), std::string(body, 'x'));
  const std::string log = dir + "/tcpdump.log";
  ChildProcess tcpdump({"/usr/bin/tcpdump", "-i", lab.sensor_if(), "-n", "-U", "-w", path},
                       {.netns_fd = lab.sensor().fd(), .output_path = log});
  if (!e2e::WaitFor([&] { return ReadText(log).find("listening on") != std::string::npos; },
                    milliseconds(5000), milliseconds(20))) {
    throw std::runtime_error("tcpdump did not start: " + ReadText(log));
  }
  const std::string url = "http://" + lab.sensor_ip() + ":" + std::to_string(server.port()) + "/";
  std::vector<std::string> argv = {"ip",  "netns", "exec", lab.peer().name(), "timeout",
                                   "120", "curl",  "-sS",  "--noproxy",       "*"};
  for (int i = 0; i < requests; i++) {
    argv.insert(argv.end(), {"-o", "/dev/null", url});
  }
  std::string output;
  const int rc = e2e::RunCommand(argv, &output);
  tcpdump.Signal(SIGINT);
  if (!tcpdump.WaitExit(milliseconds(5000))) throw std::runtime_error("tcpdump did not stop");
  if (rc != 0) throw std::runtime_error("curl failed (" + std::to_string(rc) + "): " + output);
}

// Leaves `path` in the page cache as a capture read from disk: written back, dropped, read once
// with read(2) (so readahead fills the cache, in large folios on kernels that have them).
// Without it the cache holds the file as its writer left it (tcpdump, pcap_dump: 4 KiB writes,
// small folios), which makes mapping the file several times dearer (docs/benchmarks.md).
void SettleAsRead(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": cannot open");
  std::vector<char> buffer(size_t{1} << 20);
  const bool ok = fdatasync(fd) == 0 && posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ssize_t n = 0;
  while (ok && (n = read(fd, buffer.data(), buffer.size())) > 0) {
  }
  close(fd);
  if (!ok || n < 0) throw std::runtime_error(path + ": cannot settle the page cache");
}

struct FileStats {
  uint64_t packets = 0, bytes = 0;
};
FileStats CountPackets(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (!p) throw std::runtime_error(path + ": " + err);
  FileStats s;
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) {
    s.packets++;
    s.bytes += h->len;
  }
  pcap_close(p);
  return s;
}

// One wall-clock run of argv in seconds (output to /dev/null); throws when the run fails or
// takes longer than `limit`.
double RunSeconds(const std::vector<std::string>& argv, milliseconds limit) {
  const auto t0 = Clock::now();
  ChildProcess child(argv, {.output_path = "/dev/null"});
  const std::optional<int> status = child.WaitExit(limit);
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!status) throw std::runtime_error(argv[0] + " took longer than the limit");
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
    throw std::runtime_error(argv[0] + " failed: " + e2e::DescribeWaitStatus(*status));
  return s;
}

}  // namespace
}  // namespace netguard::bench

int main(int argc, char** argv) {
  using namespace netguard::bench;
  CLI::App app("offline pcap -> flows -> features: netguardd --read vs ndpiReader vs argus");
  uint64_t syn_packets = 600000, mixed_flows = 30000;
  int http_requests = 2000, repeat = 3, cpu = 1;
  size_t http_body = 200000;
  bool keep = false;
  std::string dir, page_cache = "read";
  app.add_option("--syn-packets", syn_packets, "SYN flood packets")->check(CLI::Range(1, 50000000));
  app.add_option("--mixed-flows", mixed_flows, "Flows of the mixed capture");
  app.add_option("--http-requests", http_requests, "curl requests of the HTTP capture (0: skip)")
      ->check(CLI::Range(0, 5000));
  app.add_option("--http-body", http_body, "HTTP response body bytes");
  app.add_option("--repeat", repeat, "Runs per tool and file (best counts)")
      ->check(CLI::Range(1, 20));
  app.add_option("--cpu", cpu, "CPU every tool is pinned to");
  app.add_option("--dir", dir, "Directory for the captures (default: a new one under /tmp)");
  app.add_flag("--keep", keep, "Keep the captures");
  app.add_option("--page-cache", page_cache,
                 "Captures in the page cache as read from disk (read) or as written (written)")
      ->check(CLI::IsMember({"read", "written"}));
  CLI11_PARSE(app, argc, argv);

  bool made_dir = false;
  if (dir.empty()) {
    char tmpl[] = "/tmp/ngbench-offline-XXXXXX";
    if (!mkdtemp(tmpl)) {
      perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
    made_dir = true;
  }
  std::filesystem::create_directories(dir);
  int rc = 0;
  try {
    const std::vector<std::pair<std::string, std::string>> files = {
        {"syn_flood", dir + "/syn_flood.pcap"},
        {"http", dir + "/http.pcap"},
        {"mixed", dir + "/mixed.pcap"}};
    std::cerr << "writing captures to " << dir << "\n";
    WriteSynFlood(files[0].second, syn_packets);
    if (http_requests > 0) {
      if (geteuid() != 0) throw std::runtime_error("the HTTP capture needs root (namespaces)");
      RecordHttp(files[1].second, dir, http_requests, http_body);
    }
    WriteMixed(files[2].second, mixed_flows);

    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) throw std::runtime_error("sched_setaffinity");

    json out;
    out["cpu"] = cpu;
    out["repeat"] = repeat;
    out["timing"] = "best wall-clock of the process run, packets / seconds";
    out["page_cache"] = page_cache;
    const milliseconds limit(300000);
    for (const auto& [name, path] : files) {
      if (!std::filesystem::exists(path)) continue;
      if (page_cache == "read") SettleAsRead(path);
      const FileStats st = CountPackets(path);
      json f;
      f["packets"] = st.packets;
      f["bytes"] = st.bytes;
      // netguardd: the path, pcap -> flows -> features (the flows CSV); with_rules: the
      // whole offline pipeline, the 23 default rules on every flow and packet sample as well.
      const std::vector<std::string> ng = {NETGUARDD_PATH, "--read",    path,
                                           "--features",   "cic2017",   "--flows-csv",
                                           "/dev/null",    "--no-rules"};
      std::vector<std::string> ng_rules(ng.begin(), ng.end() - 1);
      const std::vector<std::pair<std::string, std::vector<std::string>>> tools = {
          {"netguardd", ng},
          {"netguardd_with_rules", ng_rules},
          {"ndpiReader", {"/usr/bin/ndpiReader", "-i", path, "-q"}},
          {"argus", {"/usr/sbin/argus", "-X", "-r", path, "-w", "/dev/null"}},
          // the floor of any reader that read(2)s the capture, as libpcap does: the file alone
          {"read_floor", {"/usr/bin/dd", "if=" + path, "of=/dev/null", "bs=1M", "status=none"}}};
      // Runs interleaved round-robin, so that load from other processes hits every tool alike.
      std::vector<double> best(tools.size(), 1e100);
      for (int r = 0; r < repeat; r++) {
        for (size_t t = 0; t < tools.size(); t++) {
          std::cerr << name << ": " << tools[t].first << " (run " << r + 1 << ")\n";
          best[t] = std::min(best[t], RunSeconds(tools[t].second, limit));
        }
      }
      for (size_t t = 0; t < tools.size(); t++) {
        f["tools"][tools[t].first] = {{"seconds", best[t]},
                                      {"packets_per_s", static_cast<double>(st.packets) / best[t]}};
      }
      const auto pps = [&](const char* tool) {
        return f["tools"][tool]["packets_per_s"].get<double>();
      };
      f["ratio_vs_ndpiReader"] = pps("netguardd") / pps("ndpiReader");
      f["ratio_vs_argus"] = pps("netguardd") / pps("argus");
      f["with_rules_ratio_vs_ndpiReader"] = pps("netguardd_with_rules") / pps("ndpiReader");
      // The best ratio a tool doing nothing but read the file could reach.
      f["read_floor_ratio_vs_ndpiReader"] = pps("read_floor") / pps("ndpiReader");
      f["goal_2M_pps"] = pps("netguardd") >= 2e6;
      f["goal_3x_ndpiReader"] = f["ratio_vs_ndpiReader"].get<double>() >= 3.0;
      out["files"][name] = f;
    }
    std::cout << out.dump(2) << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "offline_features: " << e.what() << "\n";
    rc = 1;
  }
  if (made_dir && !keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return rc;
}
