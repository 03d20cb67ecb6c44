#include "trainer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "detect/ml/classifier.h"
#include "detect/ml/xgb.h"
#include "kmeans.h"

namespace netguard::ngtrain {
namespace {

using detect::ml::Booster;
using detect::ml::DMatrix;
using detect::ml::PredictKind;

void Progress(const TrainOptions& o, const std::string& line) {
  if (o.progress) o.progress(line);
}

double F1(uint64_t tp, uint64_t fp, uint64_t fn) {
  const uint64_t denominator = 2 * tp + fp + fn;
  return denominator == 0 ? 0.0 : 2.0 * static_cast<double>(tp) / static_cast<double>(denominator);
}

// Trains one booster for `options.rounds` rounds, printing the validation metric every tenth.
Booster Fit(const std::string& what, const DMatrix& train, const DMatrix& valid,
            const std::map<std::string, std::string>& params, const TrainOptions& o) {
  Booster booster({&train, &valid});
  for (const auto& [name, value] : params) booster.SetParam(name, value);
  booster.SetParam("max_depth", std::to_string(o.max_depth));
  booster.SetParam("eta", std::to_string(o.eta));
  booster.SetParam("nthread", std::to_string(o.threads));
  booster.SetParam("seed", std::to_string(o.seed));
  booster.SetParam("tree_method", "hist");
  booster.SetParam("verbosity", "0");
  for (int i = 0; i < o.rounds; ++i) {
    booster.UpdateOneIter(i, train);
    if ((i + 1) % 10 == 0 || i + 1 == o.rounds) {
      std::string eval =
          valid.rows() > 0 ? booster.EvalOneIter(i, {{&train, "train"}, {&valid, "valid"}}) : "";
      std::replace(eval.begin(), eval.end(), '\t', ' ');
      Progress(o, what + ": round " + std::to_string(i + 1) + "/" + std::to_string(o.rounds) + " " +
                      eval);
    }
  }
  return booster;
}

// Temperature T minimising the validation negative log-likelihood of softmax(margin / T).
double FitTemperature(const std::vector<float>& margins, const std::vector<int>& truth,
                      size_t groups) {
  if (truth.empty()) return 1.0;
  const auto nll = [&](double t) {
    double sum = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      const float* m = &margins[i * groups];
      const double top = *std::max_element(m, m + groups);
      double z = 0;
      for (size_t c = 0; c < groups; ++c) z += std::exp((m[c] - top) / t);
      sum += std::log(z) - (m[truth[i]] - top) / t;
    }
    return sum;
  };
  double lo = std::log(0.05), hi = std::log(20.0);  // golden-section search on log T
  const double g = (std::sqrt(5.0) - 1) / 2;
  for (int it = 0; it < 60; ++it) {
    const double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    if (nll(std::exp(a)) <= nll(std::exp(b))) {
      hi = b;
    } else {
      lo = a;
    }
  }
  return std::exp((lo + hi) / 2);
}

// Weights that give every label the same total: n / (labels * rows of the label).
std::vector<float> BalancedWeights(const std::vector<float>& labels) {
  std::map<float, size_t> count;
  for (float y : labels) count[y]++;
  std::vector<float> w;
  for (float y : labels) {
    w.push_back(static_cast<float>(static_cast<double>(labels.size()) /
                                   static_cast<double>(count.size() * count[y])));
  }
  return w;
}

std::vector<float> Subset(const LabelledRows& rows, const std::vector<size_t>& index) {
  std::vector<float> out;
  out.reserve(index.size() * rows.d);
  for (size_t i : index) {
    out.insert(out.end(), rows.x.begin() + static_cast<std::ptrdiff_t>(i * rows.d),
               rows.x.begin() + static_cast<std::ptrdiff_t>((i + 1) * rows.d));
  }
  return out;
}

}  // namespace

void LabelledRows::Append(const LabelledRows& other, size_t i) {
  x.insert(x.end(), other.x.begin() + static_cast<std::ptrdiff_t>(i * other.d),
           other.x.begin() + static_cast<std::ptrdiff_t>((i + 1) * other.d));
  y.push_back(other.y[i]);
  if (!other.group.empty()) group.push_back(other.group[i]);
}

