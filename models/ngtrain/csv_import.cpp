#include "csv_import.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>

#include "detect/ml/bundle.h"

namespace netguard::ngtrain {
namespace {

constexpr size_t kFwdHeaderLength = 34;
constexpr size_t kFwdHeaderLength1 = 55;

// CICFlowMeter-V4 names of the MachineLearningCVE features 1..77 without "Fwd Header
// Length.1", in the same order (../shared/data/cic/headers).
constexpr std::array<std::string_view, 76> kV4Names = {
    "Flow Duration",     "Tot Fwd Pkts",      "Tot Bwd Pkts",      "TotLen Fwd Pkts",
    "TotLen Bwd Pkts",   "Fwd Pkt Len Max",   "Fwd Pkt Len Min",   "Fwd Pkt Len Mean",
    "Fwd Pkt Len Std",   "Bwd Pkt Len Max",   "Bwd Pkt Len Min",   "Bwd Pkt Len Mean",
    "Bwd Pkt Len Std",   "Flow Byts/s",       "Flow Pkts/s",       "Flow IAT Mean",
    "Flow IAT Std",      "Flow IAT Max",      "Flow IAT Min",      "Fwd IAT Tot",
    "Fwd IAT Mean",      "Fwd IAT Std",       "Fwd IAT Max",       "Fwd IAT Min",
    "Bwd IAT Tot",       "Bwd IAT Mean",      "Bwd IAT Std",       "Bwd IAT Max",
    "Bwd IAT Min",       "Fwd PSH Flags",     "Bwd PSH Flags",     "Fwd URG Flags",
    "Bwd URG Flags",     "Fwd Header Len",    "Bwd Header Len",    "Fwd Pkts/s",
    "Bwd Pkts/s",        "Pkt Len Min",       "Pkt Len Max",       "Pkt Len Mean",
    "Pkt Len Std",       "Pkt Len Var",       "FIN Flag Cnt",      "SYN Flag Cnt",
    "RST Flag Cnt",      "PSH Flag Cnt",      "ACK Flag Cnt",      "URG Flag Cnt",
    "CWE Flag Count",    "ECE Flag Cnt",      "Down/Up Ratio",     "Pkt Size Avg",
    "Fwd Seg Size Avg",  "Bwd Seg Size Avg",  "Fwd Byts/b Avg",    "Fwd Pkts/b Avg",
    "Fwd Blk Rate Avg",  "Bwd Byts/b Avg",    "Bwd Pkts/b Avg",    "Bwd Blk Rate Avg",
    "Subflow Fwd Pkts",  "Subflow Fwd Byts",  "Subflow Bwd Pkts",  "Subflow Bwd Byts",
    "Init Fwd Win Byts", "Init Bwd Win Byts", "Fwd Act Data Pkts", "Fwd Seg Size Min",
    "Active Mean",       "Active Std",        "Active Max",        "Active Min",
    "Idle Mean",         "Idle Std",          "Idle Max",          "Idle Min"};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> Split(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    out.push_back(line.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

// A value: a number (from_chars also takes "inf", "infinity" and "nan", any case); empty is
// missing. nullopt for anything else.
std::optional<double> ParseValue(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::numeric_limits<double>::quiet_NaN();
  if (text.front() == '+') text.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) return std::copysign(HUGE_VAL, text[0] == '-' ? -1 : 1);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<size_t> ColumnFeature(std::string_view name) {
  name = Trim(name);
  if (name == "Dst Port") return 0;
  if (const auto index = features::FeatureIndex(name)) return index;
  for (size_t i = 0; i < kV4Names.size(); ++i) {
    // V4 column i is feature i + 1, skipping Fwd Header Length.1
    if (kV4Names[i] == name) return i + 1 < kFwdHeaderLength1 ? i + 1 : i + 2;
  }
  return std::nullopt;
}

CsvTable ReadFlowCsv(const std::string& path, const std::string& label_override) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CsvError(path + ": cannot read the file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  CsvTable table;
  table.path = path;
  table.sha256 = detect::ml::Sha256Hex(text);

  std::string_view rest(text);
  if (rest.substr(0, 3) == "\xEF\xBB\xBF") rest.remove_prefix(3);  // UTF-8 BOM
  const auto next_line = [&rest]() {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  const std::vector<std::string_view> header = Split(next_line());
  std::vector<std::optional<size_t>> column(header.size());
  std::optional<size_t> label_column;
  for (size_t c = 0; c < header.size(); ++c) {
    const std::string_view name = Trim(header[c]);
    if (name == "Label") {
      label_column = c;
      continue;
    }
    std::optional<size_t> index = ColumnFeature(name);
    if (index == kFwdHeaderLength && table.present[kFwdHeaderLength]) index = kFwdHeaderLength1;
    if (index && table.present[*index]) {
      throw CsvError(path + ":1: column '" + std::string(name) + "' appears twice");
    }
    if (index) table.present[*index] = true;
    column[c] = index;
  }
  if (!label_column && label_override.empty()) {
    throw CsvError(path + ":1: no Label column (label the whole file with --csv " + path +
                   "=LABEL)");
  }
  size_t mapped = 0;
  for (bool p : table.present) mapped += p ? 1 : 0;
  if (mapped == 0) throw CsvError(path + ":1: no CICFlowMeter feature column in the header");
  const bool copy_header_length =
      table.present[kFwdHeaderLength] && !table.present[kFwdHeaderLength1];
  if (copy_header_length) table.present[kFwdHeaderLength1] = true;

  for (size_t line_no = 2; !rest.empty(); ++line_no) {
    const std::string_view line = next_line();
    if (Trim(line).empty()) continue;
    const std::vector<std::string_view> fields = Split(line);
    if (fields.size() != header.size()) {
      throw CsvError(path + ":" + std::to_string(line_no) + ": " + std::to_string(fields.size()) +
                     " fields, the header has " + std::to_string(header.size()));
    }
    features::FeatureVector row;
    row.fill(std::numeric_limits<double>::quiet_NaN());
    for (size_t c = 0; c < fields.size(); ++c) {
      if (!column[c]) continue;
      const std::optional<double> v = ParseValue(fields[c]);
      if (!v) {
        throw CsvError(path + ":" + std::to_string(line_no) + ": column '" +
                       std::string(Trim(header[c])) + "': '" + std::string(Trim(fields[c])) +
                       "' is not a number");
      }
      row[*column[c]] = *v;
    }
    if (copy_header_length) row[kFwdHeaderLength1] = row[kFwdHeaderLength];
    table.rows.push_back(row);
    table.labels.push_back(label_override.empty() ? std::string(Trim(fields[*label_column]))
                                                  : label_override);
    table.lines.push_back(line_no);
  }
  return table;
}

}  // namespace netguard::ngtrain
