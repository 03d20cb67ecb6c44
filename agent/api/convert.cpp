#include "api/convert.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "core/flow_record.h"

namespace netguard::api {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The filters every alert request shares: address, class, minimum severity.
grpc::Status AlertFilters(const std::string& address, const std::string& alert_class,
                          v1::Severity min_severity, store::AlertQuery* query) {
  if (!address.empty()) {
    std::optional<std::string> canonical = CanonicalAddress(address);
    if (!canonical) return Invalid("address: '" + address + "' is not an IPv4 or IPv6 address");
    query->address = *canonical;
  }
  query->alert_class = alert_class;
  if (min_severity != v1::SEVERITY_UNSPECIFIED) {
    query->min_severity = FromProto(min_severity);
    if (!query->min_severity) {
      return Invalid("min_severity: unknown value " + std::to_string(min_severity));
    }
  }
  return grpc::Status::OK;
}

grpc::Status FlowFilters(const std::string& address, uint32_t port, const std::string& protocol,
                         store::FlowQuery* query) {
  if (!address.empty()) {
    std::optional<std::string> canonical = CanonicalAddress(address);
    if (!canonical) return Invalid("address: '" + address + "' is not an IPv4 or IPv6 address");
    query->address = *canonical;
  }
  if (port > 65535) return Invalid("port: " + std::to_string(port) + " is not a port (0..65535)");
  query->port = static_cast<uint16_t>(port);
  if (!protocol.empty()) {
    std::optional<uint8_t> proto = ParseProtocol(protocol);
    if (!proto) {
      return Invalid("protocol: '" + protocol + "' is not TCP, UDP, ICMP, ICMPv6 or 0..255");
    }
    query->protocol = *proto;
  }
  return grpc::Status::OK;
}

// since/until of a List* request; INVALID_ARGUMENT when the range is empty by construction.
grpc::Status TimeRange(bool has_since, const google::protobuf::Timestamp& since, bool has_until,
                       const google::protobuf::Timestamp& until, int64_t* since_ns,
                       int64_t* until_ns) {
  *since_ns = has_since ? FromTimestamp(since) : 0;
  *until_ns = has_until ? FromTimestamp(until) : 0;
  if (has_since && has_until && *since_ns >= *until_ns) {
    return Invalid("since must be before until");
  }
  return grpc::Status::OK;
}

}  // namespace

google::protobuf::Timestamp ToTimestamp(int64_t ns) {
  google::protobuf::Timestamp ts;
  int64_t seconds = ns / kNsPerSecond;
  int64_t nanos = ns % kNsPerSecond;
  if (nanos < 0) {
    nanos += kNsPerSecond;
    --seconds;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(nanos));
  return ts;
}

int64_t FromTimestamp(const google::protobuf::Timestamp& ts) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (ts.seconds() > kMax / kNsPerSecond - 1) return kMax;
  if (ts.seconds() < kMin / kNsPerSecond + 1) return kMin;
  return ts.seconds() * kNsPerSecond + ts.nanos();
}

v1::Severity ToProto(Severity severity) {
  switch (severity) {
    case Severity::kInfo:
      return v1::SEVERITY_INFO;
    case Severity::kWarning:
      return v1::SEVERITY_WARNING;
    case Severity::kHigh:
      return v1::SEVERITY_HIGH;
    case Severity::kCritical:
      return v1::SEVERITY_CRITICAL;
  }
  return v1::SEVERITY_UNSPECIFIED;
}

std::optional<Severity> FromProto(v1::Severity severity) {
  switch (severity) {
    case v1::SEVERITY_INFO:
      return Severity::kInfo;
    case v1::SEVERITY_WARNING:
      return Severity::kWarning;
    case v1::SEVERITY_HIGH:
      return Severity::kHigh;
    case v1::SEVERITY_CRITICAL:
      return Severity::kCritical;
    default:
      return std::nullopt;
  }
}

