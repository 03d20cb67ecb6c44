// Flow CSVs in the three layouts ngtrain reads: the agent's flows CSV (netguardd --flows-csv plus
// a Label column), CICIDS2017 MachineLearningCVE/TrafficLabelling files (leading spaces, the
// duplicated Fwd Header Length, Infinity/NaN, cp1252 labels) and CICFlowMeter-V4 short names.
#ifndef NETGUARD_MODELS_NGTRAIN_CSV_IMPORT_H_
#define NETGUARD_MODELS_NGTRAIN_CSV_IMPORT_H_

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "features/features.h"

namespace netguard::ngtrain {

/// Bad input; what() is "file:line: what is wrong".
class CsvError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One CSV file's rows in the extractor's feature order.
struct CsvTable {
  std::string path;
  std::array<bool, features::kFeatureCount> present{};  // columns the file has
  std::vector<features::FeatureVector> rows;            // absent features are NaN
  std::vector<std::string> labels;                      // raw, per row
  std::vector<size_t> lines;                            // file line of each row
  std::string sha256;                                   // of the file's bytes
};

/// The extractor's feature index of a column name in any of the layouts (trimmed; 2017 names,
/// "Fwd Header Length.1", V4 short names such as "Tot Fwd Pkts" and "Dst Port"); nullopt for
/// other columns (Flow ID, addresses, Timestamp, Protocol, ...).
std::optional<size_t> ColumnFeature(std::string_view name);

/// Reads `path`. `label_override` (non-empty) labels every row and makes the Label column
/// optional (CICFlowMeter-V4 captures labelled by file). Values: numbers, "Infinity",
/// "-Infinity", "NaN" and empty (missing); anything else is an error naming file:line and the
/// column. A second "Fwd Header Length" column is "Fwd Header Length.1"; a file without that
/// column gets a copy of Fwd Header Length (what the 2017 tool wrote). Throws CsvError.
CsvTable ReadFlowCsv(const std::string& path, const std::string& label_override = "");

}  // namespace netguard::ngtrain

#endif  // NETGUARD_MODELS_NGTRAIN_CSV_IMPORT_H_
