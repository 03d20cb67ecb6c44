// The kernel blocklist: pinned LPM tries of blocked source prefixes with drop counters.
#ifndef NETGUARD_AGENT_CAPTURE_BLOCKLIST_H_
#define NETGUARD_AGENT_CAPTURE_BLOCKLIST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_prefix.h"

namespace netguard::capture {

/// A blocked prefix and what XDP dropped for it.
struct BlockEntry {
  IpPrefix prefix;
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

/// Reads and writes the blocklist maps. Does not own the programs: the maps are kernel state
/// that outlives the agent (DESIGN decision 3). TTLs are the agent's business, not the map's.
class Blocklist {
 public:
  /// Uses the maps of a loaded data plane (fds stay owned by it).
  Blocklist(int v4_fd, int v6_fd);
  /// Opens the maps pinned under `pin_root` (e.g. by a running or crashed agent).
  static Blocklist OpenPinned(const std::string& pin_root);
  ~Blocklist();
  Blocklist(Blocklist&& other) noexcept;
  Blocklist& operator=(Blocklist&&) = delete;
  Blocklist(const Blocklist&) = delete;
  Blocklist& operator=(const Blocklist&) = delete;

  /// Adds `prefix` (idempotent: an existing entry keeps its counters). Throws std::system_error
  /// when the map is full or the kernel refuses.
  void Add(const IpPrefix& prefix);
  /// Removes `prefix`; returns false if it was not there.
  bool Remove(const IpPrefix& prefix);
  /// The entry for exactly `prefix`, if present.
  std::optional<BlockEntry> Get(const IpPrefix& prefix) const;
  /// Every entry with its live counters (counters are summed on the fly by the kernel).
  std::vector<BlockEntry> List() const;

 private:
  int fd_for(const IpPrefix& prefix) const;

  int v4_fd_;
  int v6_fd_;
  bool owns_fds_ = false;
};

}  // namespace netguard::capture

#endif  // NETGUARD_AGENT_CAPTURE_BLOCKLIST_H_
