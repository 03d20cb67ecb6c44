// ml_classify: classification throughput of the agent's ML path on one core, in flows/s, next
// to a bare XGBoost C API batch predict on the same bundle and rows; checks both give the same
// verdicts.
//
// Flows: --flows synthetic TCP flows (a mix of HTTPS exchanges, SYN/RST probes and SSH-like
// login bursts, random sizes and timings) built with the shared per-packet update rule. Paths:
//   agent        MlDetector::OnFlowEnd for every flow (FlowRecord copy + ComputeFeatures in the
//                bundle's mode + the context features), Flush every --batch flows (gather, gate,
//                multiclass, per-class thresholds, K-Means for benign verdicts, alerts with 5 SHAP
//                evidence features)
//   agent_no_evidence  the same with evidence off (no per-alert contribution predict)
//   classify     the agent's verdict path without the detector around it: ComputeFeatures +
//                FlowContext::Observe + Gather + Classifier::Classify per batch (K-Means distance
//                for benign rows)
//   classify_no_kmeans  the same with model.anomalies off: features -> gate -> multiclass
//   bare         the rows already gathered as floats; XGBoosterPredictFromDense of the gate on
//                each batch, then of the multiclass model on the rows past the gate threshold
// The process is pinned to --cpu; XGBoost runs with nthread=1. Best of --repeat runs. Prints one
// JSON object. See docs/benchmarks.md.
#include <sched.h>
#include <xgboost/c_api.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "detect/ml/classifier.h"
#include "detect/ml/ml_detector.h"
#include "detect/ml/model_slot.h"
#include "features/context.h"
#include "unit/ml_test_util.h"

namespace netguard::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct CountingSink : detect::AlertSink {
  void Emit(Alert alert) override { alerts += alert.alert_class.empty() ? 0 : 1; }
  uint64_t alerts = 0;
};

void Check(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string(what) + ": " + XGBGetLastError());
}

// The bare C API side: two boosters, loaded from the bundle's own model bytes.
class Bare {
 public:
  explicit Bare(const detect::ml::Bundle& b) : bundle_(b) {
    for (auto [handle, bytes] :
         {std::pair{&gate_, &b.gate_model}, {&multi_, &b.multiclass_model}}) {
      Check(XGBoosterCreate(nullptr, 0, handle), "XGBoosterCreate");
      Check(XGBoosterLoadModelFromBuffer(*handle, bytes->data(), bytes->size()), "load");
      Check(XGBoosterSetParam(*handle, "nthread", "1"), "nthread");
    }
  }
  ~Bare() {
    XGBoosterFree(gate_);
    XGBoosterFree(multi_);
  }
  // Labels of `n` rows: class index, or -1 (benign).
  void Predict(const float* rows, size_t n, std::vector<int>& labels) {
    const size_t d = bundle_.features.size(), groups = bundle_.classes.size();
    const float* gate = Run(gate_, rows, n, d);
    passed_.clear();
    index_.clear();
    for (size_t i = 0; i < n; ++i) {
      labels[i] = -1;
      if (gate[i] < bundle_.gate_threshold) continue;
      passed_.insert(passed_.end(), rows + i * d, rows + (i + 1) * d);
      index_.push_back(i);
    }
    if (index_.empty()) return;
    const float* m = Run(multi_, passed_.data(), index_.size(), d, 1);
    for (size_t a = 0; a < index_.size(); ++a) {
      const float* row = m + a * groups;
      const size_t top = static_cast<size_t>(std::max_element(row, row + groups) - row);
      double z = 0;
      for (size_t c = 0; c < groups; ++c) z += std::exp((row[c] - row[top]) / bundle_.temperature);
      if (1.0 / z >= bundle_.classes[top].threshold) labels[index_[a]] = static_cast<int>(top);
    }
  }

 private:
  static const float* Run(BoosterHandle h, const float* rows, size_t n, size_t d, int type = 0) {
    const std::string array = "{\"data\":[" + std::to_string(reinterpret_cast<uintptr_t>(rows)) +
                              ",true],\"shape\":[" + std::to_string(n) + "," + std::to_string(d) +
                              "],\"typestr\":\"<f4\",\"version\":3}";
    const std::string config = "{\"type\":" + std::to_string(type) +
                               ",\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
                               "\"strict_shape\":false,\"cache_id\":0,\"missing\":NaN}";
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* out = nullptr;
    Check(XGBoosterPredictFromDense(h, array.c_str(), config.c_str(), nullptr, &shape, &dim, &out),
          "XGBoosterPredictFromDense");
    return out;
  }
  const detect::ml::Bundle& bundle_;
  BoosterHandle gate_ = nullptr;
  BoosterHandle multi_ = nullptr;
  std::vector<float> passed_;
  std::vector<size_t> index_;
};

// Best wall-clock seconds of `repeat` runs of `f`.
double Best(int repeat, const std::function<void()>& f) {
  double best = 1e30;
  for (int r = 0; r < repeat; ++r) {
    const auto start = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

}  // namespace
}  // namespace netguard::bench

