// The agent's response part: IP reputation and the auto-block policy, built from the
// configuration's `reputation:`, `response:` and `allowlist:` and reloaded with it.
#ifndef NETGUARD_AGENT_APP_RESPONSE_SETUP_H_
#define NETGUARD_AGENT_APP_RESPONSE_SETUP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "pipeline/alert_observer.h"
#include "respond/auto_block.h"
#include "respond/block_manager.h"
#include "respond/never_block.h"
#include "respond/reputation.h"
#include "store/store.h"

namespace netguard::app {

/// Reputation options from the configuration.
respond::ReputationOptions ReputationFrom(const config::Config& c);
/// Auto-block options from the configuration.
respond::AutoBlockOptions AutoBlockFrom(const config::Config& c);

/// Owns the reputation, the never-block set and the policy. Without a block manager
/// (pcap-live: no blocklist) alerts still raise reputations, and nothing is blocked.
class ResponseSetup {
 public:
  /// Reads the list files; throws respond::ListFileError naming file:line of a bad entry, or
  /// StoreError.
  ResponseSetup(const config::Config& c, store::Store& store, respond::BlockManager* blocks);

  /// What FlowSink must call with every committed alert.
  pipeline::AlertObserver& observer() { return *observer_; }
  /// The reputation (GetIp).
  const respond::Reputation& reputation() const { return reputation_; }

  /// SIGHUP: new options and lists. When a list file has a bad line, the entries of the list
  /// files stay those loaded before (logged, naming file:line); every other setting, the
  /// `allowlist:` key included, still applies.
  void Reload(const config::Config& next);

  /// The policy's counters (auto_blocks, would_blocks, ...) for GetStatus.
  void AppendCounters(std::vector<std::pair<std::string, uint64_t>>& counters) const;

 private:
  // Reads the list files, then applies ApplyAllowlist. Throws ListFileError after applying the
  // previous files' entries with c's `allowlist:` key.
  void ApplyLists(const config::Config& c);
  // Hands c.allowlist + the allowlist files' entries to the reputation, the never-block set and
  // the block manager (manual blocks are refused for it too), and the blocklist files' entries
  // to the reputation.
  void ApplyAllowlist(const config::Config& c);

  respond::BlockManager* blocks_;         // may be null
  std::vector<IpPrefix> file_allowlist_;  // entries of the list files last read without error
  std::vector<IpPrefix> file_blocklist_;
  respond::Reputation reputation_;
  respond::NeverBlock never_block_;
  std::unique_ptr<respond::AutoBlocker> blocker_;         // null without a block manager
  std::unique_ptr<pipeline::AlertObserver> record_only_;  // reputation only, without one
  pipeline::AlertObserver* observer_ = nullptr;
};

}  // namespace netguard::app

#endif  // NETGUARD_AGENT_APP_RESPONSE_SETUP_H_
