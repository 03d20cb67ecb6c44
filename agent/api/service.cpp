#include "api/service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

#include "api/convert.h"
#include "common/clock.h"
#include "pipeline/stream_notifier.h"
#include "respond/block_manager.h"
#include "respond/reputation.h"
#include "store/store.h"

namespace netguard::api {
namespace {

grpc::StatusCode ToCode(respond::BlockError::Code code) {
  switch (code) {
    case respond::BlockError::Code::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case respond::BlockError::Code::kFailedPrecondition:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case respond::BlockError::Code::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
  }
  return grpc::StatusCode::UNKNOWN;
}

// Runs an RPC body; a refused block keeps its code, any other exception is INTERNAL (logged).
template <typename Body>
grpc::Status Guarded(const char* rpc, Body&& body) {
  try {
    return body();
  } catch (const respond::BlockError& e) {
    return grpc::Status(ToCode(e.code()), e.what());
  } catch (const std::exception& e) {
    spdlog::error("API {}: {}", rpc, e.what());
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(rpc) + ": " + e.what());
  }
}

grpc::Status AlertNotFound(int64_t id) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, "no alert with id " + std::to_string(id));
}

// Shared loop of StreamAlerts and StreamFlows. `list(query)` reads matching rows after
// query.after_id oldest first; `wait(after, timeout)` blocks on the notifier and returns the
// newest committed id. `last` is the newest id the client has (or need not have) seen.
template <typename Message, typename Query, typename List, typename Wait, typename Ended>
grpc::Status RunStream(Query query, int64_t last, uint32_t batch, std::chrono::milliseconds poll,
                       List list, Wait wait, Ended ended, grpc::ServerWriter<Message>* writer) {
  int64_t committed = last;  // every row up to this id was committed before the last read
  for (;;) {
    if (grpc::Status s = ended(); !s.ok()) return s;
    query.after_id = last;
    query.limit = batch;
    const auto rows = list(query);
    for (const auto& row : rows) {
      Message message;
      ToProto(row, &message);
      if (!writer->Write(message)) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      }
      last = row.id;
    }
    if (rows.size() >= batch) continue;  // catching up: read on without waiting
    // The read saw every row committed up to `committed`: the ones that did not match the
    // filters need not be read again.
    last = std::max(last, committed);
    const auto [newest, closed] = wait(committed, poll);
    if (closed) {
      // One last read after the close: the notifier closes only after the final commit.
      query.after_id = last;
      query.limit = 0;
      for (const auto& row : list(query)) {
        Message message;
        ToProto(row, &message);
        if (!writer->Write(message)) break;
      }
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "netguardd is shutting down");
    }
    committed = std::max(committed, newest);
  }
}

}  // namespace

NetGuardService::NetGuardService(StatusProvider status, store::Store& store,
                                 respond::BlockManager* blocks, pipeline::StreamNotifier& notifier,
                                 ServiceOptions options)
    : status_(std::move(status)),
      store_(store),
      blocks_(blocks),
      notifier_(notifier),
      options_(options) {
  options_.stream_batch =
      std::clamp<uint32_t>(options_.stream_batch, 1, store::Store::kMaxListLimit);
}

grpc::Status NetGuardService::StreamShouldEnd(grpc::ServerContext* context) const {
  if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  if (stopping_.load()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "netguardd is shutting down");
  }
  return grpc::Status::OK;
}

grpc::Status NetGuardService::NoBlocks() const {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      "blocking needs the eBPF data plane's blocklist (capture.backend: ebpf); "
                      "this agent captures without it (capture.backend: pcap-live)");
}

grpc::Status NetGuardService::GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*,
                                        v1::Status* response) {
  return Guarded("GetStatus", [&] {
    if (!status_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "status not available");
    ToProto(status_(), WallNowNs(), response);
    return grpc::Status::OK;
  });
}

