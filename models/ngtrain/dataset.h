// From CSV tables to training rows: labels mapped to classes, the feature columns chosen.
#ifndef NETGUARD_MODELS_NGTRAIN_DATASET_H_
#define NETGUARD_MODELS_NGTRAIN_DATASET_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "csv_import.h"
#include "features/features.h"
#include "label_map.h"
#include "trainer.h"

namespace netguard::ngtrain {

/// Rows of one or more tables, ready for Train.
struct Dataset {
  std::vector<std::string> features;             // extractor names (FeatureNames()), model order
  std::vector<std::string> classes;              // attack classes: y = index + 1
  LabelledRows rows;                             // group = the row's table
  std::map<std::string, size_t> rows_per_class;  // BENIGN and the classes
  std::map<std::string, size_t> dropped;         // raw label -> rows dropped (null in the map)
  features::FeatureMode mode = features::FeatureMode::kCic2017;  // AssembleOptions::mode
};

/// What Assemble should use; empty lists are chosen from the data.
struct AssembleOptions {
  /// Feature names; empty: every feature all tables have, in extractor order, minus `exclude`.
  std::vector<std::string> features;
  std::vector<std::string> exclude;
  /// Attack classes; empty: those of the map with at least `min_class_rows` rows (smaller ones
  /// are dropped and reported in `dropped`). Given: rows of other classes are dropped.
  std::vector<std::string> classes;
  size_t min_class_rows = 10;
  /// The CSVs' feature mode: rows that are connection remnants in it
  /// (features::IsConnectionRemnant, which the agent does not judge) are dropped.
  features::FeatureMode mode = features::FeatureMode::kCic2017;
};

/// Maps every row's label through `map`. Throws CsvError "file:line: unknown label 'X'" for a
/// label the map does not know, and std::invalid_argument when there is no BENIGN row or fewer
/// than two attack classes (without given classes).
Dataset Assemble(const std::vector<CsvTable>& tables, const LabelMap& map,
                 const AssembleOptions& options);

}  // namespace netguard::ngtrain

#endif  // NETGUARD_MODELS_NGTRAIN_DATASET_H_
