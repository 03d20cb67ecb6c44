#include "dataset.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "detect/ml/bundle.h"
#include "detect/ml/classifier.h"

namespace netguard::ngtrain {

Dataset Assemble(const std::vector<CsvTable>& tables, const LabelMap& map,
                 const AssembleOptions& options) {
  Dataset ds;
  ds.mode = options.mode;
  // Classes of each row first (unknown labels are errors wherever they are).
  std::vector<std::vector<std::string>> row_class(tables.size());
  std::map<std::string, size_t> count;
  for (size_t t = 0; t < tables.size(); ++t) {
    for (size_t i = 0; i < tables[t].rows.size(); ++i) {
      const std::optional<std::string> cls = map.ClassOf(tables[t].labels[i]);
      if (!cls) {
        throw CsvError(tables[t].path + ":" + std::to_string(tables[t].lines[i]) +
                       ": unknown label '" + tables[t].labels[i] + "' (add it to the label map)");
      }
      if (cls->empty()) {
        ds.dropped[tables[t].labels[i]]++;
      } else if (features::IsConnectionRemnant(tables[t].rows[i], options.mode)) {
        ds.dropped[*cls + " (connection remnants)"]++;
        row_class[t].emplace_back();
        continue;
      }
      row_class[t].push_back(*cls);
      count[*cls]++;
    }
  }
  const std::string benign(detect::ml::kBenign);
  if (options.classes.empty()) {
    for (const std::string& cls : map.classes()) {
      if (cls == benign || count[cls] == 0) continue;
      if (count[cls] >= options.min_class_rows) {
        ds.classes.push_back(cls);
      } else {
        ds.dropped[cls + " (class under " + std::to_string(options.min_class_rows) + " rows)"] +=
            count[cls];
      }
    }
    if (ds.classes.size() < 2) {
      throw std::invalid_argument("need rows of at least two attack classes, found " +
                                  std::to_string(ds.classes.size()));
    }
  } else {
    ds.classes = options.classes;
  }
  if (count[benign] == 0) throw std::invalid_argument("no BENIGN rows");

  std::vector<size_t> index;
  if (options.features.empty()) {
    for (size_t f = 0; f < features::kFeatureCount; ++f) {
      const bool everywhere = std::all_of(tables.begin(), tables.end(),
                                          [f](const CsvTable& t) { return t.present[f]; });
      const bool excluded =
          std::any_of(options.exclude.begin(), options.exclude.end(),
                      [f](const std::string& e) { return features::FeatureIndex(e) == f; });
      if (everywhere && !excluded) index.push_back(f);
    }
  } else {
    for (const std::string& name : options.features) {
      const auto f = features::FeatureIndex(name);
      if (!f) throw std::invalid_argument("unknown feature '" + name + "'");
      for (const CsvTable& t : tables) {
        if (!t.present[*f]) throw CsvError(t.path + ":1: no column for feature '" + name + "'");
      }
      index.push_back(*f);
    }
  }
  for (size_t f : index) ds.features.push_back(detect::ml::BundleFeatureName(f));
  ds.rows.d = index.size();

  for (size_t t = 0; t < tables.size(); ++t) {
    for (size_t i = 0; i < tables[t].rows.size(); ++i) {
      const std::string& cls = row_class[t][i];
      int y = -1;
      if (cls == benign) {
        y = 0;
      } else if (const auto it = std::find(ds.classes.begin(), ds.classes.end(), cls);
                 it != ds.classes.end()) {
        y = static_cast<int>(it - ds.classes.begin()) + 1;
      }
      if (y < 0) {
        if (!cls.empty() && !options.classes.empty()) ds.dropped[cls + " (not a model class)"]++;
        continue;
      }
      for (size_t f : index) {
        ds.rows.x.push_back(detect::ml::ToModelValue(tables[t].rows[i][f]));  // as the agent
      }
      ds.rows.y.push_back(y);
      ds.rows.group.push_back(static_cast<uint32_t>(t));
      ds.rows_per_class[cls]++;
    }
  }
  return ds;
}

}  // namespace netguard::ngtrain
