// The rules RPCs of NetGuardService: ListRules, SetRuleEnabled, ReloadRules.
#include <spdlog/spdlog.h>

#include "api/service.h"
#include "detect/rules/engine.h"

namespace netguard::api {
namespace {

void ToProto(const detect::rules::RuleStatus& status, v1::Rule& out) {
  const detect::rules::RuleSpec& spec = status.spec;
  out.set_name(spec.name);
  out.set_kind(spec.kind);
  out.set_enabled(spec.enabled);
  out.set_mitre_technique(spec.technique);
  out.set_threshold(spec.threshold);
  out.set_window_seconds(static_cast<uint32_t>(spec.window.count()));
  out.set_description(spec.description);
  out.set_alerts(status.alerts);
  if (!spec.match.text.empty()) out.add_conditions()->set_text(spec.match.text);
}

void ListInto(const detect::rules::RulesEngine& engine, v1::ListRulesResponse& response) {
  for (const detect::rules::RuleStatus& status : engine.Rules()) {
    ToProto(status, *response.add_rules());
  }
  response.set_source(engine.source());
}

grpc::Status NoRules() {
  return {grpc::StatusCode::FAILED_PRECONDITION, "the rules engine is not running"};
}

}  // namespace

grpc::Status NetGuardService::ListRules(grpc::ServerContext*, const v1::ListRulesRequest*,
                                        v1::ListRulesResponse* response) {
  if (!rules_) return NoRules();
  ListInto(*rules_, *response);
  return grpc::Status::OK;
}

grpc::Status NetGuardService::SetRuleEnabled(grpc::ServerContext*,
                                             const v1::SetRuleEnabledRequest* request,
                                             v1::Rule* response) {
  if (!rules_) return NoRules();
  if (request->name().empty()) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "name: a rule name is required"};
  }
  const auto status = rules_->SetEnabled(request->name(), request->enabled());
  if (!status) {
    return {grpc::StatusCode::NOT_FOUND, "no rule named '" + request->name() + "'"};
  }
  spdlog::info("rule {} {}", request->name(), request->enabled() ? "enabled" : "disabled");
  ToProto(*status, *response);
  return grpc::Status::OK;
}

grpc::Status NetGuardService::ReloadRules(grpc::ServerContext*, const v1::ReloadRulesRequest*,
                                          v1::ListRulesResponse* response) {
  if (!rules_ || !reload_rules_) return NoRules();
  try {
    reload_rules_();
  } catch (const std::exception& e) {
    spdlog::error("rules reload refused, the running rules stay: {}", e.what());
    return {grpc::StatusCode::INVALID_ARGUMENT, e.what()};
  }
  ListInto(*rules_, *response);
  return grpc::Status::OK;
}

}  // namespace netguard::api
