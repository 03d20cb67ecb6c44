// NetGuardService: the netguard.v1.NetGuard gRPC service over the agent's store, block manager
// and stream notifier.
#ifndef NETGUARD_AGENT_API_SERVICE_H_
#define NETGUARD_AGENT_API_SERVICE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "netguard/v1/netguard.grpc.pb.h"

namespace netguard::store {
class Store;
}
namespace netguard::respond {
class BlockManager;
class Reputation;
}  // namespace netguard::respond
namespace netguard::pipeline {
class StreamNotifier;
}
namespace netguard::detect::rules {
class RulesEngine;
}

namespace netguard::geo {
class CountryLookup;
}
namespace netguard::detect::ml {
class ModelSlot;
}

namespace netguard::api {

/// Tuning of the streaming RPCs.
struct ServiceOptions {
  /// How long a stream waits on the notifier before it re-checks for cancellation and shutdown.
  std::chrono::milliseconds stream_poll{200};
  /// Rows a stream reads from the store per query while it catches up.
  uint32_t stream_batch = 500;
};

/// Implements every RPC of netguard.v1.NetGuard with real gRPC status codes:
/// INVALID_ARGUMENT for a malformed request (the message names the field), NOT_FOUND for an
/// unknown alert or block, FAILED_PRECONDITION for a refused block (allowlist, own address),
/// UNAVAILABLE while shutting down, INTERNAL for a store or kernel failure.
/// Thread-safe: gRPC calls it from many threads; every dependency is thread-safe.
class NetGuardService final : public v1::NetGuard::Service {
 public:
  /// The references must outlive the service. `blocks` may be null (no data plane): the block
  /// RPCs then fail with FAILED_PRECONDITION.
  NetGuardService(StatusProvider status, store::Store& store, respond::BlockManager* blocks,
                  pipeline::StreamNotifier& notifier, ServiceOptions options = {});

  /// Makes open streams end (UNAVAILABLE) within one poll interval and refuses new ones. Called
  /// by ApiServer before it shuts the gRPC server down.
  void BeginShutdown() { stopping_.store(true); }

  /// The reputation GetIp reports (must outlive the service); without one, GetIp reports score
  /// 0 and verdict "neutral" besides the stored alerts, flows and block. Set before serving.
  void set_reputation(const respond::Reputation* reputation) { reputation_ = reputation; }

  /// Version, uptime, interfaces, counters and loss from the StatusProvider.
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::Status* response) override;
  /// Stored alerts, newest first, filtered; next_page_token is empty on the last page.
  grpc::Status ListAlerts(grpc::ServerContext* context, const v1::ListAlertsRequest* request,
                          v1::ListAlertsResponse* response) override;
  /// Replays the stored alerts after resume_after_id (oldest first), then sends each newly
  /// committed one that matches the filters, until the client cancels or the agent stops.
  grpc::Status StreamAlerts(grpc::ServerContext* context, const v1::StreamAlertsRequest* request,
                            grpc::ServerWriter<v1::Alert>* writer) override;
  /// Marks an alert acknowledged; returns it. NOT_FOUND for an unknown id.
  grpc::Status AckAlert(grpc::ServerContext* context, const v1::AckAlertRequest* request,
                        v1::Alert* response) override;
  /// Records the analyst's verdict (FEEDBACK_UNSPECIFIED clears it); returns the alert.
  grpc::Status SetFeedback(grpc::ServerContext* context, const v1::SetFeedbackRequest* request,
                           v1::Alert* response) override;
  /// Stored flows, newest first, filtered and paged as ListAlerts.
  grpc::Status ListFlows(grpc::ServerContext* context, const v1::ListFlowsRequest* request,
                         v1::ListFlowsResponse* response) override;
  /// Finished flows as they are stored, with resume as StreamAlerts.
  grpc::Status StreamFlows(grpc::ServerContext* context, const v1::StreamFlowsRequest* request,
                           grpc::ServerWriter<v1::Flow>* writer) override;
  /// A manual block (ttl_seconds 0: until unblocked); returns the enforced entry.
  grpc::Status Block(grpc::ServerContext* context, const v1::BlockRequest* request,
                     v1::BlockEntry* response) override;
  /// Removes a block; NOT_FOUND when the prefix is not blocked.
  grpc::Status Unblock(grpc::ServerContext* context, const v1::UnblockRequest* request,
                       v1::UnblockResponse* response) override;
  /// Every block with its live kernel drop counters.
  grpc::Status ListBlocks(grpc::ServerContext* context, const v1::ListBlocksRequest* request,
                          v1::ListBlocksResponse* response) override;
  /// One address: reputation score and verdict, alert count, recent alerts and flows (limit,
  /// default 20), and the block covering it (enforced or dry-run). INVALID_ARGUMENT when the
  /// address is not an IPv4/IPv6 address.
  grpc::Status GetIp(grpc::ServerContext* context, const v1::GetIpRequest* request,
                     v1::IpInfo* response) override;