int main(int argc, char** argv) {
  using namespace netguard;
  CLI::App cli{"ml_classify: flows/s of the agent's ML path next to a bare XGBoost batch predict"};
  std::string bundle_dir = NETGUARD_SOURCE_DIR "/models/default";
  size_t flows = 100000, batch = 1024;
  int repeat = 3, cpu = 1;
  uint64_t seed = 1;
  cli.add_option("--bundle", bundle_dir, "Model bundle directory")->check(CLI::ExistingDirectory);
  cli.add_option("--flows", flows, "Synthetic flows classified per run");
  cli.add_option("--batch", batch, "Flows per classification batch (the agent: per sweep)");
  cli.add_option("--repeat", repeat, "Runs per path; the best counts");
  cli.add_option("--cpu", cpu, "CPU to pin to");
  cli.add_option("--seed", seed, "Seed of the synthetic flows");
  CLI11_PARSE(cli, argc, argv);

  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) std::perror("sched_setaffinity");

  try {
    const detect::ml::Bundle bundle = detect::ml::LoadBundle(bundle_dir);
    const features::FeatureMode mode = *features::ParseFeatureMode(bundle.feature_mode);
    auto slot = std::make_shared<detect::ml::ModelSlot>(mode, bundle_dir);
    const auto model = slot->Load();
    const size_t d = model->num_features();

    std::mt19937_64 rng(seed);
    std::vector<FlowRecord> records;
    for (size_t i = 0; i < flows; ++i) {
      records.push_back(testing::SyntheticFlow(static_cast<testing::FlowKind>(i % 3), rng));
    }
    // Handed over in the order they finish, as the agent's pipeline sees them.
    std::stable_sort(records.begin(), records.end(),
                     [](const FlowRecord& a, const FlowRecord& b) { return a.end_ns < b.end_ns; });
    // A flow's features as the agent computes them: the per-flow ones, then the context counts
    // over the flows finished before it (a fresh FlowContext per pass over the flows).
    const auto featurize = [mode](const FlowRecord& f, features::FlowContext& context) {
      features::FeatureVector v = features::ComputeFeatures(f, mode);
      context.Observe(f, v);
      return v;
    };
    std::vector<float> rows(flows * d);
    features::FlowContext rows_context;
    for (size_t i = 0; i < flows; ++i) {
      model->Gather(featurize(records[i], rows_context), &rows[i * d]);
    }

    nlohmann::json out = {{"bundle", bundle.name},
                          {"feature_mode", bundle.feature_mode},
                          {"features", d},
                          {"classes", bundle.classes.size()},
                          {"flows", flows},
                          {"batch", batch},
                          {"cpu", cpu}};
    uint64_t alerts = 0;
    for (const size_t evidence : {size_t{5}, size_t{0}}) {
      const double s = bench::Best(repeat, [&] {
        detect::ml::MlDetector detector(
            slot, {.anomalies = true, .max_batch = batch, .top_features = evidence});
        bench::CountingSink sink;
        for (const FlowRecord& f : records) detector.OnFlowEnd(f, sink);
        detector.Flush(sink);
        alerts = sink.alerts;
      });
      out[evidence ? "agent" : "agent_no_evidence"] = {{"flows_per_s", flows / s},
                                                       {"alerts", alerts}};
    }

    std::vector<detect::ml::Verdict> verdicts, all(flows);
    std::vector<float> scratch;
    const auto classify = [&](bool anomalies) {
      features::FlowContext context;
      for (size_t start = 0; start < flows; start += batch) {
        const size_t n = std::min(batch, flows - start);
        scratch.resize(n * d);
        for (size_t i = 0; i < n; ++i) {
          model->Gather(featurize(records[start + i], context), &scratch[i * d]);
        }
        model->Classify(scratch, n, verdicts, anomalies);
        std::copy(verdicts.begin(), verdicts.end(), all.begin() + static_cast<long>(start));
      }
    };
    // Parts of the path, for the record: features alone, K-Means distance on every row.
    std::vector<float> row(d);
    float sink_value = 0;
    const double features_s = bench::Best(repeat, [&] {
      features::FlowContext context;
      for (const FlowRecord& f : records) {
        model->Gather(featurize(f, context), row.data());
        sink_value += row[0];
      }
    });
    const double kmeans_s = bench::Best(repeat, [&] {
      for (size_t i = 0; i < flows; ++i)
        sink_value += static_cast<float>(model->Distance(&rows[i * d]));
    });
    out["features_only"] = {{"flows_per_s", flows / features_s}};
    out["kmeans_only_all_rows"] = {{"flows_per_s", flows / kmeans_s}};
    if (sink_value == 42) std::cerr << "";
    bench::Bare bare(bundle);
    std::vector<int> labels(flows), part(batch);
    const auto run_bare = [&] {
      for (size_t start = 0; start < flows; start += batch) {
        const size_t n = std::min(batch, flows - start);
        bare.Predict(&rows[start * d], n, part);
        std::copy_n(part.begin(), n, labels.begin() + static_cast<long>(start));
      }
    };
    // Interleaved, so load from other processes hits the three paths alike; the last classify
    // leaves its verdicts in `all` for the comparison.
    double classify_s = 1e30, classify_plain_s = 1e30, bare_s = 1e30;
    for (int r = 0; r < repeat; ++r) {
      classify_s = std::min(classify_s, bench::Best(1, [&] { classify(true); }));
      bare_s = std::min(bare_s, bench::Best(1, run_bare));
      classify_plain_s = std::min(classify_plain_s, bench::Best(1, [&] { classify(false); }));
    }
    size_t same = 0;
    for (size_t i = 0; i < flows; ++i) {
      const int agent = all[i].label >= 0 ? all[i].label : -1;  // anomalies are benign verdicts
      same += agent == labels[i] ? 1 : 0;
    }
    out["classify"] = {{"flows_per_s", flows / classify_s}};
    out["bare"] = {{"flows_per_s", flows / bare_s}};
    out["classify_no_kmeans"] = {{"flows_per_s", flows / classify_plain_s}};
    out["classify_overhead"] = classify_s / bare_s - 1;
    out["classify_no_kmeans_overhead"] = classify_plain_s / bare_s - 1;
    out["same_verdicts"] = same;
    out["verdicts_match"] = same == flows;
    std::cout << out.dump(2) << std::endl;
    return same == flows ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "ml_classify: " << e.what() << std::endl;
    return 2;
  }
}
