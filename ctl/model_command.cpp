#include "model_command.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace netguard::ctl {
namespace {

std::string Fixed(double v, const char* format = "%.4f") {
  char text[32];
  std::snprintf(text, sizeof(text), format, v);
  return text;
}

int Print(const v1::ModelInfo& info, Format format) {
  if (format == Format::kJson) {
    std::cout << ToJsonLine(info) << '\n';
  } else {
    PrintModel(info, format == Format::kWide, std::cout);
  }
  return kExitOk;
}

}  // namespace

void PrintModel(const v1::ModelInfo& info, bool wide, std::ostream& out) {
  if (!info.loaded()) {
    out << "no model bundle loaded: the agent runs on its rules\n";
    if (!info.path().empty()) out << "configured path  " << info.path() << '\n';
    if (!info.error().empty()) out << "last error       " << info.error() << '\n';
    return;
  }
  out << "model            " << info.name() << '\n'
      << "path             " << info.path() << '\n'
      << "feature mode     " << info.feature_mode() << " (" << info.features_size()
      << " features)\n"
      << "macro-F1         " << Fixed(info.macro_f1()) << " (held-out)\n"
      << "benign FPR       " << Fixed(info.benign_false_positive_rate(), "%.2e") << '\n'
      << "anomaly distance " << Fixed(info.anomaly_threshold(), "%.3f") << '\n';
  if (!info.error().empty()) out << "last reload      failed: " << info.error() << '\n';
  out << '\n';
  Table classes({"CLASS", "MITRE", "THRESHOLD", "PRECISION", "RECALL", "F1", "SUPPORT"});
  for (const v1::ClassMetrics& c : info.classes()) {
    classes.Add({c.name(), c.mitre_technique().empty() ? "-" : c.mitre_technique(),
                 Fixed(c.threshold(), "%.2f"), Fixed(c.precision()), Fixed(c.recall()),
                 Fixed(c.f1()), std::to_string(c.support())});
  }
  classes.Print(out);
  out << '\n';
  Table features({"FEATURE", "IMPORTANCE"});
  const int shown = wide ? info.importances_size() : std::min(info.importances_size(), 10);
  for (int i = 0; i < shown; ++i) {
    features.Add({info.importances(i).feature(), Fixed(info.importances(i).importance())});
  }
  features.Print(out);
  if (!wide || info.labels_size() == 0) return;
  out << "\nconfusion (rows: true class, columns: predicted)\n";
  std::vector<std::string> header = {""};
  header.insert(header.end(), info.labels().begin(), info.labels().end());
  Table confusion(header);
  const int n = info.labels_size();
  for (int i = 0; i < n && info.confusion_size() == n * n; ++i) {
    std::vector<std::string> row = {info.labels(i)};
    for (int j = 0; j < n; ++j) row.push_back(std::to_string(info.confusion(i * n + j)));
    confusion.Add(row);
  }
  confusion.Print(out);
  out << "\nprovenance " << info.provenance_json() << '\n';
}

int RunModelShow(Client& client, Format format) {
  v1::ModelInfo info;
  const grpc::Status s =
      client.stub().GetModel(client.UnaryContext().get(), v1::GetModelRequest(), &info);
  if (!s.ok()) throw client.Failure(s);
  return Print(info, format);
}

int RunModelReload(Client& client, Format format, const std::string& path) {
  v1::ReloadModelRequest request;
  request.set_path(path);
  v1::ModelInfo info;
  const grpc::Status s = client.stub().ReloadModel(client.UnaryContext().get(), request, &info);
  if (!s.ok()) throw client.Failure(s);
  return Print(info, format);
}

}  // namespace netguard::ctl
