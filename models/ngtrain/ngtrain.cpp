// ngtrain: trains a NetGuard model bundle (docs/models.md) from labelled flow CSVs.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "csv_import.h"
#include "dataset.h"
#include "detect/ml/bundle.h"
#include "detect/ml/classifier.h"
#include "detect/ml/xgb.h"
#include "label_map.h"
#include "trainer.h"

namespace {

using namespace netguard;

// "FILE" or "FILE=LABEL" (every row of FILE gets LABEL).
std::pair<std::string, std::string> FileAndLabel(const std::string& arg) {
  const size_t eq = arg.rfind('=');
  if (eq == std::string::npos || std::filesystem::exists(arg)) return {arg, ""};
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

std::vector<ngtrain::CsvTable> ReadAll(const std::vector<std::string>& args, nlohmann::json& log) {
  std::vector<ngtrain::CsvTable> tables;
  for (const std::string& arg : args) {
    const auto [path, label] = FileAndLabel(arg);
    const auto start = std::chrono::steady_clock::now();
    tables.push_back(ngtrain::ReadFlowCsv(path, label));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "read %s: %zu rows (%.1fs)\n", path.c_str(), tables.back().rows.size(),
                 seconds);
    log.push_back({{"file", std::filesystem::path(path).filename().string()},
                   {"sha256", tables.back().sha256},
                   {"rows", tables.back().rows.size()},
                   {"label", label}});
  }
  return tables;
}

std::string FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
  return detect::ml::Sha256Hex(bytes);
}

// The installed label map, else the source tree's (a build that was not installed).
std::string DefaultLabelMap() {
  return std::filesystem::exists(NGTRAIN_INSTALLED_LABEL_MAP) ? NGTRAIN_INSTALLED_LABEL_MAP
                                                              : NGTRAIN_SOURCE_LABEL_MAP;
}

void PrintCounts(const char* what, const ngtrain::Dataset& ds) {
  std::fprintf(stderr, "%s:", what);
  for (const auto& [cls, n] : ds.rows_per_class) std::fprintf(stderr, " %s=%zu", cls.c_str(), n);
  std::fprintf(stderr, "\n");
  for (const auto& [label, n] : ds.dropped) {
    std::fprintf(stderr, "  dropped %zu rows labelled %s\n", n, label.c_str());
  }
}

ngtrain::AssembleOptions HeldOptions(const ngtrain::Dataset& train) {
  return {.features = train.features,
          .exclude = {},
          .classes = train.classes,
          .min_class_rows = 0,
          .mode = train.mode};
}