void StratifiedSplit(const LabelledRows& all, double fraction, uint64_t seed, LabelledRows& first,
                     LabelledRows& second, bool by_group) {
  if (by_group && all.group.size() != all.size()) {
    throw std::invalid_argument("a split by group needs a group for every row");
  }
  first = LabelledRows{};
  second = LabelledRows{};
  first.d = second.d = all.d;
  // The units split: rows, or groups labelled by their most frequent attack label.
  const auto unit = [&](size_t i) { return by_group ? all.group[i] : i; };
  std::map<size_t, std::map<int, size_t>> labels_of;
  for (size_t i = 0; i < all.size(); ++i) labels_of[unit(i)][all.y[i]]++;
  std::map<int, std::vector<size_t>> by_label;
  for (const auto& [u, counts] : labels_of) {
    int label = counts.begin()->first;
    for (const auto& [y, n] : counts) {
      if (y > 0 && (label == 0 || n > counts.at(label))) label = y;
    }
    by_label[label].push_back(u);
  }
  std::mt19937_64 rng(seed);
  std::set<size_t> to_second;
  for (auto& [label, units] : by_label) {
    std::shuffle(units.begin(), units.end(), rng);
    size_t n = static_cast<size_t>(std::llround(fraction * static_cast<double>(units.size())));
    if (n == 0 && fraction > 0 && units.size() >= 2) n = 1;
    to_second.insert(units.begin(), units.begin() + static_cast<std::ptrdiff_t>(n));
  }
  for (size_t i = 0; i < all.size(); ++i) {
    (to_second.contains(unit(i)) ? second : first).Append(all, i);
  }
}

LabelScores Score(const std::vector<uint64_t>& confusion, size_t labels) {
  LabelScores s;
  for (size_t l = 0; l < labels; ++l) {
    uint64_t tp = confusion[l * labels + l], predicted = 0, actual = 0;
    for (size_t k = 0; k < labels; ++k) {
      predicted += confusion[k * labels + l];
      actual += confusion[l * labels + k];
    }
    s.precision.push_back(predicted == 0 ? 0 : static_cast<double>(tp) / predicted);
    s.recall.push_back(actual == 0 ? 0 : static_cast<double>(tp) / actual);
    s.f1.push_back(F1(tp, predicted - tp, actual - tp));
    s.support.push_back(actual);
  }
  size_t present = 0;
  for (size_t l = 0; l < labels; ++l) {
    if (s.support[l] == 0) continue;  // a label absent from the test set does not count
    s.macro_f1 += s.f1[l];
    ++present;
  }
  s.macro_f1 = present == 0 ? 0 : s.macro_f1 / static_cast<double>(present);
  return s;
}

