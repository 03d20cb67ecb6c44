#include "detect/ml/classifier.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace netguard::detect::ml {
namespace {

Booster LoadBooster(const Bundle& b, std::span<const char> bytes, const char* file) {
  try {
    return Booster::FromBuffer(bytes);
  } catch (const XgbError& e) {
    throw BundleError(b.path + "/" + file + ": not a loadable XGBoost model: " + e.what());
  }
}

double Scaled(double x, double mean, double scale) {
  if (std::isnan(x)) return 0;  // missing: at the mean
  return (SignedLog1p(static_cast<float>(x)) - mean) / scale;
}

}  // namespace

Classifier::Classifier(Bundle bundle)
    : bundle_(std::move(bundle)),
      indexes_(FeatureIndexes(bundle_)),
      gate_(LoadBooster(bundle_, bundle_.gate_model, "gate.ubj")),
      multiclass_(LoadBooster(bundle_, bundle_.multiclass_model, "multiclass.ubj")) {
  const size_t d = num_features();
  for (auto [booster, file] : {std::pair{&gate_, "gate.ubj"}, {&multiclass_, "multiclass.ubj"}}) {
    booster->SetParam("nthread", "1");  // one core, as the agent runs
    if (booster->NumFeatures() != d) {
      throw BundleError(bundle_.path + "/" + file + ": the model takes " +
                        std::to_string(booster->NumFeatures()) + " features, bundle.json lists " +
                        std::to_string(d));
    }
  }
  if (gate_.NumGroups() != 1) throw BundleError(bundle_.path + "/gate.ubj: not a binary model");
  if (multiclass_.NumGroups() != bundle_.classes.size()) {
    throw BundleError(bundle_.path + "/multiclass.ubj: the model has " +
                      std::to_string(multiclass_.NumGroups()) + " classes, bundle.json lists " +
                      std::to_string(bundle_.classes.size()));
  }
}

std::string_view Classifier::LabelName(int label) const {
  if (label == Verdict::kBenign) return kBenign;
  if (label == Verdict::kAnomaly) return kAnomaly;
  return bundle_.classes.at(static_cast<size_t>(label)).name;
}

void Classifier::Gather(const features::FeatureVector& vector, float* row) const {
  for (size_t i = 0; i < indexes_.size(); ++i) {
    row[i] = ToModelValue(vector[indexes_[i]]);
  }
}

double Classifier::Distance(const float* row, size_t* nearest) const {
  const KMeansModel& km = bundle_.kmeans;
  const size_t d = num_features();
  std::array<double, features::kFeatureCount> z;  // d <= kFeatureCount (validated names)
  for (size_t j = 0; j < d; ++j) {
    z[j] = row[j] == 0 ? -km.mean[j] / km.scale[j] : Scaled(row[j], km.mean[j], km.scale[j]);
  }
  double best = std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < km.k; ++c) {
    const double* centroid = &km.centroids[c * d];
    double sum = 0;
    for (size_t j = 0; j < d && sum < best; ++j) {
      sum += (z[j] - centroid[j]) * (z[j] - centroid[j]);
    }
    if (sum < best) {
      best = sum;
      if (nearest != nullptr) *nearest = c;
    }
  }
  return std::sqrt(best);
}

