// Flows as CSV rows with CICFlowMeter's columns: Flow ID, Source IP, Source Port, Destination
// IP, Destination Port, Protocol, Timestamp, then the 77 features (TrafficLabelling layout
// without the Label column), then the context features (features/context.h).
#ifndef NETGUARD_AGENT_FEATURES_FLOW_CSV_H_
#define NETGUARD_AGENT_FEATURES_FLOW_CSV_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "core/flow_record.h"
#include "features/features.h"

namespace netguard::features {

/// CICFlowMeter's Flow ID, "ipA-ipB-portA-portB-proto": the endpoint whose address compares
/// smaller byte by byte as signed (Java) bytes comes first; the initiator first on a tie.
std::string CicFlowId(const FlowRecord& flow);

/// "dd/MM/yyyy HH:mm:ss" in UTC (the 2017 tool wrote local time on a 12-hour clock).
std::string CicTimestamp(int64_t unix_ns);

/// Appends a feature value as the CSVs write it: integers without a fraction, reals in shortest
/// round-trip form with at least one decimal ("714.0"), "NaN" and "Infinity"/"-Infinity".
void AppendFeature(std::string& out, double value, bool integer);

/// Writes the header once, then one row per flow. Column names keep CICFlowMeter's exact
/// spelling, leading spaces included.
class FlowCsvWriter {
 public:
  explicit FlowCsvWriter(std::ostream& out);
  void WriteHeader();
  void WriteRow(const FlowRecord& flow, const FeatureVector& features);

 private:
  std::ostream& out_;
  std::string row_;  // the buffer a row is built in, reused (sized for the longest row)
};

}  // namespace netguard::features

#endif  // NETGUARD_AGENT_FEATURES_FLOW_CSV_H_