v1::Feedback ToProto(Feedback feedback) {
  switch (feedback) {
    case Feedback::kNone:
      return v1::FEEDBACK_UNSPECIFIED;
    case Feedback::kTruePositive:
      return v1::FEEDBACK_TRUE_POSITIVE;
    case Feedback::kFalsePositive:
      return v1::FEEDBACK_FALSE_POSITIVE;
  }
  return v1::FEEDBACK_UNSPECIFIED;
}

std::optional<Feedback> FromProto(v1::Feedback feedback) {
  switch (feedback) {
    case v1::FEEDBACK_UNSPECIFIED:
      return Feedback::kNone;
    case v1::FEEDBACK_TRUE_POSITIVE:
      return Feedback::kTruePositive;
    case v1::FEEDBACK_FALSE_POSITIVE:
      return Feedback::kFalsePositive;
    default:
      return std::nullopt;
  }
}

void ToProto(const AgentStatus& status, int64_t now_ns, v1::Status* out) {
  out->set_version(status.version);
  if (status.started_ns != 0) {
    *out->mutable_started() = ToTimestamp(status.started_ns);
    out->set_uptime_seconds(std::max<int64_t>(0, (now_ns - status.started_ns) / kNsPerSecond));
  }
  for (const InterfaceStatus& i : status.interfaces) {
    v1::InterfaceStatus* p = out->add_interfaces();
    p->set_name(i.name);
    p->set_ifindex(i.ifindex);
    p->set_backend(i.backend);
    p->set_xdp_mode(i.xdp_mode);
    p->set_tc_egress(i.tc_egress);
  }
  for (const auto& [name, value] : status.counters) (*out->mutable_counters())[name] = value;
  out->set_ring_drops(status.ring_drops);
  out->set_flow_insert_failures(status.flow_insert_failures);
  out->set_queue_overflows(status.queue_overflows);
  out->set_flows_evicted(status.flows_evicted);
  out->set_coverage_degraded(status.coverage_degraded);
  out->set_active_model(status.active_model);
  out->set_stored_flows(status.stored_flows);
  out->set_active_blocks(status.active_blocks);
}

void ToProto(const Alert& alert, v1::Alert* out) {
  out->set_id(alert.id);
  *out->mutable_time() = ToTimestamp(alert.time_ns);
  out->set_src_addr(alert.src_addr);
  out->set_src_port(alert.src_port);
  out->set_dst_addr(alert.dst_addr);
  out->set_dst_port(alert.dst_port);
  out->set_protocol(alert.protocol == 0 ? std::string() : ProtocolName(alert.protocol));
  out->set_alert_class(alert.alert_class);
  out->set_score(alert.score);
  out->set_severity(ToProto(alert.severity));
  out->set_mitre_technique(alert.mitre_technique);
  out->set_detector(alert.detector);
  out->set_evidence_json(alert.evidence_json);
  out->set_degraded_coverage(alert.degraded_coverage);
  out->set_acknowledged(alert.acknowledged);
  out->set_feedback(ToProto(alert.feedback));
}

void ToProto(const store::FlowSummary& flow, v1::Flow* out) {
  out->set_id(flow.id);
  *out->mutable_start() = ToTimestamp(flow.start_ns);
  *out->mutable_end() = ToTimestamp(flow.end_ns);
  out->set_src_addr(flow.src_addr);
  out->set_src_port(flow.src_port);
  out->set_dst_addr(flow.dst_addr);
  out->set_dst_port(flow.dst_port);
  out->set_protocol(ProtocolName(flow.protocol));
  out->set_fwd_packets(flow.fwd_packets);
  out->set_bwd_packets(flow.bwd_packets);
  out->set_fwd_bytes(flow.fwd_bytes);
  out->set_bwd_bytes(flow.bwd_bytes);
  out->set_end_reason(std::string(ToString(flow.end_reason)));
  out->set_ifindex(flow.ifindex);
}