void Train(const LabelledRows& all_train, const LabelledRows& test, const TrainOptions& o,
           detect::ml::Bundle& bundle) {
  const size_t d = all_train.d, groups = bundle.classes.size();
  if (test.size() == 0) throw std::invalid_argument("no held-out rows to evaluate on");
  LabelledRows train, valid;
  StratifiedSplit(all_train, o.validation_fraction, o.seed + 1, train, valid,
                  o.validation_by_group);
  Progress(o, "split: " + std::to_string(train.size()) + " train, " + std::to_string(valid.size()) +
                  " validation, " + std::to_string(test.size()) + " held-out rows");

  // Gate: benign (0) vs attack (1) on every row.
  std::vector<float> gate_train_y(train.size()), gate_valid_y(valid.size());
  for (size_t i = 0; i < train.size(); ++i) gate_train_y[i] = train.y[i] > 0 ? 1.f : 0.f;
  for (size_t i = 0; i < valid.size(); ++i) gate_valid_y[i] = valid.y[i] > 0 ? 1.f : 0.f;
  const DMatrix gate_train(train.x, train.size(), d, gate_train_y);
  if (o.balance) gate_train.SetWeights(BalancedWeights(gate_train_y));
  const DMatrix gate_valid(valid.x, valid.size(), d, gate_valid_y);
  Booster gate = Fit("gate", gate_train, gate_valid,
                     {{"objective", "binary:logistic"}, {"eval_metric", "logloss"}}, o);

  // Multiclass over the attack classes, on attack rows only.
  std::vector<size_t> train_attacks, valid_attacks;
  std::vector<float> mc_train_y, mc_valid_y;
  for (size_t i = 0; i < train.size(); ++i) {
    if (train.y[i] == 0) continue;
    train_attacks.push_back(i);
    mc_train_y.push_back(static_cast<float>(train.y[i] - 1));
  }
  for (size_t i = 0; i < valid.size(); ++i) {
    if (valid.y[i] == 0) continue;
    valid_attacks.push_back(i);
    mc_valid_y.push_back(static_cast<float>(valid.y[i] - 1));
  }
  const std::vector<float> mc_train_x = Subset(train, train_attacks);
  const std::vector<float> mc_valid_x = Subset(valid, valid_attacks);
  const DMatrix mc_train(mc_train_x, train_attacks.size(), d, mc_train_y);
  if (o.balance) mc_train.SetWeights(BalancedWeights(mc_train_y));
  const DMatrix mc_valid(mc_valid_x, valid_attacks.size(), d, mc_valid_y);
  Booster multiclass = Fit("multiclass", mc_train, mc_valid,
                           {{"objective", "multi:softprob"},
                            {"num_class", std::to_string(groups)},
                            {"eval_metric", "mlogloss"}},
                           o);

  // Calibration and thresholds on the validation split only.
  std::vector<int> truth;
  for (float y : mc_valid_y) truth.push_back(static_cast<int>(y));
  std::vector<float> valid_margins;
  if (!valid_attacks.empty()) {
    const auto m =
        multiclass.Predict(mc_valid_x.data(), valid_attacks.size(), d, PredictKind::kMargin);
    valid_margins.assign(m.begin(), m.end());
  }
  bundle.temperature = FitTemperature(valid_margins, truth, groups);

  std::vector<float> gate_p;
  if (valid.size() > 0) {
    const auto p = gate.Predict(valid.x.data(), valid.size(), d, PredictKind::kValue);
    gate_p.assign(p.begin(), p.end());
  }
  size_t valid_benign = 0;
  for (int y : valid.y) valid_benign += y == 0 ? 1 : 0;
  std::vector<double> candidates = {0.5};
  for (int t = 1; t < 20; ++t) candidates.push_back(t * 0.05);
  double best_score = -2;
  for (double t : candidates) {
    uint64_t tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < valid.size(); ++i) {
      const bool attack = valid.y[i] > 0, flagged = gate_p[i] >= t;
      tp += attack && flagged;
      fp += !attack && flagged;
      fn += attack && !flagged;
    }
    const double fpr = valid_benign == 0 ? 0 : static_cast<double>(fp) / valid_benign;
    const double score = F1(tp, fp, fn) - (fpr <= o.max_benign_fpr ? 0 : 1);
    if (score > best_score + 1e-12) {
      best_score = score;
      bundle.gate_threshold = t;
    }
  }

  // Per-class thresholds: each class's validation F1 (the others at 0).
  std::vector<int> top(valid.size(), -1);
  std::vector<double> top_p(valid.size(), 0);
  if (valid.size() > 0) {
    const auto m = multiclass.Predict(valid.x.data(), valid.size(), d, PredictKind::kMargin);
    for (size_t i = 0; i < valid.size(); ++i) {
      if (gate_p[i] < bundle.gate_threshold) continue;
      const float* row = &m[i * groups];
      const size_t t = static_cast<size_t>(std::max_element(row, row + groups) - row);
      double z = 0;
      for (size_t c = 0; c < groups; ++c) z += std::exp((row[c] - row[t]) / bundle.temperature);
      top[i] = static_cast<int>(t);
      top_p[i] = 1.0 / z;
    }
  }
  for (size_t c = 0; c < groups; ++c) {
    double best = -1;
    for (double t : {0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}) {
      uint64_t tp = 0, fp = 0, fn = 0;
      for (size_t i = 0; i < valid.size(); ++i) {
        const bool is_c = valid.y[i] == static_cast<int>(c) + 1;
        const bool said_c = top[i] == static_cast<int>(c) && top_p[i] >= t;
        tp += is_c && said_c;
        fp += !is_c && said_c;
        fn += is_c && !said_c;
      }
      if (F1(tp, fp, fn) > best + 1e-12) {
        best = F1(tp, fp, fn);
        bundle.classes[c].threshold = t;
      }
    }
  }
  Progress(o, "calibration: temperature " + std::to_string(bundle.temperature) +
                  ", gate threshold " + std::to_string(bundle.gate_threshold));

  // K-Means on benign training rows; the threshold from benign validation rows when there are
  // enough of them, else from all benign rows seen in training.
  std::vector<size_t> benign_train, benign_valid;
  for (size_t i = 0; i < train.size(); ++i) {
    if (train.y[i] == 0) benign_train.push_back(i);
  }
  for (size_t i = 0; i < valid.size(); ++i) {
    if (valid.y[i] == 0) benign_valid.push_back(i);
  }
  const std::vector<float> benign_x = Subset(train, benign_train);
  bundle.kmeans = FitKMeans(benign_x, benign_train.size(), d, o.clusters, o.seed);
  std::vector<float> threshold_x = Subset(valid, benign_valid);
  size_t threshold_n = benign_valid.size();
  if (threshold_n < 100) {
    threshold_x.insert(threshold_x.end(), benign_x.begin(), benign_x.end());
    threshold_n += benign_train.size();
  }
  SetThreshold(bundle.kmeans, threshold_x, threshold_n, d, o.anomaly_percentile);
  Progress(o, "k-means: " + std::to_string(bundle.kmeans.k) + " centroids, threshold " +
                  std::to_string(bundle.kmeans.threshold) + " (p" +
                  std::to_string(o.anomaly_percentile) + ")");

  bundle.gate_model = gate.Save("ubj");
  bundle.multiclass_model = multiclass.Save("ubj");

  // Importances: each model's total gain normalised, averaged.
  std::vector<double> importance(d, 0);
  for (const Booster* b : {&gate, &multiclass}) {
    const std::vector<double> gain = b->TotalGain(d);
    const double total = std::accumulate(gain.begin(), gain.end(), 0.0);
    for (size_t j = 0; j < d && total > 0; ++j) importance[j] += gain[j] / total / 2;
  }
  bundle.importances.clear();
  for (size_t j = 0; j < d; ++j) {
    if (importance[j] > 0) bundle.importances.emplace_back(bundle.features[j], importance[j]);
  }
  std::stable_sort(bundle.importances.begin(), bundle.importances.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });

  // Held-out metrics of the agent's verdict path.
  const detect::ml::Classifier classifier(bundle);
  std::vector<detect::ml::Verdict> verdicts;
  classifier.Classify(test.x, test.size(), verdicts);
  const size_t labels = groups + 1;
  detect::ml::BundleMetrics& m = bundle.metrics;
  m = {};
  m.labels.push_back(std::string(detect::ml::kBenign));
  for (const auto& c : bundle.classes) m.labels.push_back(c.name);
  m.confusion.assign(labels * labels, 0);
  uint64_t benign = 0, benign_alerts = 0;
  for (size_t i = 0; i < test.size(); ++i) {
    const int label = verdicts[i].label;
    const size_t predicted = label >= 0 ? static_cast<size_t>(label) + 1 : 0;
    m.confusion[static_cast<size_t>(test.y[i]) * labels + predicted]++;
    if (test.y[i] == 0) {
      ++benign;
      benign_alerts += label != detect::ml::Verdict::kBenign ? 1 : 0;
    }
  }
  const LabelScores s = Score(m.confusion, labels);
  for (size_t c = 0; c < groups; ++c) {
    bundle.classes[c].precision = s.precision[c + 1];
    bundle.classes[c].recall = s.recall[c + 1];
    bundle.classes[c].f1 = s.f1[c + 1];
    bundle.classes[c].support = s.support[c + 1];
  }
  m.benign_precision = s.precision[0];
  m.benign_recall = s.recall[0];
  m.benign_f1 = s.f1[0];
  m.benign_support = s.support[0];
  m.macro_f1 = s.macro_f1;
  m.benign_fpr = benign == 0 ? 0 : static_cast<double>(benign_alerts) / benign;
  m.test_rows = test.size();
}

}  // namespace netguard::ngtrain
