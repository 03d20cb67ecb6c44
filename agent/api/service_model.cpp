// NetGuardService: the model RPCs (GetModel, ReloadModel) over the agent's ModelSlot.
#include <spdlog/spdlog.h>

#include "api/convert.h"
#include "api/service.h"
#include "detect/ml/model_slot.h"

namespace netguard::api {
namespace {

constexpr const char* kDisabled = "model detection is disabled (model.enabled: false)";

void ToProto(const detect::ml::ModelState& state, v1::ModelInfo* out) {
  out->set_path(state.configured_path);
  out->set_error(state.error);
  if (!state.classifier) return;
  const detect::ml::Bundle& b = state.classifier->bundle();
  out->set_loaded(true);
  out->set_name(b.name);
  out->set_path(b.path);
  out->set_feature_mode(b.feature_mode);
  for (const std::string& f : b.features) out->add_features(f);
  v1::ClassMetrics* benign = out->add_classes();
  benign->set_name(std::string(detect::ml::kBenign));
  benign->set_threshold(b.gate_threshold);  // P(attack) below it: benign
  benign->set_precision(b.metrics.benign_precision);
  benign->set_recall(b.metrics.benign_recall);
  benign->set_f1(b.metrics.benign_f1);
  benign->set_support(b.metrics.benign_support);
  for (const detect::ml::ClassInfo& c : b.classes) {
    v1::ClassMetrics* m = out->add_classes();
    m->set_name(c.name);
    m->set_mitre_technique(c.mitre);
    m->set_threshold(c.threshold);
    m->set_precision(c.precision);
    m->set_recall(c.recall);
    m->set_f1(c.f1);
    m->set_support(c.support);
  }
  for (const std::string& l : b.metrics.labels) out->add_labels(l);
  for (uint64_t n : b.metrics.confusion) out->add_confusion(n);
  out->set_macro_f1(b.metrics.macro_f1);
  out->set_benign_false_positive_rate(b.metrics.benign_fpr);
  for (const auto& [feature, importance] : b.importances) {
    v1::FeatureImportance* i = out->add_importances();
    i->set_feature(feature);
    i->set_importance(importance);
  }
  out->set_anomaly_threshold(b.kmeans.threshold);
  out->set_provenance_json(b.provenance_json);
  *out->mutable_loaded_at() = ToTimestamp(state.loaded_at_ns);
}

}  // namespace

grpc::Status NetGuardService::GetModel(grpc::ServerContext*, const v1::GetModelRequest*,
                                       v1::ModelInfo* response) {
  if (!models_) {
    response->set_error(kDisabled);
    return grpc::Status::OK;
  }
  ToProto(models_->state(), response);
  return grpc::Status::OK;
}

grpc::Status NetGuardService::ReloadModel(grpc::ServerContext*,
                                          const v1::ReloadModelRequest* request,
                                          v1::ModelInfo* response) {
  if (!models_) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, kDisabled);
  try {
    const auto model = models_->Load(request->path());
    spdlog::info("ReloadModel: model bundle {} from {}", model->bundle().name,
                 model->bundle().path);
  } catch (const std::exception& e) {
    spdlog::error("ReloadModel: {}", e.what());
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        std::string("model bundle refused, the active one stays: ") + e.what());
  }
  ToProto(models_->state(), response);
  return grpc::Status::OK;
}

}  // namespace netguard::api
