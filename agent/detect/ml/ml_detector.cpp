#include "detect/ml/ml_detector.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

namespace netguard::detect::ml {
namespace {

// Denial of service (MITRE T1498/T1499) is about its victim: its sources are often spoofed or
// many, so it is counted per destination and its source is no evidence against that address.
bool PerVictim(const Classifier& model, const Verdict& v) {
  if (v.label < 0) return false;
  const std::string& technique = model.bundle().classes[static_cast<size_t>(v.label)].mitre;
  return technique.starts_with("T1498") || technique.starts_with("T1499");
}

}  // namespace

MlDetector::MlDetector(std::shared_ptr<ModelSlot> slot, MlOptions options)
    : slot_(std::move(slot)),
      options_(options),
      min_packets_(features::LifecycleFor(slot_->mode()).min_packets) {}

void MlDetector::OnFlowEnd(const FlowRecord& flow, AlertSink& sink) {
  // Every finished flow counts in the context of the next ones (as in the flows CSV), but flows
  // the training data cannot contain (cic2017 writes no 1-packet flow, ngtrain drops connection
  // remnants) are not judged.
  const uint64_t packets = ng_flow_packets(&flow.acc);
  const bool judged = packets >= min_packets_ && packets > 0;
  features::FeatureVector v =
      judged ? features::ComputeFeatures(flow, slot_->mode()) : features::FeatureVector{};
  context_.Observe(flow, v);
  if (!judged || features::IsConnectionRemnant(v, slot_->mode())) return;
  pending_.push_back({flow, v});
  if (pending_.size() >= options_.max_batch) Flush(sink);
}

void MlDetector::Flush(AlertSink& sink) {
  if (pending_.empty()) return;
  // One bundle for the whole batch, even if a reload swaps the slot meanwhile.
  const std::shared_ptr<const Classifier> model = slot_->active();
  if (!model) {
    pending_.clear();
    return;
  }
  const size_t n = pending_.size(), d = model->num_features();
  rows_.resize(n * d);
  for (size_t i = 0; i < n; ++i) model->Gather(pending_[i].features, &rows_[i * d]);
  model->Classify(rows_, n, verdicts_, options_.anomalies);
  classified_ += n;
  // Evidence for the first max_evidence_per_batch alerts, computed together.
  std::vector<float> explain_rows;
  std::vector<Verdict> explain_verdicts;
  std::vector<size_t> alerting;
  similar_.clear();
  for (size_t i = 0; i < n; ++i) {
    const Verdict& v = verdicts_[i];
    if (v.label == Verdict::kBenign || (v.label == Verdict::kAnomaly && !options_.anomalies)) {
      continue;
    }
    uint64_t similar = 0;
    if (!ShouldAlert(*model, pending_[i], v, similar)) continue;
    alerting.push_back(i);
    similar_.push_back(similar);
    if (options_.top_features > 0 && explain_verdicts.size() < options_.max_evidence_per_batch) {
      explain_rows.insert(explain_rows.end(), &rows_[i * d], &rows_[i * d] + d);
      explain_verdicts.push_back(v);
    }
  }
  const std::vector<std::vector<Contribution>> evidence =
      explain_verdicts.empty()
          ? std::vector<std::vector<Contribution>>{}
          : model->ExplainBatch(explain_rows, explain_verdicts, options_.top_features);
  for (size_t a = 0; a < alerting.size(); ++a) {
    const size_t i = alerting[a];
    EmitAlert(*model, pending_[i], verdicts_[i], a < evidence.size() ? &evidence[a] : nullptr,
              similar_[a], sink);
  }
  // Forget sources whose window has passed (by the newest flow time seen).
  int64_t newest = 0;
  for (const Pending& p : pending_) newest = std::max(newest, p.flow.end_ns);
  const int64_t window_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.repeat_window).count();
  std::erase_if(recent_, [&](const auto& r) { return newest - r.second.alerted_ns > window_ns; });
  pending_.clear();
}

bool MlDetector::ShouldAlert(const Classifier& model, const Pending& p, const Verdict& v,
                             uint64_t& similar) {
  if (options_.repeat_window.count() == 0) return true;
  // One alert per victim for denial of service: one per source of a random-source flood would
  // be thousands a minute.
  const bool per_victim = PerVictim(model, v);
  const auto key =
      std::make_tuple(per_victim ? std::string() : Initiator(p.flow).address,
                      Responder(p.flow).address, std::string(model.LabelName(v.label)));
  Recent& r = recent_[key];
  const int64_t window_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.repeat_window).count();
  if (r.alerted_ns != 0 && p.flow.end_ns - r.alerted_ns < window_ns) {
    ++r.similar;
    ++suppressed_;
    return false;
  }
  similar = r.similar;
  r = {.alerted_ns = p.flow.end_ns, .similar = 0};
  return true;
}

void MlDetector::EmitAlert(const Classifier& model, const Pending& p, const Verdict& v,
                           const std::vector<Contribution>* contributions, uint64_t similar,
                           AlertSink& sink) const {
  const Bundle& b = model.bundle();
  nlohmann::json top = nlohmann::json::array();
  if (contributions != nullptr) {
    for (const Contribution& c : *contributions) {
      top.push_back({{"feature", c.feature}, {"value", c.value}, {"contribution", c.contribution}});
    }
  }
  nlohmann::json evidence = {{"model", b.name},
                             {"model_checksum", b.checksum.substr(0, 16)},
                             {"gate_p", v.gate_p},
                             {"similar_flows", similar},
                             {"top_features", top}};
  if (contributions == nullptr && options_.top_features > 0)
    evidence["evidence_skipped"] = "more alerts in this batch than max_evidence_per_batch";
  if (v.label >= 0) {
    evidence["class_p"] = v.class_p;
    evidence["class_threshold"] = b.classes[static_cast<size_t>(v.label)].threshold;
  } else {
    evidence["distance"] = v.distance;
    evidence["anomaly_threshold"] = b.kmeans.threshold;
  }
  const Endpoint src = Initiator(p.flow), dst = Responder(p.flow);
  Alert alert;
  alert.time_ns = p.flow.end_ns;
  alert.src_addr = src.address;
  alert.src_port = src.port;
  alert.dst_addr = dst.address;
  alert.dst_port = dst.port;
  alert.protocol = p.flow.key.proto;
  alert.alert_class = std::string(model.LabelName(v.label));
  alert.score = v.score;
  alert.severity = v.label >= 0 && v.score >= 0.9 ? Severity::kHigh : Severity::kWarning;
  alert.mitre_technique = v.label >= 0 ? b.classes[static_cast<size_t>(v.label)].mitre : "";
  alert.detector = std::string(name());
  alert.source_sampled = PerVictim(model, v);
  if (alert.source_sampled) evidence["source"] = "sampled";
  alert.evidence_json = evidence.dump();
  sink.Emit(std::move(alert));
}

}  // namespace netguard::detect::ml
