#include "detect/rules/builtin.h"

#include <algorithm>
#include <map>

namespace netguard::detect::rules {
namespace {

using namespace std::chrono_literals;

constexpr uint8_t kFin = NG_TCP_FIN, kSyn = NG_TCP_SYN, kRst = NG_TCP_RST, kPsh = NG_TCP_PSH,
                  kAck = NG_TCP_ACK, kUrg = NG_TCP_URG;
constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmp6 = 58;

bool HasPort(const RuleSpec& r, uint16_t port) {
  return std::find(r.ports.begin(), r.ports.end(), port) != r.ports.end();
}

// The first packet of a TCP flow with exactly these of the flags FIN SYN RST PSH ACK URG.
bool TcpFirst(const Event& e, uint8_t flags) {
  return e.proto == kTcp && (e.flags & (kFin | kSyn | kRst | kPsh | kAck | kUrg)) == flags;
}

bool SynOnly(const Event& e, const RuleSpec&) {
  return e.proto == kTcp && (e.flags & kSyn) && !(e.flags & kAck);
}
bool Udp(const Event& e, const RuleSpec&) { return e.proto == kUdp; }
bool FinScan(const Event& e, const RuleSpec&) { return TcpFirst(e, kFin); }
bool XmasScan(const Event& e, const RuleSpec&) { return TcpFirst(e, kFin | kPsh | kUrg); }
bool NullScan(const Event& e, const RuleSpec&) { return TcpFirst(e, 0); }
// A finished flow that is one bare ACK answered by one RST: an ACK probe of an unfiltered
// port. Connection tails open with a bare ACK too, once the FIN that ended a connection's flow
// has gone by: the other side's ACK and FIN, or the closing ACK alone, unanswered. (Probes of
// filtered ports, unanswered, look like the latter and are not counted.)
bool AckScan(const Event& e, const RuleSpec&) {
  if (!TcpFirst(e, kAck) || !e.flow) return false;
  const ng_dir_stats& fwd = e.flow->acc.dir[NG_DIR_FWD];
  const ng_dir_stats& bwd = e.flow->acc.dir[NG_DIR_BWD];
  constexpr int kRstBit = 2;
  return fwd.payload.count == 1 && fwd.data_pkts == 0 && bwd.payload.count == 1 &&
         bwd.flag_counts[kRstBit] == 1 && bwd.data_pkts == 0;
}
bool Icmp(const Event& e, const RuleSpec&) { return e.proto == kIcmp || e.proto == kIcmp6; }
bool SynOrUdp(const Event& e, const RuleSpec& r) { return SynOnly(e, r) || Udp(e, r); }
// ICMP other than echo replies: a host answering a ping flood is its victim, not a flooder.
bool IcmpNotReply(const Event& e, const RuleSpec& r) {
  if (!Icmp(e, r) || !e.sample) return false;
  return e.sample->icmp_type != (e.proto == kIcmp ? 0 : 129);
}

// A finished connection attempt (first packet a bare SYN) whose initiator sent no payload and
// at most a few packets: a probe. (The tail of a connection after the FIN that ended its flow,
// an ACK and a FIN, is a flow of its own with no payload, but not an attempt.)
bool Probe(const Event& e, const RuleSpec& r) {
  if (!SynOnly(e, r) || !e.flow) return false;
  const ng_dir_stats& fwd = e.flow->acc.dir[NG_DIR_FWD];
  return fwd.data_pkts == 0 && fwd.payload.count <= Param(r, "max_probe_packets", 3);
}

bool Reflected(const Event& e, const RuleSpec& r) {
  return e.proto == kUdp && HasPort(r, e.src_port) && !HasPort(r, e.dst_port);
}

// A finished TCP connection to an authentication port that the server answered, short-lived.
bool AuthAttempt(const Event& e, const RuleSpec& r) {
  if (e.proto != kTcp || !e.flow || !HasPort(r, e.dst_port)) return false;
  const ng_flow& f = e.flow->acc;
  return f.dir[NG_DIR_BWD].payload.count > 0 && f.dir[NG_DIR_FWD].flag_counts[1] > 0 &&
         e.duration_ms <= Param(r, "max_duration_s", 30) * 1000;
}

bool DnsTunnel(const Event& e, const RuleSpec& r) {
  if (!e.dns || e.dns->subdomain.empty()) return false;
  const uint16_t qtype = e.dns->qtype;
  if (qtype == 16 || qtype == 10) return true;  // TXT, NULL: the usual tunnel carriers
  if (e.dns->longest_label >= Param(r, "min_label_length", 24)) return true;
  return e.dns->subdomain.size() >= Param(r, "min_subdomain_length", 16) &&
         ShannonEntropy(e.dns->subdomain) >= Param(r, "min_entropy", 3.8);
}

bool Dga(const Event& e, const RuleSpec& r) {
  if (!e.dns) return false;
  const std::string& parent = e.dns->parent;
  const std::string sld = parent.substr(0, parent.find('.'));
  return sld.size() >= Param(r, "min_label_length", 10) &&
         ShannonEntropy(sld) >= Param(r, "min_entropy", 3.0);
}

bool Arp(const Event& e, const RuleSpec&) {
  return e.sample && e.sample->is_arp && e.sample->arp_ipv4 && e.sample->arp.sender_ip != 0;
}

bool GratuitousArp(const Event& e, const RuleSpec& r) {
  return Arp(e, r) && e.sample->arp.sender_ip == e.sample->arp.target_ip;
}

// A web connection, open or finished, that has lasted long while its client sent little:
// slowloris, slow POST.
bool SlowHttp(const Event& e, const RuleSpec& r) {
  if (e.proto != kTcp || !e.flow || !HasPort(r, e.dst_port)) return false;
  const double seconds = e.duration_ms / 1000;
  const auto sent = static_cast<double>(e.flow->acc.dir[NG_DIR_FWD].payload.sum);
  return seconds >= Param(r, "min_duration_s", 30) && sent > 0 &&
         sent / seconds <= Param(r, "max_bytes_per_s", 100);
}

bool Connection(const Event& e, const RuleSpec& r) {
  return (SynOnly(e, r) || e.proto == kUdp) && !HasPort(r, e.dst_port);
}

RuleSpec Make(std::string name, std::string kind, std::string cls, std::string technique,
              Trigger trigger, KeyBy key, Measure measure, uint32_t threshold,
              std::chrono::seconds window, std::string description) {
  RuleSpec r;
  r.name = std::move(name);
  r.kind = std::move(kind);
  r.alert_class = std::move(cls);
  r.technique = std::move(technique);
  r.trigger = trigger;
  r.key = key;
  r.measure = measure;
  r.threshold = threshold;
  r.window = window;
  r.description = std::move(description);
  return r;
}

const std::map<std::string, Predicate>& Predicates() {
  static const std::map<std::string, Predicate> kPredicates = {
      {"port_scan", SynOnly},       {"udp_scan", Udp},
      {"fin_scan", FinScan},        {"xmas_scan", XmasScan},
      {"null_scan", NullScan},      {"ack_scan", AckScan},
      {"ping_sweep", Icmp},         {"host_sweep", SynOrUdp},
      {"distributed_scan", Probe},  {"syn_flood", SynOnly},
      {"udp_flood", Udp},           {"icmp_flood", IcmpNotReply},
      {"volumetric_ddos", nullptr}, {"reflection_amplification", Reflected},
      {"brute_force", AuthAttempt}, {"credential_spraying", AuthAttempt},
      {"dns_tunnel", DnsTunnel},    {"dga", Dga},
      {"arp_spoof", Arp},           {"garp_storm", GratuitousArp},
      {"beaconing", Connection},    {"slow_http", SlowHttp},
      {"traffic_anomaly", nullptr},
  };
  return kPredicates;
}

bool Any(const Event&, const RuleSpec&) { return true; }

}  // namespace

double Param(const RuleSpec& rule, std::string_view key, double fallback) {
  auto it = rule.params.find(key);
  return it == rule.params.end() ? fallback : it->second;
}

Predicate BuiltinPredicate(const std::string& name) {
  auto it = Predicates().find(name);
  if (it == Predicates().end()) return nullptr;
  return it->second ? it->second : Any;
}

std::vector<RuleSpec> DefaultRules() {
  using T = Trigger;
  using K = KeyBy;
  using M = Measure;
  const std::vector<uint16_t> kAuthPorts = {21,   22,   23,   25,   110,  143,  389,
                                            445,  465,  587,  993,  995,  1433, 1521,
                                            3306, 3389, 5432, 5900, 5985, 6379, 27017};
  std::vector<RuleSpec> r;
  // Scans (T1046): distinct destinations of one source.
  r.push_back(Make("port_scan", "scan", "PortScan", "T1046", T::kFlowStart, K::kSource,
                   M::kDistinctTargets, 25, 60s,
                   "SYN and connect scans: TCP flows opened to many (host, port) targets"));
  r.push_back(Make("udp_scan", "scan", "PortScan", "T1046", T::kFlowStart, K::kSource,
                   M::kDistinctTargets, 25, 60s, "UDP flows to many (host, port) targets"));
  r.push_back(Make("fin_scan", "scan", "PortScan", "T1046", T::kFlowStart, K::kSource,
                   M::kDistinctTargets, 10, 60s, "flows that start with a bare FIN"));
  r.push_back(Make("xmas_scan", "scan", "PortScan", "T1046", T::kFlowStart, K::kSource,
                   M::kDistinctTargets, 10, 60s, "flows that start with FIN+PSH+URG"));
  r.push_back(Make("null_scan", "scan", "PortScan", "T1046", T::kFlowStart, K::kSource,
                   M::kDistinctTargets, 10, 60s, "TCP flows that start with no flag"));
  r.push_back(Make("ack_scan", "scan", "PortScan", "T1046", T::kFlowEnd, K::kSource,
                   M::kDistinctTargets, 25, 60s, "single bare ACKs answered by a RST"));
  r.push_back(Make("ping_sweep", "scan", "PortScan", "T1046", T::kFlowStart, K::kSource,
                   M::kDistinctHosts, 10, 60s, "ICMP to many hosts"));
  r.push_back(Make("host_sweep", "scan", "PortScan", "T1046", T::kFlowStart, K::kSourcePort,
                   M::kDistinctHosts, 20, 60s, "one port probed on many hosts"));
  r.push_back(Make("distributed_scan", "scan", "PortScan", "T1046", T::kFlowEnd, K::kDestination,
                   M::kDistinctSources, 20, 60s,
                   "many sources sending probes (no payload) to one target"));
  // Floods (T1498): rates per destination.
  r.push_back(Make("syn_flood", "flood", "DoS-Flood", "T1498", T::kFlowStart, K::kDestination,
                   M::kEvents, 2000, 10s, "TCP SYNs opening flows to one destination"));
  r.back().params = {{"dominant_share", 0.9}};
  r.push_back(Make("udp_flood", "flood", "DoS-Flood", "T1498", T::kPacket, K::kDestination,
                   M::kPackets, 50000, 10s, "UDP packets to one destination"));
  r.back().params = {{"dominant_share", 0.9}};
  r.push_back(Make("icmp_flood", "flood", "DoS-Flood", "T1498", T::kPacket, K::kDestination,
                   M::kPackets, 20000, 10s, "ICMP packets to one destination"));
  r.back().params = {{"dominant_share", 0.9}};
  r.push_back(Make("volumetric_ddos", "flood", "DoS-Flood", "T1498", T::kPacket, K::kDestination,
                   M::kDistinctSources, 100, 10s,
                   "many sources, over the destination's learned level, sending more than "
                   "min_bytes to one destination"));
  // Judged against the destination's EWMA baseline of sources (and bytes) per window too,
  // once warmup_windows windows are learned.
  r.back().params = {{"min_bytes", 100e6}, {"alpha", 0.1},         {"sigma", 4},
                     {"min_ratio", 2},     {"warmup_windows", 30}, {"learn_after_windows", 30}};
  r.push_back(Make("reflection_amplification", "flood", "DoS-Flood", "T1498", T::kFlowStart,
                   K::kDestination, M::kEvents, 200, 10s,
                   "UDP responses from amplifier ports that no request of the target opened"));
  r.back().ports = {19, 53, 123, 161, 389, 1900, 11211};
  // Authentication.
  r.push_back(Make("brute_force", "bruteforce", "BruteForce", "T1110", T::kFlowEnd,
                   K::kSourceDestination, M::kEvents, 30, 60s,
                   "many short connections from one source to one authentication service"));
  r.back().ports = kAuthPorts;
  r.back().params = {{"max_duration_s", 30}};
  r.push_back(Make("credential_spraying", "bruteforce", "BruteForce", "T1110.003", T::kFlowEnd,
                   K::kSourcePort, M::kDistinctHosts, 10, 300s,
                   "one source logging in to many hosts on the same authentication port"));
  r.back().ports = kAuthPorts;
  r.back().params = {{"max_duration_s", 30}};
  // DNS, from sampled queries.
  r.push_back(Make("dns_tunnel", "dns", "DNSTunnel", "T1071.004", T::kPacket, K::kSourceDomain,
                   M::kDistinctSubdomains, 20, 60s,
                   "long, high-entropy or TXT/NULL queries under one parent domain"));
  r.back().params = {{"min_label_length", 24}, {"min_subdomain_length", 16}, {"min_entropy", 3.8}};
  r.push_back(Make("dga", "dns", "DGA", "T1568.002", T::kPacket, K::kSource, M::kDistinctDomains,
                   20, 300s, "queries for many random-looking second-level domains"));
  r.back().params = {{"min_label_length", 10}, {"min_entropy", 3.0}};
  // ARP, from sampled ARP packets.
  r.push_back(Make("arp_spoof", "arp", "ARPSpoof", "T1557.002", T::kPacket, K::kArpAddress,
                   M::kEvents, 1, 300s, "an IPv4 address claimed by a new MAC address"));
  r.back().high_factor = 3;
  r.back().critical_factor = 10;
  r.push_back(Make("garp_storm", "arp", "ARPSpoof", "T1557.002", T::kPacket, K::kArpMac, M::kEvents,
                   20, 10s, "gratuitous ARP announcements from one MAC address"));
  // Slow HTTP (T1499): long, nearly silent client connections to one web server.
  // Open connections are seen at every sweep, so the rule fires while the attack holds them.
  r.push_back(Make("slow_http", "flood", "DoS-SlowHTTP", "T1499", T::kFlowOpen, K::kDestination,
                   M::kDistinctConnections, 20, 300s,
                   "long-lived web connections whose client sends under max_bytes_per_s"));
  r.back().ports = {80, 443, 8000, 8080, 8443};
  r.back().params = {{"min_duration_s", 30}, {"max_bytes_per_s", 100}};
  // Periodic connections.
  r.push_back(Make("beaconing", "beaconing", "Beaconing", "T1071", T::kFlowStart,
                   K::kSourceDestination, M::kHistory, 8, 3600s,
                   "connections from one host to one service at regular intervals"));
  r.back().ports = {53, 123};  // resolvers and NTP poll by design
  r.back().params = {{"max_jitter", 0.15}, {"min_interval_s", 1}};
  // Per-protocol rates of the sampled packets against their EWMA baseline (one bucket per
  // window; threshold: the least packets a bucket needs to be judged).
  r.push_back(Make("traffic_anomaly", "anomaly", "Anomaly", "", T::kPacket, K::kDestination,
                   M::kPackets, 10000, 10s,
                   "a protocol's packet or byte rate far above its learned baseline"));
  r.back().params = {
      {"alpha", 0.1}, {"sigma", 4}, {"warmup_buckets", 30}, {"learn_after_buckets", 6}};
  r.back().high_factor = 4;
  r.back().critical_factor = 16;
  return r;
}

}  // namespace netguard::detect::rules
