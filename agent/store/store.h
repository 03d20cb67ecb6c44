// The agent's persistent store (SQLite, WAL): alerts, blocks, bounded flow history.
#ifndef NETGUARD_AGENT_STORE_STORE_H_
#define NETGUARD_AGENT_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/alert.h"
#include "core/flow_record.h"

struct sqlite3;

namespace netguard::store {

/// A store operation failed (SQLite error text and what was being done).
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StoreOptions {
  std::string path{};            // database file; created with its directory if missing
  uint64_t max_flows = 1000000;  // flow history cap (>= 1); the oldest flows are evicted beyond it
};

/// Filters of ListAlerts. Empty/zero fields do not filter. `address` is compared in canonical
/// (inet_ntop) form. limit 0 or above Store::kMaxListLimit means Store::kMaxListLimit.
struct AlertQuery {
  int64_t since_ns = 0;   // time >= since
  int64_t until_ns = 0;   // time < until
  std::string address{};  // src or dst equals
  std::string alert_class{};
  std::optional<Severity> min_severity{};
  int64_t before_id = 0;  // paging: only ids < before_id (newest first)
  int64_t after_id = 0;   // resume: only ids > after_id
  uint32_t limit = 100;
  bool oldest_first = false;  // default newest first; streams resume oldest first
};

/// A stored flow: what the history keeps of a FlowRecord.
struct FlowSummary {
  int64_t id = 0;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  std::string src_addr{};  // initiator
  uint16_t src_port = 0;
  std::string dst_addr{};
  uint16_t dst_port = 0;
  uint8_t protocol = 0;
  uint64_t fwd_packets = 0;
  uint64_t bwd_packets = 0;
  uint64_t fwd_bytes = 0;  // payload bytes
  uint64_t bwd_bytes = 0;
  FlowEndReason end_reason = FlowEndReason::kIdleTimeout;
  uint32_t ifindex = 0;
};

/// Filters of ListFlows, as AlertQuery. The time filters select the flows that overlap
/// [since_ns, until_ns): end_ns >= since_ns and start_ns < until_ns.
struct FlowQuery {
  int64_t since_ns = 0;
  int64_t until_ns = 0;
  std::string address{};  // src or dst equals
  uint16_t port = 0;      // src or dst port equals
  uint8_t protocol = 0;
  int64_t before_id = 0;
  int64_t after_id = 0;
  uint32_t limit = 100;
  bool oldest_first = false;
};

struct BlockRecord {
  int64_t id = 0;
  // CIDR text; PutBlock canonicalises it (IpPrefix::Parse): 10.1.2.3/24 -> 10.1.2.0/24.
  std::string prefix{};
  std::string reason{};
  bool automatic = false;  // auto-block policy (false: manual)
  int64_t created_ns = 0;
  int64_t expires_ns = 0;            // 0: never
  std::vector<int64_t> alert_ids{};  // alerts that caused it (must exist); listed ascending, unique
  bool dry_run = false;  // a "would block" of the dry-run policy: stored, never enforced
};

/// What the reputation keeps of one address (agent/respond/reputation.h).
struct ReputationRecord {
  std::string address{};  // canonical address text
  double score = 0;       // as of score_ns; decays from there
  int64_t score_ns = 0;
  int64_t first_seen_ns = 0;
  int64_t last_seen_ns = 0;
  uint64_t alerts = 0;    // alerts that raised the score
  uint32_t offences = 0;  // automatic blocks so far
  bool promoted = false;  // the score crossed the malicious threshold
};

/// Single-writer store. Every write is one committed transaction before the call returns, so a
/// crash or restart loses nothing the caller was told is stored (WAL with synchronous=FULL: each
/// commit is fsynced, which covers power loss too). Thread-safe (one connection behind a mutex).
/// Errors throw StoreError naming the database, the operation and SQLite's message.
class Store {
 public:
  /// Opens or creates the database (":memory:" for a private in-memory one), enables WAL,
  /// migrates the schema forward. Throws StoreError, also for a database whose schema is newer
  /// than kSchemaVersion, a file that is not a NetGuard store, or max_flows == 0.
  explicit Store(StoreOptions options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  static constexpr int kSchemaVersion = 2;
  static constexpr uint32_t kMaxListLimit = 10000;  // most rows one List* call returns
  int schema_version() const;

  /// Commits `alert` and sets alert.id (ids increase).
  void AddAlert(Alert& alert);
  std::vector<Alert> ListAlerts(const AlertQuery& query) const;
  std::optional<Alert> GetAlert(int64_t id) const;
  /// Return false when no alert has that id (true again for an already acknowledged alert).
  bool AckAlert(int64_t id);
  bool SetFeedback(int64_t id, Feedback feedback);

  /// Stores flows in one transaction, sets their ids and evicts the oldest beyond max_flows. On
  /// error nothing is stored and every id is reset to 0.
  void AddFlows(std::span<FlowRecord> flows);
  /// Time and address filters skip the 4096-id zones that cannot match (zone map: time span and
  /// address Bloom filter per zone) and scan the rows of the others; port and protocol are
  /// checked on the rows.
  std::vector<FlowSummary> ListFlows(const FlowQuery& query) const;
  uint64_t flow_count() const;
  uint64_t flows_evicted() const;  // total since the database was created

  /// Inserts or replaces the block of record.prefix; sets record.id (kept when replacing) and
  /// canonicalises record.prefix. A replacement takes every field and alert link of `record`.
  /// Throws StoreError for an invalid prefix or an alert id that does not exist.
  void PutBlock(BlockRecord& record);
  /// Returns false when the prefix was not blocked (or is not a valid prefix).
  bool RemoveBlock(const std::string& prefix);
  std::vector<BlockRecord> ListBlocks() const;
  /// Removes and returns the blocks whose expiry is <= now_ns.
  std::vector<BlockRecord> TakeExpiredBlocks(int64_t now_ns);

  /// Number of alerts whose source or destination is `address` (canonical comparison).
  uint64_t CountAlerts(const std::string& address) const;

  /// Inserts or replaces the reputation of record.address (canonicalised).
  void PutReputation(ReputationRecord& record);
  /// The stored reputation of `address`, nullopt when it has none.
  std::optional<ReputationRecord> GetReputation(const std::string& address) const;
  /// Every stored reputation (start-up load).
  std::vector<ReputationRecord> ListReputation() const;
  /// Returns false when `address` had no stored reputation.
  bool RemoveReputation(const std::string& address);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace netguard::store

#endif  // NETGUARD_AGENT_STORE_STORE_H_