  /// The GeoIP database LookupCountries uses (null: every public address is unknown). Set before
  /// the service is served.
  void set_country_lookup(std::shared_ptr<const geo::CountryLookup> lookup) {
    countries_ = std::move(lookup);
  }
  /// Country of each address (service_geo.cpp); INVALID_ARGUMENT for a non-address or more
  /// than 1000 of them.
  grpc::Status LookupCountries(grpc::ServerContext* context,
                               const v1::LookupCountriesRequest* request,
                               v1::LookupCountriesResponse* response) override;

  /// The rules engine behind ListRules / SetRuleEnabled / ReloadRules, and how to reload its
  /// rule set (returns the source; throws with a message naming the rule and line). Without an
  /// engine those RPCs fail with FAILED_PRECONDITION. Call before the server starts.
  void set_rules(detect::rules::RulesEngine* engine, std::function<std::string()> reload) {
    rules_ = engine;
    reload_rules_ = std::move(reload);
  }
  /// Every rule with its settings, state and alert count.
  grpc::Status ListRules(grpc::ServerContext* context, const v1::ListRulesRequest* request,
                         v1::ListRulesResponse* response) override;
  /// Enables or disables a rule until changed again or restarted (reloads keep it, see
  /// RulesEngine::Replace); NOT_FOUND for an unknown name.
  grpc::Status SetRuleEnabled(grpc::ServerContext* context,
                              const v1::SetRuleEnabledRequest* request,
                              v1::Rule* response) override;
  /// Re-reads the rules file; INVALID_ARGUMENT naming the rule and line keeps the old set.
  grpc::Status ReloadRules(grpc::ServerContext* context, const v1::ReloadRulesRequest* request,
                           v1::ListRulesResponse* response) override;

  /// The agent's model slot (null: model detection disabled). Call before serving.
  void SetModelSlot(std::shared_ptr<detect::ml::ModelSlot> slot) { models_ = std::move(slot); }
  /// The active bundle with its held-out metrics, or loaded=false and why (service_model.cpp).
  grpc::Status GetModel(grpc::ServerContext* context, const v1::GetModelRequest* request,
                        v1::ModelInfo* response) override;
  /// Loads request.path (empty: model.path) and swaps it in without dropping flows;
  /// FAILED_PRECONDITION naming the file and the problem when the bundle is refused (the active
  /// bundle stays) or model detection is disabled.
  grpc::Status ReloadModel(grpc::ServerContext* context, const v1::ReloadModelRequest* request,
                           v1::ModelInfo* response) override;

 private:
  // Why a stream loop should stop now, or OK to go on.
  grpc::Status StreamShouldEnd(grpc::ServerContext* context) const;
  grpc::Status NoBlocks() const;

  StatusProvider status_;
  store::Store& store_;
  respond::BlockManager* blocks_;
  const respond::Reputation* reputation_ = nullptr;
  pipeline::StreamNotifier& notifier_;
  ServiceOptions options_;
  std::atomic<bool> stopping_{false};
  std::shared_ptr<const geo::CountryLookup> countries_;
  detect::rules::RulesEngine* rules_ = nullptr;
  std::function<std::string()> reload_rules_;
  std::shared_ptr<detect::ml::ModelSlot> models_;
};

}  // namespace netguard::api

#endif  // NETGUARD_AGENT_API_SERVICE_H_