// Held-out recall per file (one labelled run each) and its most frequent wrong verdict: which
// runs the model does not generalise to.
void PrintPerFile(const detect::ml::Bundle& bundle, const std::vector<ngtrain::CsvTable>& tables,
                  const ngtrain::LabelMap& map, const ngtrain::Dataset& train) {
  const detect::ml::Classifier model(bundle);
  std::printf("held-out recall per file\n");
  for (const ngtrain::CsvTable& t : tables) {
    const ngtrain::Dataset ds = ngtrain::Assemble({t}, map, HeldOptions(train));
    std::vector<detect::ml::Verdict> verdicts;
    model.Classify(ds.rows.x, ds.rows.size(), verdicts);
    std::map<int, size_t> wrong;
    size_t right = 0;
    for (size_t i = 0; i < verdicts.size(); ++i) {
      const int got = verdicts[i].label >= 0 ? verdicts[i].label + 1 : 0;
      if (got == ds.rows.y[i]) {
        ++right;
      } else {
        wrong[got]++;
      }
    }
    const auto worst =
        std::max_element(wrong.begin(), wrong.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    std::printf("  %-40s %6zu rows  %6.1f%%", std::filesystem::path(t.path).filename().c_str(),
                verdicts.size(), verdicts.empty() ? 100.0 : 100.0 * right / verdicts.size());
    if (worst != wrong.end()) {
      std::printf("  (most often %s: %zu)",
                  worst->first == 0 ? "BENIGN" : bundle.classes[worst->first - 1].name.c_str(),
                  worst->second);
    }
    std::printf("\n");
  }
}

void PrintMetrics(const detect::ml::Bundle& b) {
  const detect::ml::BundleMetrics& m = b.metrics;
  std::printf("held-out metrics (%llu rows)\n%-16s %9s %9s %9s %8s %10s\n",
              static_cast<unsigned long long>(m.test_rows), "class", "precision", "recall", "f1",
              "support", "threshold");
  std::printf("%-16s %9.4f %9.4f %9.4f %8llu %10.2f\n", "BENIGN", m.benign_precision,
              m.benign_recall, m.benign_f1, static_cast<unsigned long long>(m.benign_support),
              b.gate_threshold);
  for (const auto& c : b.classes) {
    std::printf("%-16s %9.4f %9.4f %9.4f %8llu %10.2f  %s\n", c.name.c_str(), c.precision, c.recall,
                c.f1, static_cast<unsigned long long>(c.support), c.threshold, c.mitre.c_str());
  }
  std::printf("macro-F1 %.4f, benign false-positive rate %.2e\n", m.macro_f1, m.benign_fpr);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "ngtrain - trains a NetGuard model bundle (gate, multiclass, K-Means) from "
      "labelled flow CSVs: netguardd --flows-csv output with a Label column, CICIDS2017 "
      "or CICFlowMeter-V4 files."};
  std::vector<std::string> csv, holdout, exclude;
  std::string mode_name = std::string(features::kModeCic2017), label_map_path, out, name;
  double test_fraction = 0.2;
  ngtrain::TrainOptions options;
  ngtrain::AssembleOptions assemble;
  cli.add_option("--csv", csv, "Training CSV (repeatable); FILE=LABEL labels every row")
      ->required();
  cli.add_option("--features", mode_name, "Feature mode the CSVs were made with")
      ->check(CLI::IsMember(
          {std::string(features::kModeCic2017), std::string(features::kModeCorrected)}));
  cli.add_option("--label-map", label_map_path, "Label map YAML")
      ->default_str(DefaultLabelMap())
      ->check(CLI::ExistingFile);
  auto* fraction = cli.add_option("--test-fraction", test_fraction,
                                  "Stratified share of --csv rows held out for metrics")
                       ->check(CLI::Range(0.01, 0.9));
  cli.add_option("--holdout-csv", holdout, "Held-out CSV (repeatable) instead of a split")
      ->excludes(fraction);
  cli.add_option("--seed", options.seed, "Seed of every split, XGBoost and K-Means")->required();
  cli.add_option("--out", out, "Bundle directory to write")->required();
  cli.add_option("--name", name, "Bundle name (default: the directory name)");
  cli.add_option("--exclude-feature", exclude, "Feature not to use (repeatable)");
  cli.add_option("--rounds", options.rounds, "Boosting rounds per model")
      ->check(CLI::Range(1, 5000));
  cli.add_option("--max-depth", options.max_depth, "Tree depth")->check(CLI::Range(1, 16));
  cli.add_option("--eta", options.eta, "Learning rate")->check(CLI::Range(0.001, 1.0));
  cli.add_option("--threads", options.threads, "XGBoost threads (results depend on it)")
      ->check(CLI::Range(1, 256));
  cli.add_option("--clusters", options.clusters, "K-Means clusters on benign flows")
      ->check(CLI::Range(1, 256));
  auto* percentile =
      cli.add_option("--anomaly-percentile", options.anomaly_percentile,
                     "Percentile of benign distances above which a flow is an anomaly (default: "
                     "100·(1 − --max-benign-fpr), so anomalies keep the same benign FPR budget)")
          ->check(CLI::Range(50.0, 100.0));
  cli.add_option("--max-benign-fpr", options.max_benign_fpr,
                 "Validation benign false-positive rate the gate threshold must keep")
      ->check(CLI::Range(0.0, 1.0));
  bool no_balance = false, keep_port = false;
  cli.add_flag("--validation-by-file", options.validation_by_group,
               "Validation = whole --csv files (20% of each class's files), not rows: "
               "calibration and thresholds then see runs the models were not trained on");
  cli.add_flag("--no-balance", no_balance,
               "Do not weight rows so that every class counts the same (the default balances)");
  cli.add_flag("--keep-port", keep_port,
               "Use Destination Port as a feature (left out by default: which service a flow "
               "talks to says little about whether it attacks, and models learn the data's ports)");
  cli.add_option("--min-class-rows", assemble.min_class_rows,
                 "Classes with fewer rows are dropped");
  CLI11_PARSE(cli, argc, argv);
  if (label_map_path.empty()) label_map_path = DefaultLabelMap();
  options.test_fraction = test_fraction;
  if (percentile->count() == 0) {
    options.anomaly_percentile = std::max(50.0, 100.0 * (1.0 - options.max_benign_fpr));
  }
  options.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  assemble.exclude = exclude;
  options.balance = !no_balance;
  if (!keep_port) assemble.exclude.push_back("Destination Port");
  assemble.mode = *features::ParseFeatureMode(mode_name);

  try {
    const ngtrain::LabelMap map = ngtrain::LabelMap::Load(label_map_path);
    nlohmann::json data = nlohmann::json::array(), holdout_data = nlohmann::json::array();
    const ngtrain::Dataset train = ngtrain::Assemble(ReadAll(csv, data), map, assemble);
    PrintCounts("training rows", train);
    ngtrain::LabelledRows fit, test;
    std::vector<ngtrain::CsvTable> held_tables;
    if (holdout.empty()) {
      ngtrain::StratifiedSplit(train.rows, test_fraction, options.seed, fit, test);
    } else {
      fit = train.rows;
      held_tables = ReadAll(holdout, holdout_data);
      const ngtrain::Dataset held = ngtrain::Assemble(held_tables, map, HeldOptions(train));
      PrintCounts("held-out rows", held);
      test = held.rows;
    }

    detect::ml::Bundle bundle;
    bundle.name =
        name.empty() ? std::filesystem::path(out).lexically_normal().filename().string() : name;
    if (bundle.name.empty()) bundle.name = "bundle";
    bundle.feature_mode = mode_name;
    bundle.features = train.features;
    for (const std::string& cls : train.classes) {
      bundle.classes.push_back({.name = cls, .mitre = map.Technique(cls)});
    }
    ngtrain::Train(fit, test, options, bundle);
    bundle.provenance_json = nlohmann::json{
        {"trainer", "ngtrain"},
        {"xgboost", detect::ml::XgbVersion()},
        {"seed", options.seed},
        {"data", data},
        {"holdout", holdout.empty() ? nlohmann::json(test_fraction) : holdout_data},
        {"label_map_sha256", FileSha256(label_map_path)},
        {"parameters",
         {{"rounds", options.rounds},
          {"max_depth", options.max_depth},
          {"eta", options.eta},
          {"threads", options.threads},
          {"clusters", options.clusters},
          {"anomaly_percentile", options.anomaly_percentile},
          {"validation_fraction", options.validation_fraction},
          {"max_benign_fpr", options.max_benign_fpr},
          {"balance", options.balance},
          {"validation_by_file", options.validation_by_group},
          {"excluded_features",
           exclude}}}}.dump();
    detect::ml::WriteBundle(bundle, out);
    detect::ml::LoadBundle(out);  // what was written reads back
    PrintMetrics(bundle);
    if (!held_tables.empty()) PrintPerFile(bundle, held_tables, map, train);
    std::printf("bundle written to %s (checksum %s)\n", out.c_str(), bundle.checksum.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ngtrain: %s\n", e.what());
    return 1;
  }
}