void Classifier::Classify(std::span<const float> rows, size_t n, std::vector<Verdict>& out,
                          bool anomalies) const {
  const size_t d = num_features();
  out.assign(n, Verdict{});
  if (n == 0) return;
  const std::span<const float> gate = gate_.Predict(rows.data(), n, d, PredictKind::kValue);
  // Rows past the gate go to the multiclass model together, the others to K-Means.
  // Reused per thread: a batch allocates nothing once the buffers have grown.
  thread_local std::vector<float> attack_rows;
  thread_local std::vector<size_t> attack_index;
  attack_rows.clear();
  attack_index.clear();
  for (size_t i = 0; i < n; ++i) {
    out[i].gate_p = gate[i];
    if (gate[i] >= bundle_.gate_threshold) {
      attack_rows.insert(attack_rows.end(), &rows[i * d], &rows[i * d] + d);
      attack_index.push_back(i);
    }
  }
  if (!attack_index.empty()) {
    const size_t groups = bundle_.classes.size();
    const std::span<const float> margins =
        multiclass_.Predict(attack_rows.data(), attack_index.size(), d, PredictKind::kMargin);
    for (size_t a = 0; a < attack_index.size(); ++a) {
      // softmax(margin / T), the calibration fitted by ngtrain on its validation split
      const float* m = &margins[a * groups];
      const size_t top = static_cast<size_t>(std::max_element(m, m + groups) - m);
      double sum = 0;
      for (size_t c = 0; c < groups; ++c) sum += std::exp((m[c] - m[top]) / bundle_.temperature);
      Verdict& v = out[attack_index[a]];
      v.class_p = static_cast<float>(1.0 / sum);
      if (v.class_p >= bundle_.classes[top].threshold) {
        v.label = static_cast<int>(top);
        v.score = v.gate_p * v.class_p;
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (out[i].label != Verdict::kBenign) continue;
    Verdict& v = out[i];
    if (!anomalies) {
      v.score = 1 - v.gate_p;
      continue;
    }
    v.distance = static_cast<float>(Distance(&rows[i * d]));
    if (v.distance > bundle_.kmeans.threshold) {
      v.label = Verdict::kAnomaly;
      v.score = static_cast<float>(1.0 - bundle_.kmeans.threshold / v.distance);
    } else {
      v.score = 1 - v.gate_p;
    }
  }
}

std::vector<float> Classifier::Margins(const float* row, bool gate) const {
  const std::span<const float> m =
      (gate ? gate_ : multiclass_).Predict(row, 1, num_features(), PredictKind::kMargin);
  return {m.begin(), m.end()};
}

std::vector<float> Classifier::Contributions(const float* row, bool gate) const {
  const std::span<const float> c =
      (gate ? gate_ : multiclass_).Predict(row, 1, num_features(), PredictKind::kContributions);
  return {c.begin(), c.end()};
}

std::vector<Contribution> Classifier::Explain(const float* row, const Verdict& verdict,
                                              size_t k) const {
  return ExplainBatch(std::span<const float>(row, num_features()),
                      std::span<const Verdict>(&verdict, 1), k)
      .front();
}

std::vector<std::vector<Contribution>> Classifier::ExplainBatch(std::span<const float> rows,
                                                                std::span<const Verdict> verdicts,
                                                                size_t k) const {
  const size_t d = num_features(), n = verdicts.size(), groups = bundle_.classes.size();
  std::vector<std::vector<Contribution>> out(n);
  // SHAP of every class verdict in one call: XGBoost's per-call set-up outweighs a row's trees.
  std::vector<float> class_rows;
  std::vector<size_t> class_index;
  for (size_t i = 0; i < n; ++i) {
    if (verdicts[i].label < 0) continue;
    class_rows.insert(class_rows.end(), &rows[i * d], &rows[i * d] + d);
    class_index.push_back(i);
  }
  std::span<const float> shap;
  if (!class_index.empty()) {
    shap =
        multiclass_.Predict(class_rows.data(), class_index.size(), d, PredictKind::kContributions);
  }
  for (size_t a = 0; a < class_index.size(); ++a) {
    const size_t i = class_index[a];
    const float* c = &shap[(a * groups + static_cast<size_t>(verdicts[i].label)) * (d + 1)];
    for (size_t j = 0; j < d; ++j) out[i].push_back({bundle_.features[j], rows[i * d + j], c[j]});
  }
  const KMeansModel& km = bundle_.kmeans;
  for (size_t i = 0; i < n; ++i) {
    const float* row = &rows[i * d];
    if (verdicts[i].label == Verdict::kAnomaly) {
      size_t nearest = 0;
      const double distance = Distance(row, &nearest);
      for (size_t j = 0; j < d; ++j) {
        const double diff = Scaled(row[j], km.mean[j], km.scale[j]) - km.centroids[nearest * d + j];
        out[i].push_back({bundle_.features[j], row[j], diff * diff / (distance * distance)});
      }
    } else if (verdicts[i].label == Verdict::kBenign) {
      const std::vector<float> c = Contributions(row, true);  // toward benign: negated
      for (size_t j = 0; j < d; ++j) out[i].push_back({bundle_.features[j], row[j], -c[j]});
    }
    std::vector<Contribution>& all = out[i];
    const size_t top = std::min(k, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(top), all.end(),
                      [](const Contribution& a, const Contribution& b) {
                        return a.contribution > b.contribution;
                      });
    all.resize(top);
  }
  return out;
}

std::shared_ptr<const Classifier> LoadClassifier(const std::string& dir,
                                                 features::FeatureMode mode) {
  Bundle bundle = LoadBundle(dir);
  CheckFeatureMode(bundle, mode);
  return std::make_shared<const Classifier>(std::move(bundle));
}

}  // namespace netguard::detect::ml
