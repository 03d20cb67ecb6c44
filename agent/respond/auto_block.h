// The auto-block policy: committed alerts -> reputation -> (maybe) a block at XDP, with a TTL
// that grows for repeat offenders, never for protected addresses, capped per minute, and a
// dry-run mode that only records what it would have blocked.
#ifndef NETGUARD_AGENT_RESPOND_AUTO_BLOCK_H_
#define NETGUARD_AGENT_RESPOND_AUTO_BLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "core/alert.h"
#include "pipeline/alert_observer.h"
#include "respond/block_manager.h"
#include "respond/never_block.h"
#include "respond/reputation.h"

namespace netguard::respond {

/// The policy's settings (config section `response:`).
struct AutoBlockOptions {
  bool enabled = true;  // evaluate the policy (reputation is kept either way)
  bool dry_run = true;  // record "would block" only
  /// Block when an alert is at least this severe ...
  Severity min_severity = Severity::kHigh;
  /// ... or its source's score reaches this (0: the score alone never blocks) ...
  double min_score = 100;
  // ... or the source is listed malicious (a blocklist file, or promoted by score).
  std::chrono::seconds base_ttl{600};   // TTL of a first offence ...
  double ttl_factor = 2;                // ... times this per earlier automatic block ...
  std::chrono::seconds max_ttl{86400};  // ... capped here
  uint32_t max_blocks_per_minute = 10;  // new (or would-be) blocks in any 60 s window
};

/// The TTL of an automatic block after `offences` earlier ones:
/// base_ttl * ttl_factor^offences, capped at max_ttl.
std::chrono::seconds GrownTtl(const AutoBlockOptions& options, uint32_t offences);

/// What the policy did, since start.
struct AutoBlockCounters {
  std::atomic<uint64_t> blocked{0};      // enforced automatic blocks
  std::atomic<uint64_t> would_block{0};  // dry-run records
  std::atomic<uint64_t> spared{0};       // never-block addresses that met the policy
  std::atomic<uint64_t> rate_capped{0};  // alerts meeting the policy while the cap was reached
  std::atomic<uint64_t> failed{0};       // refused by the block manager or failed
};

/// Observes committed alerts (FlowSink): raises the source's reputation, then applies the
/// policy. Thread-safe; one decision at a time.
class AutoBlocker final : public pipeline::AlertObserver {
 public:
  /// `now` is the wall clock in ns (tests pass their own). The references must outlive it.
  AutoBlocker(Reputation& reputation, BlockManager& blocks, NeverBlock& never_block,
              AutoBlockOptions options, std::function<int64_t()> now = {});

  /// Reputation first, then the policy: severity, score or listing over the levels -> not a
  /// never-block address -> not already blocked -> under the per-minute cap -> block (or record
  /// "would block") the source address with the grown TTL, linked to its recent alerts.
  void OnAlert(const Alert& alert) override;

  /// New settings (SIGHUP). The per-minute window and offences are kept.
  void set_options(AutoBlockOptions options);

  /// What the policy did since start (GetStatus counters).
  const AutoBlockCounters& counters() const { return counters_; }

 private:
  // The reason text of a block, or "" when the alert does not meet the policy.
  std::string Trigger(const Alert& alert, const IpReputation& reputation) const;

  Reputation& reputation_;
  BlockManager& blocks_;
  NeverBlock& never_block_;
  std::function<int64_t()> now_;
  mutable std::mutex mu_;
  AutoBlockOptions options_;
  std::deque<int64_t> recent_blocks_ns_;  // within the last minute
  int64_t last_cap_log_ns_ = 0;
  AutoBlockCounters counters_;
};

}  // namespace netguard::respond

#endif  // NETGUARD_AGENT_RESPOND_AUTO_BLOCK_H_