grpc::Status NetGuardService::ListAlerts(grpc::ServerContext*, const v1::ListAlertsRequest* request,
                                         v1::ListAlertsResponse* response) {
  return Guarded("ListAlerts", [&] {
    store::AlertQuery query;
    if (grpc::Status s = ToQuery(*request, &query); !s.ok()) return s;
    const std::vector<Alert> alerts = store_.ListAlerts(query);
    for (const Alert& alert : alerts) ToProto(alert, response->add_alerts());
    if (!alerts.empty() && alerts.size() >= query.limit) {
      // A full page: is there anything older? (Keeps the last page's token empty.)
      store::AlertQuery more = query;
      more.before_id = alerts.back().id;
      more.limit = 1;
      if (!store_.ListAlerts(more).empty()) {
        response->set_next_page_token(EncodePageToken(alerts.back().id));
      }
    }
    return grpc::Status::OK;
  });
}

grpc::Status NetGuardService::StreamAlerts(grpc::ServerContext* context,
                                           const v1::StreamAlertsRequest* request,
                                           grpc::ServerWriter<v1::Alert>* writer) {
  return Guarded("StreamAlerts", [&] {
    store::AlertQuery query;
    if (grpc::Status s = ToQuery(*request, &query); !s.ok()) return s;
    int64_t last = request->resume_after_id();
    if (last == 0) {  // from now on: start after the newest stored alert, whatever it is
      const std::vector<Alert> newest = store_.ListAlerts({.limit = 1});
      if (!newest.empty()) last = newest.front().id;
    }
    return RunStream<v1::Alert>(
        query, last, options_.stream_batch, options_.stream_poll,
        [&](const store::AlertQuery& q) { return store_.ListAlerts(q); },
        [&](int64_t after, std::chrono::milliseconds timeout) {
          const int64_t newest = notifier_.WaitAlert(after, timeout);
          return std::pair(newest, notifier_.closed());
        },
        [&] { return StreamShouldEnd(context); }, writer);
  });
}

grpc::Status NetGuardService::AckAlert(grpc::ServerContext*, const v1::AckAlertRequest* request,
                                       v1::Alert* response) {
  return Guarded("AckAlert", [&] {
    if (!store_.AckAlert(request->id())) return AlertNotFound(request->id());
    std::optional<Alert> alert = store_.GetAlert(request->id());
    if (!alert) return AlertNotFound(request->id());
    ToProto(*alert, response);
    return grpc::Status::OK;
  });
}

grpc::Status NetGuardService::SetFeedback(grpc::ServerContext*,
                                          const v1::SetFeedbackRequest* request,
                                          v1::Alert* response) {
  return Guarded("SetFeedback", [&] {
    const std::optional<Feedback> feedback = FromProto(request->feedback());
    if (!feedback) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "feedback: unknown value " + std::to_string(request->feedback()));
    }
    if (!store_.SetFeedback(request->id(), *feedback)) return AlertNotFound(request->id());
    std::optional<Alert> alert = store_.GetAlert(request->id());
    if (!alert) return AlertNotFound(request->id());
    ToProto(*alert, response);
    return grpc::Status::OK;
  });
}

grpc::Status NetGuardService::ListFlows(grpc::ServerContext*, const v1::ListFlowsRequest* request,
                                        v1::ListFlowsResponse* response) {
  return Guarded("ListFlows", [&] {
    store::FlowQuery query;
    if (grpc::Status s = ToQuery(*request, &query); !s.ok()) return s;
    const std::vector<store::FlowSummary> flows = store_.ListFlows(query);
    for (const store::FlowSummary& flow : flows) ToProto(flow, response->add_flows());
    if (!flows.empty() && flows.size() >= query.limit) {
      store::FlowQuery more = query;
      more.before_id = flows.back().id;
      more.limit = 1;
      if (!store_.ListFlows(more).empty()) {
        response->set_next_page_token(EncodePageToken(flows.back().id));
      }
    }
    return grpc::Status::OK;
  });
}

