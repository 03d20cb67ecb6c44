// Read access to the kernel flow map (for timeout sweeps, status and tests).
#ifndef NETGUARD_AGENT_CAPTURE_FLOW_TABLE_H_
#define NETGUARD_AGENT_CAPTURE_FLOW_TABLE_H_

#include <optional>
#include <vector>

#include "netguard.h"

namespace netguard::capture {

struct FlowEntry {
  ng_flow_key key;
  ng_flow flow;
};

/// The LRU flow map of a loaded data plane (fd owned by the data plane).
class FlowTable {
 public:
  explicit FlowTable(int fd) : fd_(fd) {}

  /// Every entry, active or ended (state NG_FLOW_EMPTY with the counts of the flow that ended).
  /// Entries updated while iterating may be read mid-update by a concurrent CPU; sweeps read
  /// flows that have gone idle. Throws std::system_error.
  std::vector<FlowEntry> Snapshot() const;

  /// The entry of `key`, if present.
  std::optional<ng_flow> Lookup(const ng_flow_key& key) const;

  /// Removes the entry of `key` and returns it (atomic lookup-and-delete), if present.
  std::optional<ng_flow> Take(const ng_flow_key& key);

 private:
  int fd_;
};

}  // namespace netguard::capture

#endif  // NETGUARD_AGENT_CAPTURE_FLOW_TABLE_H_