void ToProto(const respond::BlockView& block, v1::BlockEntry* out) {
  const store::BlockRecord& r = block.record;
  out->set_prefix(r.prefix);
  out->set_reason(r.reason);
  out->set_automatic(r.automatic);
  *out->mutable_created() = ToTimestamp(r.created_ns);
  if (r.expires_ns != 0) *out->mutable_expires() = ToTimestamp(r.expires_ns);
  for (int64_t id : r.alert_ids) out->add_alert_ids(id);
  out->set_packets(block.packets);
  out->set_bytes(block.bytes);
  out->set_enforced(block.enforced);
  out->set_dry_run(r.dry_run);
}

std::optional<uint8_t> ParseProtocol(std::string_view text) {
  static constexpr std::pair<std::string_view, uint8_t> kNames[] = {
      {"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"icmpv6", 58}};
  for (const auto& [name, number] : kNames) {
    if (EqualsNoCase(text, name)) return number;
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 255) {
    return std::nullopt;
  }
  return static_cast<uint8_t>(value);
}

std::optional<std::string> CanonicalAddress(std::string_view text) {
  const std::string s(text);
  unsigned char buf[sizeof(in6_addr)];
  char out[INET6_ADDRSTRLEN] = {};
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    inet_ntop(AF_INET, buf, out, sizeof(out));
  } else if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    inet_ntop(AF_INET6, buf, out, sizeof(out));
  } else {
    return std::nullopt;
  }
  return std::string(out);
}

std::string EncodePageToken(int64_t last_id) { return std::to_string(last_id); }

grpc::Status DecodePageToken(const std::string& token, int64_t* last_id) {
  *last_id = 0;
  if (token.empty()) return grpc::Status::OK;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec != std::errc() || end != token.data() + token.size() || value <= 0) {
    return Invalid("page_token: '" + token + "' is not a token from next_page_token");
  }
  *last_id = value;
  return grpc::Status::OK;
}

uint32_t PageSize(uint32_t requested) {
  if (requested == 0) return 100;
  return std::min(requested, store::Store::kMaxListLimit);
}

grpc::Status ToQuery(const v1::ListAlertsRequest& request, store::AlertQuery* query) {
  *query = {};
  grpc::Status s = TimeRange(request.has_since(), request.since(), request.has_until(),
                             request.until(), &query->since_ns, &query->until_ns);
  if (!s.ok()) return s;
  s = AlertFilters(request.address(), request.alert_class(), request.min_severity(), query);
  if (!s.ok()) return s;
  s = DecodePageToken(request.page_token(), &query->before_id);
  if (!s.ok()) return s;
  query->limit = PageSize(request.page_size());
  return grpc::Status::OK;
}

grpc::Status ToQuery(const v1::StreamAlertsRequest& request, store::AlertQuery* query) {
  *query = {};
  if (request.resume_after_id() < 0) return Invalid("resume_after_id must not be negative");
  query->oldest_first = true;
  return AlertFilters(request.address(), request.alert_class(), request.min_severity(), query);
}

grpc::Status ToQuery(const v1::ListFlowsRequest& request, store::FlowQuery* query) {
  *query = {};
  grpc::Status s = TimeRange(request.has_since(), request.since(), request.has_until(),
                             request.until(), &query->since_ns, &query->until_ns);
  if (!s.ok()) return s;
  s = FlowFilters(request.address(), request.port(), request.protocol(), query);
  if (!s.ok()) return s;
  s = DecodePageToken(request.page_token(), &query->before_id);
  if (!s.ok()) return s;
  query->limit = PageSize(request.page_size());
  return grpc::Status::OK;
}

grpc::Status ToQuery(const v1::StreamFlowsRequest& request, store::FlowQuery* query) {
  *query = {};
  if (request.resume_after_id() < 0) return Invalid("resume_after_id must not be negative");
  query->oldest_first = true;
  return FlowFilters(request.address(), request.port(), request.protocol(), query);
}

}  // namespace netguard::api