grpc::Status NetGuardService::StreamFlows(grpc::ServerContext* context,
                                          const v1::StreamFlowsRequest* request,
                                          grpc::ServerWriter<v1::Flow>* writer) {
  return Guarded("StreamFlows", [&] {
    store::FlowQuery query;
    if (grpc::Status s = ToQuery(*request, &query); !s.ok()) return s;
    int64_t last = request->resume_after_id();
    if (last == 0) {
      const std::vector<store::FlowSummary> newest = store_.ListFlows({.limit = 1});
      if (!newest.empty()) last = newest.front().id;
    }
    return RunStream<v1::Flow>(
        query, last, options_.stream_batch, options_.stream_poll,
        [&](const store::FlowQuery& q) { return store_.ListFlows(q); },
        [&](int64_t after, std::chrono::milliseconds timeout) {
          const int64_t newest = notifier_.WaitFlows(after, timeout);
          return std::pair(newest, notifier_.closed());
        },
        [&] { return StreamShouldEnd(context); }, writer);
  });
}

grpc::Status NetGuardService::Block(grpc::ServerContext*, const v1::BlockRequest* request,
                                    v1::BlockEntry* response) {
  if (!blocks_) return NoBlocks();
  return Guarded("Block", [&] {
    const store::BlockRecord record = blocks_->Block(
        {.prefix = request->prefix(),
         .ttl = std::chrono::seconds(request->ttl_seconds()),
         .reason = request->reason().empty() ? std::string("manual block") : request->reason(),
         .automatic = false,
         .alert_ids = {}});
    respond::BlockView view{.record = record};
    for (respond::BlockView& live : blocks_->List()) {
      if (live.record.prefix == record.prefix) view = std::move(live);
    }
    ToProto(view, response);
    return grpc::Status::OK;
  });
}

grpc::Status NetGuardService::Unblock(grpc::ServerContext*, const v1::UnblockRequest* request,
                                      v1::UnblockResponse*) {
  if (!blocks_) return NoBlocks();
  return Guarded("Unblock", [&] {
    blocks_->Unblock(request->prefix());
    return grpc::Status::OK;
  });
}

grpc::Status NetGuardService::ListBlocks(grpc::ServerContext*, const v1::ListBlocksRequest*,
                                         v1::ListBlocksResponse* response) {
  if (!blocks_) return NoBlocks();
  return Guarded("ListBlocks", [&] {
    for (const respond::BlockView& view : blocks_->List()) ToProto(view, response->add_blocks());
    return grpc::Status::OK;
  });
}

grpc::Status NetGuardService::GetIp(grpc::ServerContext*, const v1::GetIpRequest* request,
                                    v1::IpInfo* response) {
  return Guarded("GetIp", [&] {
    const std::optional<std::string> address = CanonicalAddress(request->address());
    if (!address) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "address: '" + request->address() + "' is not an IPv4 or IPv6 address");
    }
    constexpr uint32_t kDefaultLimit = 20;
    const uint32_t limit = request->limit() == 0 ? kDefaultLimit : PageSize(request->limit());
    response->set_address(*address);
    response->set_verdict("neutral");
    if (reputation_) {
      const respond::IpReputation r = reputation_->Get(*address, WallNowNs());
      response->set_score(r.score);
      response->set_verdict(r.verdict);
      response->set_allowlisted(r.allowlisted);
      response->set_listed_malicious(r.listed_malicious());
      response->set_offences(r.offences);
      if (r.first_seen_ns) *response->mutable_first_seen() = ToTimestamp(r.first_seen_ns);
      if (r.last_seen_ns) *response->mutable_last_seen() = ToTimestamp(r.last_seen_ns);
    }
    response->set_alert_count(store_.CountAlerts(*address));
    for (const Alert& alert : store_.ListAlerts({.address = *address, .limit = limit})) {
      ToProto(alert, response->add_recent_alerts());
    }
    for (const store::FlowSummary& flow : store_.ListFlows({.address = *address, .limit = limit})) {
      ToProto(flow, response->add_recent_flows());
    }
    if (blocks_) {
      if (std::optional<store::BlockRecord> record = blocks_->Covering(IpPrefix::Parse(*address))) {
        respond::BlockView view{.record = *record};
        for (respond::BlockView& live : blocks_->List()) {
          if (live.record.prefix == record->prefix) view = std::move(live);
        }
        ToProto(view, response->mutable_block());
        response->set_blocked(!record->dry_run);
      }
    }
    return grpc::Status::OK;
  });
}

}  // namespace netguard::api
