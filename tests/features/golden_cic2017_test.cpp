// Golden test: ../shared/data/cic/cic_test_2015-03-31.pcap through pcap-file, the user-space
// flow table and the cic2017 features reproduces the 2017 CICFlowMeter's CSV of that capture:
// every flow, every feature (integers exactly, reals to 1e-9 relative, NaN/Infinity alike).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "features/features.h"
#include "features/flow_csv.h"
#include "features/pcap_test_util.h"

namespace netguard::testing {
namespace {

using features::FeatureMode;

const std::filesystem::path kCicDir =
    std::filesystem::path(NETGUARD_SOURCE_DIR) / ".." / "shared" / "data" / "cic";
constexpr char kPcap[] = "cic_test_2015-03-31.pcap";
// The tool wrote local time of the machine that ran it: UTC-3 (checked on every row).
constexpr int64_t kCsvUtcOffsetNs = -3LL * 3600 * 1000000000LL;

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line);
  std::string cell;
  while (std::getline(in, cell, ',')) out.push_back(cell);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

double ParseValue(const std::string& text) {
  if (text == "NaN") return std::nan("");
  if (text == "Infinity") return INFINITY;
  if (text == "-Infinity") return -INFINITY;
  return std::stod(text);
}

bool Same(double expected, double actual, bool integer) {
  if (std::isnan(expected) || std::isnan(actual)) return std::isnan(expected) && std::isnan(actual);
  if (std::isinf(expected) || std::isinf(actual)) return expected == actual;
  if (integer) return expected == actual;
  const double scale = std::max(std::fabs(expected), std::fabs(actual));
  return std::fabs(expected - actual) <= 1e-9 * std::max(scale, 1.0);
}

// Columns of a TrafficLabelling row before the features, as this project writes them.
std::string RowKey(const FlowRecord& flow) {
  const Endpoint src = Initiator(flow), dst = Responder(flow);
  return features::CicFlowId(flow) + "|" + src.address + "|" + std::to_string(src.port) + "|" +
         dst.address + "|" + std::to_string(dst.port) + "|" + std::to_string(flow.key.proto);
}

TEST(GoldenCic2017Test, ReproducesCicFlowMeterCsvOfTheTestCapture) {
  const auto pcap = kCicDir / kPcap;
  const auto csv = kCicDir / (std::string(kPcap) + "_CIC.csv");
  if (!std::filesystem::exists(pcap) || !std::filesystem::exists(csv))
    GTEST_SKIP() << "golden data not found (" << pcap << "): ../shared is absent";

  const features::FlowLifecycle life = features::LifecycleFor(FeatureMode::kCic2017);
  capture::pcap::ReadResult read;
  const std::vector<FlowRecord> all =
      FlowsOfCapture(pcap.string(), {.step = life.step, .idle_timeout = life.idle_timeout}, &read);
  ASSERT_TRUE(read.ok) << read.error;
  std::vector<FlowRecord> flows;
  for (const FlowRecord& f : all)
    if (ng_flow_packets(&f.acc) >= life.min_packets) flows.push_back(f);

  std::ifstream in(csv);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const std::vector<std::string> header = SplitCsv(line);
  ASSERT_EQ(header.size(), 85u);
  // feature i sits in column 4 (Destination Port) or 6 + i; names must match exactly
  auto column = [](size_t i) { return i == 0 ? size_t{4} : 6 + i; };
  for (size_t i = 0; i < features::kCicFeatureCount; i++)
    EXPECT_EQ(header[column(i)], features::FeatureNamesRaw()[i]) << "feature " << i;

  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(SplitCsv(line));
  ASSERT_EQ(rows.size(), 96u);
  EXPECT_EQ(flows.size(), rows.size()) << "flows written by the tool vs. by cic2017 mode";

  std::vector<bool> used(flows.size(), false);
  std::map<std::string, int> mismatches;  // feature name -> rows that differ
  size_t matched = 0;
  for (const std::vector<std::string>& row : rows) {
    ASSERT_GE(row.size(), 84u);
    const std::string key =
        row[0] + "|" + row[1] + "|" + row[2] + "|" + row[3] + "|" + row[4] + "|" + row[5];
    size_t found = flows.size();
    for (size_t j = 0; j < flows.size(); j++) {
      if (used[j] || RowKey(flows[j]) != key) continue;
      if (features::CicTimestamp(flows[j].start_ns + kCsvUtcOffsetNs) != row[6]) continue;
      found = j;
      break;
    }
    if (found == flows.size()) {
      ADD_FAILURE() << "no flow for row " << key << " at " << row[6];
      continue;
    }
    used[found] = true;
    matched++;
    const features::FeatureVector v =
        features::ComputeFeatures(flows[found], FeatureMode::kCic2017);
    for (size_t i = 0; i < features::kCicFeatureCount; i++) {
      const double expected = ParseValue(row[column(i)]);
      if (!Same(expected, v[i], features::IsIntegerFeature(i))) {
        if (mismatches[std::string(features::FeatureNames()[i])]++ < 3)
          ADD_FAILURE() << key << " @" << row[6] << ": " << features::FeatureNames()[i]
                        << " expected " << row[column(i)] << ", got " << v[i];
      }
    }
  }
  EXPECT_EQ(matched, rows.size());
  for (size_t j = 0; j < flows.size(); j++)
    EXPECT_TRUE(used[j]) << "extra flow " << RowKey(flows[j]) << " at "
                         << features::CicTimestamp(flows[j].start_ns + kCsvUtcOffsetNs);
  for (const auto& [name, count] : mismatches) ADD_FAILURE() << name << ": " << count << " rows";
}

}  // namespace
}  // namespace netguard::testing
