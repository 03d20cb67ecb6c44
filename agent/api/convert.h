// Conversions between the API messages (netguard.v1) and the agent's core types, and the
// validation of request fields (addresses, protocols, page tokens).
#ifndef NETGUARD_AGENT_API_CONVERT_H_
#define NETGUARD_AGENT_API_CONVERT_H_

#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/alert.h"
#include "core/status.h"
#include "netguard/v1/netguard.pb.h"
#include "respond/block_manager.h"
#include "store/store.h"

namespace netguard::api {

/// Wall-clock nanoseconds since the epoch -> Timestamp.
google::protobuf::Timestamp ToTimestamp(int64_t ns);
/// Timestamp -> nanoseconds since the epoch (saturates instead of overflowing).
int64_t FromTimestamp(const google::protobuf::Timestamp& ts);

/// Core severity -> API severity (never SEVERITY_UNSPECIFIED).
v1::Severity ToProto(Severity severity);
/// API severity -> core; nullopt for SEVERITY_UNSPECIFIED or a value this build does not know.
std::optional<Severity> FromProto(v1::Severity severity);
/// Core feedback -> API feedback (kNone is FEEDBACK_UNSPECIFIED).
v1::Feedback ToProto(Feedback feedback);
/// API feedback -> core; FEEDBACK_UNSPECIFIED is kNone; nullopt for an unknown value.
std::optional<Feedback> FromProto(v1::Feedback feedback);

/// The GetStatus response: `status` as of `now_ns` (for the uptime).
void ToProto(const AgentStatus& status, int64_t now_ns, v1::Status* out);
/// A stored alert; protocol 0 becomes "".
void ToProto(const Alert& alert, v1::Alert* out);
/// A stored flow; the source is the initiator.
void ToProto(const store::FlowSummary& flow, v1::Flow* out);
/// A block with its live kernel counters.
void ToProto(const respond::BlockView& block, v1::BlockEntry* out);

/// "TCP", "udp", "ICMP", "ICMPv6" or a number 0..255 -> IPPROTO_*; nullopt if neither.
std::optional<uint8_t> ParseProtocol(std::string_view text);
/// The canonical (inet_ntop) text of an IPv4/IPv6 address, as the store compares it; nullopt
/// when `text` is not an address.
std::optional<std::string> CanonicalAddress(std::string_view text);

/// The opaque page token that continues a listing after `last_id` (newest first).
std::string EncodePageToken(int64_t last_id);
/// Parses a page token (empty: first page, returns 0). INVALID_ARGUMENT when it is not one of
/// ours.
grpc::Status DecodePageToken(const std::string& token, int64_t* last_id);

/// Page size of a List* request: 0 means 100, at most store::Store::kMaxListLimit.
uint32_t PageSize(uint32_t requested);

/// The store query of a ListAlerts request (filters and page). INVALID_ARGUMENT names the field.
grpc::Status ToQuery(const v1::ListAlertsRequest& request, store::AlertQuery* query);
/// The store filters of a StreamAlerts request (the resume position is the caller's).
grpc::Status ToQuery(const v1::StreamAlertsRequest& request, store::AlertQuery* query);
/// The store query of a ListFlows request (filters and page).
grpc::Status ToQuery(const v1::ListFlowsRequest& request, store::FlowQuery* query);
/// The store filters of a StreamFlows request.
grpc::Status ToQuery(const v1::StreamFlowsRequest& request, store::FlowQuery* query);

}  // namespace netguard::api

#endif  // NETGUARD_AGENT_API_CONVERT_H_
