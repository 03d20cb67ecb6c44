#include "store/store.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <variant>

#include "common/ip_prefix.h"
#include "store/flow_zones.h"
#include "store/schema.h"
#include "store/sqlite_util.h"

namespace netguard::store {

using internal::StmtPtr;
using internal::StmtUse;

namespace {

constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kAlertColumns =
    "id, time_ns, src_addr, src_port, dst_addr, dst_port, protocol, alert_class, score, severity, "
    "mitre_technique, detector, evidence_json, degraded_coverage, acknowledged, feedback";

constexpr const char* kFlowColumns =
    "id, start_ns, end_ns, src_addr, src_port, dst_addr, dst_port, protocol, fwd_packets, "
    "bwd_packets, fwd_bytes, bwd_bytes, end_reason, ifindex";

constexpr const char* kBlockColumns = "id, prefix, reason, automatic, created_ns, expires_ns";

/// Canonical text of an IP address (so "::FFFF:10.0.0.1" finds what inet_ntop stored); other
/// text is returned unchanged.
std::string CanonicalAddress(const std::string& text) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN] = {};
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    return inet_ntop(AF_INET, buf, out, sizeof(out));
  }
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    return inet_ntop(AF_INET6, buf, out, sizeof(out));
  }
  return text;
}

uint32_t EffectiveLimit(uint32_t limit) {
  return limit == 0 || limit > Store::kMaxListLimit ? Store::kMaxListLimit : limit;
}

std::string ColumnText(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text),
          static_cast<size_t>(sqlite3_column_bytes(stmt, column))};
}

/// The conditions of a query and their arguments, bound in order.
struct Filter {
  using Arg = std::variant<int64_t, std::string>;
  std::string conditions;  // "a = ? AND b < ?"
  std::vector<Arg> args;

  void Add(const char* condition, std::initializer_list<Arg> values) {
    if (!conditions.empty()) conditions += " AND ";
    conditions += condition;
    args.insert(args.end(), values);
  }
  void AddPaging(int64_t before_id, int64_t after_id) {
    if (before_id > 0) Add("id < ?", {before_id});
    if (after_id > 0) Add("id > ?", {after_id});
  }
  std::string Where() const { return conditions.empty() ? "" : " WHERE " + conditions; }
  std::string AndMore() const { return conditions.empty() ? "" : " AND " + conditions; }
};

const char* OrderById(bool oldest_first) {
  return oldest_first ? " ORDER BY id ASC" : " ORDER BY id DESC";
}

}  // namespace

struct Store::Impl {
  std::string path;
  uint64_t max_flows = 0;
  sqlite3* db = nullptr;
  std::mutex mu;
  std::unordered_map<std::string, StmtPtr> statements;  // by SQL text

  ~Impl() {
    statements.clear();  // finalize before closing
    if (db != nullptr) sqlite3_close(db);
  }

  [[noreturn]] void Fail(std::string_view operation, int rc) const {
    internal::ThrowSqlite(db, path, operation, rc);
  }

  void Check(int rc, std::string_view operation) const {
    if (rc != SQLITE_OK) Fail(operation, rc);
  }

  /// The cached prepared statement of `sql`.
  sqlite3_stmt* Prepare(const std::string& sql) {
    auto it = statements.find(sql);
    if (it != statements.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    const int rc =
        sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) Fail("prepare \"" + sql + "\"", rc);
    return statements.emplace(sql, std::move(stmt)).first->second.get();
  }

  /// Steps a statement that returns rows: true on a row, false when done.
  bool StepRow(sqlite3_stmt* stmt, std::string_view operation) const {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    Fail(operation, rc);
  }

  /// Steps a statement to completion (any RETURNING rows are discarded).
  void StepDone(sqlite3_stmt* stmt, std::string_view operation) const {
    while (StepRow(stmt, operation)) {
    }
  }

  void Run(const std::string& sql, std::string_view operation) {
    StmtUse use(Prepare(sql));
    StepDone(use.get(), operation);
  }

  void BindInt(sqlite3_stmt* stmt, int index, int64_t value, std::string_view operation) const {
    Check(sqlite3_bind_int64(stmt, index, value), operation);
  }

  /// Binds text without copying: `value` must outlive the statement's step.
  void BindText(sqlite3_stmt* stmt, int index, const std::string& value,
                std::string_view operation) const {
    Check(
        sqlite3_bind_text(stmt, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC),
        operation);
  }

  /// Binds the filter's arguments from parameter `index` on; returns the next free index.
  int BindAll(sqlite3_stmt* stmt, const Filter& filter, int index,
              std::string_view operation) const {
    for (const Filter::Arg& arg : filter.args) {
      if (const auto* number = std::get_if<int64_t>(&arg)) {
        BindInt(stmt, index++, *number, operation);
      } else {
        BindText(stmt, index++, std::get<std::string>(arg), operation);
      }
    }
    return index;
  }

  int64_t QueryInt(const std::string& sql, std::string_view operation) {
    StmtUse use(Prepare(sql));
    if (!StepRow(use.get(), operation)) return 0;
    return sqlite3_column_int64(use.get(), 0);
  }

  [[noreturn]] void Corrupt(std::string_view table, int64_t id, std::string_view what) const {
    throw StoreError("store " + path + ": " + std::string(table) + " row " + std::to_string(id) +
                     " holds " + std::string(what) + " (database modified outside netguard?)");
  }

  Alert ReadAlert(sqlite3_stmt* stmt) const {
    Alert alert;
    alert.id = sqlite3_column_int64(stmt, 0);
    alert.time_ns = sqlite3_column_int64(stmt, 1);
    alert.src_addr = ColumnText(stmt, 2);
    alert.src_port = static_cast<uint16_t>(sqlite3_column_int(stmt, 3));
    alert.dst_addr = ColumnText(stmt, 4);
    alert.dst_port = static_cast<uint16_t>(sqlite3_column_int(stmt, 5));
    alert.protocol = static_cast<uint8_t>(sqlite3_column_int(stmt, 6));
    alert.alert_class = ColumnText(stmt, 7);
    alert.score = sqlite3_column_type(stmt, 8) == SQLITE_NULL
                      ? std::numeric_limits<double>::quiet_NaN()
                      : sqlite3_column_double(stmt, 8);
    const int severity = sqlite3_column_int(stmt, 9);
    if (severity < 0 || severity > static_cast<int>(Severity::kCritical)) {
      Corrupt("alerts", alert.id, "an unknown severity " + std::to_string(severity));
    }
    alert.severity = static_cast<Severity>(severity);
    alert.mitre_technique = ColumnText(stmt, 10);
    alert.detector = ColumnText(stmt, 11);
    alert.evidence_json = ColumnText(stmt, 12);
    alert.degraded_coverage = sqlite3_column_int(stmt, 13) != 0;
    alert.acknowledged = sqlite3_column_int(stmt, 14) != 0;
    const int feedback = sqlite3_column_int(stmt, 15);
    if (feedback < 0 || feedback > static_cast<int>(Feedback::kFalsePositive)) {
      Corrupt("alerts", alert.id, "an unknown feedback " + std::to_string(feedback));
    }
    alert.feedback = static_cast<Feedback>(feedback);
    return alert;
  }

  FlowSummary ReadFlow(sqlite3_stmt* stmt) const {
    FlowSummary flow;
    flow.id = sqlite3_column_int64(stmt, 0);
    flow.start_ns = sqlite3_column_int64(stmt, 1);
    flow.end_ns = sqlite3_column_int64(stmt, 2);
    flow.src_addr = ColumnText(stmt, 3);
    flow.src_port = static_cast<uint16_t>(sqlite3_column_int(stmt, 4));
    flow.dst_addr = ColumnText(stmt, 5);
    flow.dst_port = static_cast<uint16_t>(sqlite3_column_int(stmt, 6));
    flow.protocol = static_cast<uint8_t>(sqlite3_column_int(stmt, 7));
    flow.fwd_packets = static_cast<uint64_t>(sqlite3_column_int64(stmt, 8));
    flow.bwd_packets = static_cast<uint64_t>(sqlite3_column_int64(stmt, 9));
    flow.fwd_bytes = static_cast<uint64_t>(sqlite3_column_int64(stmt, 10));
    flow.bwd_bytes = static_cast<uint64_t>(sqlite3_column_int64(stmt, 11));
    const int reason = sqlite3_column_int(stmt, 12);
    if (reason < static_cast<int>(FlowEndReason::kFin) ||
        reason > static_cast<int>(FlowEndReason::kShutdown)) {
      Corrupt("flows", flow.id, "an unknown end reason " + std::to_string(reason));
    }
    flow.end_reason = static_cast<FlowEndReason>(reason);
    flow.ifindex = static_cast<uint32_t>(sqlite3_column_int64(stmt, 13));
    return flow;
  }

  BlockRecord ReadBlock(sqlite3_stmt* stmt) const {
    BlockRecord block;
    block.id = sqlite3_column_int64(stmt, 0);
    block.prefix = ColumnText(stmt, 1);
    block.reason = ColumnText(stmt, 2);
    block.automatic = sqlite3_column_int(stmt, 3) != 0;
    block.created_ns = sqlite3_column_int64(stmt, 4);
    block.expires_ns = sqlite3_column_int64(stmt, 5);
    return block;
  }

  /// Adds a batch's flows of `zone` to its zone-map row.
  void MergeZone(int64_t zone, int64_t min_start_ns, int64_t max_end_ns,
                 const std::vector<uint64_t>& address_hashes) {
    constexpr std::string_view kOp = "update flow zone map";
    std::vector<uint8_t> bloom(internal::kZoneBloomBytes, 0);
    {
      StmtUse use(Prepare("SELECT min_start_ns, max_end_ns, hosts FROM flow_zones WHERE zone = ?"));
      BindInt(use.get(), 1, zone, kOp);
      if (StepRow(use.get(), kOp)) {
        min_start_ns = std::min<int64_t>(min_start_ns, sqlite3_column_int64(use.get(), 0));
        max_end_ns = std::max<int64_t>(max_end_ns, sqlite3_column_int64(use.get(), 1));
        const void* old = sqlite3_column_blob(use.get(), 2);
        if (old != nullptr &&
            static_cast<size_t>(sqlite3_column_bytes(use.get(), 2)) == internal::kZoneBloomBytes) {
          std::memcpy(bloom.data(), old, internal::kZoneBloomBytes);
        } else {
          bloom.assign(bloom.size(), 0xFF);  // unreadable filter: may contain anything
        }
      }
    }
    for (const uint64_t hash : address_hashes) internal::BloomAdd(bloom.data(), hash);
    StmtUse use(
        Prepare("INSERT OR REPLACE INTO flow_zones (zone, min_start_ns, max_end_ns, hosts) "
                "VALUES (?, ?, ?, ?)"));
    BindInt(use.get(), 1, zone, kOp);
    BindInt(use.get(), 2, min_start_ns, kOp);
    BindInt(use.get(), 3, max_end_ns, kOp);
    Check(sqlite3_bind_blob(use.get(), 4, bloom.data(), static_cast<int>(bloom.size()),
                            SQLITE_STATIC),
          kOp);
    StepDone(use.get(), kOp);
  }

  /// Fills block.alert_ids (ascending).
  void LoadBlockAlerts(BlockRecord& block) {
    StmtUse use(Prepare("SELECT alert_id FROM block_alerts WHERE block_id = ? ORDER BY alert_id"));
    BindInt(use.get(), 1, block.id, "list block alerts");
    while (StepRow(use.get(), "list block alerts")) {
      block.alert_ids.push_back(sqlite3_column_int64(use.get(), 0));
    }
  }

  /// One transaction: BEGIN on construction, ROLLBACK on destruction unless committed. Writers
  /// use IMMEDIATE so the write lock is taken (or waited for) up front instead of failing at the
  /// first write; multi-statement readers use DEFERRED for one consistent snapshot.
  class Transaction {
   public:
    enum class Kind { kRead, kWrite };

    Transaction(Impl& impl, Kind kind, std::string_view operation)
        : impl_(impl), operation_(operation) {
      impl_.Run(kind == Kind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED",
                std::string(operation_) + ": begin");
      open_ = true;
    }
    ~Transaction() {
      // A failed COMMIT may already have rolled back (the connection is then in autocommit).
      if (open_ && sqlite3_get_autocommit(impl_.db) == 0) {
        sqlite3_exec(impl_.db, "ROLLBACK", nullptr, nullptr, nullptr);
      }
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void Commit() {
      impl_.Run("COMMIT", std::string(operation_) + ": commit");
      open_ = false;
    }

   private:
    Impl& impl_;
    std::string_view operation_;
    bool open_ = false;
  };
};

Store::Store(StoreOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  impl.path = std::move(options.path);
  impl.max_flows = options.max_flows;
  if (impl.path.empty()) throw StoreError("store: no database path given");
  if (impl.max_flows == 0) {
    throw StoreError("store " + impl.path + ": max_flows must be at least 1");
  }
  if (impl.max_flows > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    impl.max_flows = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  }

  const bool in_memory = impl.path == ":memory:";
  if (!in_memory) {
    const std::filesystem::path parent = std::filesystem::path(impl.path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      throw StoreError("store " + impl.path + ": create directory " + parent.string() + ": " +
                       ec.message());
    }
  }

  // NOMUTEX: the connection is serialised by Impl::mu.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(impl.path.c_str(), &impl.db, flags, nullptr);
  if (rc != SQLITE_OK) impl.Fail("open", rc);  // ~Impl closes the handle
  sqlite3_extended_result_codes(impl.db, 1);
  impl.Check(sqlite3_busy_timeout(impl.db, kBusyTimeoutMs), "set busy timeout");

  // The first statement reads the header: a file that is not a database fails here.
  const std::string mode = internal::QueryText(impl.db, impl.path, "PRAGMA journal_mode = WAL",
                                               "open (read header, enable WAL)");
  if (mode != "wal" && !(in_memory && mode == "memory")) {
    throw StoreError("store " + impl.path + ": enable WAL: journal_mode is '" + mode +
                     "' (the file system must support WAL's shared memory)");
  }
  // FULL: every commit fsyncs the WAL, so a committed alert survives power loss, not only a
  // process crash (NORMAL in WAL mode can lose the last commits on power loss / kernel panic).
  internal::Exec(impl.db, impl.path,
                 "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
                 "PRAGMA cache_size = -32768; PRAGMA journal_size_limit = 67108864;",
                 "configure connection");
  if (internal::QueryInt(impl.db, impl.path, "PRAGMA foreign_keys", "check foreign keys") != 1) {
    throw StoreError("store " + impl.path + ": this SQLite does not enforce foreign keys");
  }
  internal::MigrateSchema(impl.db, impl.path);
}

Store::~Store() = default;

int Store::schema_version() const {
  std::lock_guard lock(impl_->mu);
  return static_cast<int>(impl_->QueryInt("PRAGMA user_version", "read schema version"));
}

void Store::AddAlert(Alert& alert) {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  constexpr std::string_view kOp = "add alert";
  // One statement in autocommit mode: committed (and synced) when the step returns.
  StmtUse use(impl.Prepare(
      "INSERT INTO alerts (time_ns, src_addr, src_port, dst_addr, dst_port, protocol, "
      "alert_class, score, severity, mitre_technique, detector, evidence_json, "
      "degraded_coverage, acknowledged, feedback) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?)"));
  sqlite3_stmt* stmt = use.get();
  impl.BindInt(stmt, 1, alert.time_ns, kOp);
  impl.BindText(stmt, 2, alert.src_addr, kOp);
  impl.BindInt(stmt, 3, alert.src_port, kOp);
  impl.BindText(stmt, 4, alert.dst_addr, kOp);
  impl.BindInt(stmt, 5, alert.dst_port, kOp);
  impl.BindInt(stmt, 6, alert.protocol, kOp);
  impl.BindText(stmt, 7, alert.alert_class, kOp);
  if (std::isnan(alert.score)) {
    impl.Check(sqlite3_bind_null(stmt, 8), kOp);
  } else {
    impl.Check(sqlite3_bind_double(stmt, 8, alert.score), kOp);
  }
  impl.BindInt(stmt, 9, static_cast<int64_t>(alert.severity), kOp);
  impl.BindText(stmt, 10, alert.mitre_technique, kOp);
  impl.BindText(stmt, 11, alert.detector, kOp);
  impl.BindText(stmt, 12, alert.evidence_json, kOp);
  impl.BindInt(stmt, 13, alert.degraded_coverage ? 1 : 0, kOp);
  impl.BindInt(stmt, 14, alert.acknowledged ? 1 : 0, kOp);
  impl.BindInt(stmt, 15, static_cast<int64_t>(alert.feedback), kOp);
  impl.StepDone(stmt, kOp);
  alert.id = sqlite3_last_insert_rowid(impl.db);
}

std::vector<Alert> Store::ListAlerts(const AlertQuery& query) const {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  Filter filter;
  if (query.since_ns != 0) filter.Add("time_ns >= ?", {query.since_ns});
  if (query.until_ns != 0) filter.Add("time_ns < ?", {query.until_ns});
  if (!query.address.empty()) {
    const std::string address = CanonicalAddress(query.address);
    filter.Add("(src_addr = ? OR dst_addr = ?)", {address, address});
  }
  if (!query.alert_class.empty()) filter.Add("alert_class = ?", {query.alert_class});
  if (query.min_severity) {
    filter.Add("severity >= ?", {static_cast<int64_t>(*query.min_severity)});
  }
  filter.AddPaging(query.before_id, query.after_id);
  const std::string sql = std::string("SELECT ") + kAlertColumns + " FROM alerts" + filter.Where() +
                          OrderById(query.oldest_first) + " LIMIT ?";
  StmtUse use(impl.Prepare(sql));
  const int next = impl.BindAll(use.get(), filter, 1, "list alerts");
  impl.BindInt(use.get(), next, EffectiveLimit(query.limit), "list alerts");
  std::vector<Alert> alerts;
  while (impl.StepRow(use.get(), "list alerts")) alerts.push_back(impl.ReadAlert(use.get()));
  return alerts;
}

std::optional<Alert> Store::GetAlert(int64_t id) const {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  StmtUse use(impl.Prepare(std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE id = ?"));
  impl.BindInt(use.get(), 1, id, "get alert");
  if (!impl.StepRow(use.get(), "get alert")) return std::nullopt;
  return impl.ReadAlert(use.get());
}

bool Store::AckAlert(int64_t id) {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  StmtUse use(impl.Prepare("UPDATE alerts SET acknowledged = 1 WHERE id = ?"));
  impl.BindInt(use.get(), 1, id, "acknowledge alert");
  impl.StepDone(use.get(), "acknowledge alert");
  return sqlite3_changes(impl.db) > 0;  // counts matched rows, already acknowledged included
}

bool Store::SetFeedback(int64_t id, Feedback feedback) {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  StmtUse use(impl.Prepare("UPDATE alerts SET feedback = ? WHERE id = ?"));
  impl.BindInt(use.get(), 1, static_cast<int64_t>(feedback), "set alert feedback");
  impl.BindInt(use.get(), 2, id, "set alert feedback");
  impl.StepDone(use.get(), "set alert feedback");
  return sqlite3_changes(impl.db) > 0;
}

void Store::AddFlows(std::span<FlowRecord> flows) {
  if (flows.empty()) return;
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  constexpr std::string_view kOp = "add flows";
  // What the batch adds to each zone it touches (one or two for a batch of 1024).
  struct ZoneUpdate {
    int64_t zone;
    int64_t min_start_ns;
    int64_t max_end_ns;
    std::vector<uint64_t> address_hashes;
  };
  std::vector<ZoneUpdate> zones;
  try {
    Impl::Transaction tx(impl, Impl::Transaction::Kind::kWrite, kOp);
    {
      StmtUse use(impl.Prepare(
          "INSERT INTO flows (start_ns, end_ns, src_addr, src_port, dst_addr, dst_port, protocol, "
          "fwd_packets, bwd_packets, fwd_bytes, bwd_bytes, end_reason, ifindex) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      sqlite3_stmt* stmt = use.get();
      for (FlowRecord& flow : flows) {
        const Endpoint src = Initiator(flow);
        const Endpoint dst = Responder(flow);
        const ng_dir_stats& fwd = flow.acc.dir[NG_DIR_FWD];
        const ng_dir_stats& bwd = flow.acc.dir[NG_DIR_BWD];
        impl.BindInt(stmt, 1, flow.start_ns, kOp);
        impl.BindInt(stmt, 2, flow.end_ns, kOp);
        impl.BindText(stmt, 3, src.address, kOp);
        impl.BindInt(stmt, 4, src.port, kOp);
        impl.BindText(stmt, 5, dst.address, kOp);
        impl.BindInt(stmt, 6, dst.port, kOp);
        impl.BindInt(stmt, 7, flow.key.proto, kOp);
        impl.BindInt(stmt, 8, static_cast<int64_t>(fwd.payload.count), kOp);
        impl.BindInt(stmt, 9, static_cast<int64_t>(bwd.payload.count), kOp);
        impl.BindInt(stmt, 10, fwd.payload.sum, kOp);
        impl.BindInt(stmt, 11, bwd.payload.sum, kOp);
        impl.BindInt(stmt, 12, static_cast<int64_t>(flow.end_reason), kOp);
        impl.BindInt(stmt, 13, flow.ifindex, kOp);
        impl.StepDone(stmt, kOp);
        sqlite3_reset(stmt);
        flow.id = sqlite3_last_insert_rowid(impl.db);

        const int64_t zone = internal::FlowZone(flow.id);
        if (zones.empty() || zones.back().zone != zone) {
          zones.push_back({zone, flow.start_ns, flow.end_ns, {}});
          zones.back().address_hashes.reserve(2 * flows.size());
        }
        ZoneUpdate& update = zones.back();
        update.min_start_ns = std::min(update.min_start_ns, flow.start_ns);
        update.max_end_ns = std::max(update.max_end_ns, flow.end_ns);
        update.address_hashes.push_back(internal::AddressHash(src.address));
        update.address_hashes.push_back(internal::AddressHash(dst.address));
      }
    }
    for (const ZoneUpdate& update : zones)
      impl.MergeZone(update.zone, update.min_start_ns, update.max_end_ns, update.address_hashes);
    // Ids are consecutive and the newest row is never evicted (max_flows >= 1), so ids are never
    // reused and "id <= newest - cap" leaves exactly the newest max_flows rows.
    const int64_t oldest_kept = flows.back().id - static_cast<int64_t>(impl.max_flows);
    if (oldest_kept > 0) {
      StmtUse del(impl.Prepare("DELETE FROM flows WHERE id <= ?"));
      impl.BindInt(del.get(), 1, oldest_kept, "evict flows");
      impl.StepDone(del.get(), "evict flows");
      const int64_t evicted = sqlite3_changes64(impl.db);
      if (evicted > 0) {
        StmtUse count(
            impl.Prepare("UPDATE meta SET value = value + ? WHERE name = 'flows_evicted'"));
        impl.BindInt(count.get(), 1, evicted, "count evicted flows");
        impl.StepDone(count.get(), "count evicted flows");
        // Zones whose every id is evicted: the last id of zone z is ZoneFirstId(z + 1) - 1.
        StmtUse zones_del(impl.Prepare("DELETE FROM flow_zones WHERE zone < ?"));
        impl.BindInt(zones_del.get(), 1, internal::FlowZone(oldest_kept + 1), "evict flow zones");
        impl.StepDone(zones_del.get(), "evict flow zones");
      }
    }
    tx.Commit();
  } catch (...) {
    for (FlowRecord& flow : flows) flow.id = 0;  // nothing was stored
    throw;
  }
}

std::vector<FlowSummary> Store::ListFlows(const FlowQuery& query) const {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  constexpr std::string_view kOp = "list flows";
  const uint32_t limit = EffectiveLimit(query.limit);
  Filter filter;
  if (query.since_ns != 0) filter.Add("end_ns >= ?", {query.since_ns});
  if (query.until_ns != 0) filter.Add("start_ns < ?", {query.until_ns});
  const std::string address = query.address.empty() ? "" : CanonicalAddress(query.address);
  if (!address.empty()) filter.Add("(src_addr = ? OR dst_addr = ?)", {address, address});
  if (query.port != 0) {
    filter.Add("(src_port = ? OR dst_port = ?)",
               {static_cast<int64_t>(query.port), static_cast<int64_t>(query.port)});
  }
  if (query.protocol != 0) filter.Add("protocol = ?", {static_cast<int64_t>(query.protocol)});
  filter.AddPaging(query.before_id, query.after_id);
  const char* order = OrderById(query.oldest_first);
  std::vector<FlowSummary> flows;

  if (query.since_ns == 0 && query.until_ns == 0 && address.empty()) {
    // Nothing the zone map knows about: walk the rows in id order.
    StmtUse use(impl.Prepare(std::string("SELECT ") + kFlowColumns + " FROM flows" +
                             filter.Where() + order + " LIMIT ?"));
    const int next = impl.BindAll(use.get(), filter, 1, kOp);
    impl.BindInt(use.get(), next, limit, kOp);
    while (impl.StepRow(use.get(), kOp)) flows.push_back(impl.ReadFlow(use.get()));
    return flows;
  }

  // Walk the zones that may hold a match, in the requested order, and scan their rows.
  Impl::Transaction tx(impl, Impl::Transaction::Kind::kRead, kOp);  // zones and rows agree
  Filter zone_filter;
  zone_filter.Add("zone >= ?", {query.after_id > 0 ? internal::FlowZone(query.after_id + 1) : 0});
  if (query.before_id > 0) zone_filter.Add("zone <= ?", {internal::FlowZone(query.before_id - 1)});
  if (query.since_ns != 0) zone_filter.Add("max_end_ns >= ?", {query.since_ns});
  if (query.until_ns != 0) zone_filter.Add("min_start_ns < ?", {query.until_ns});
  // The filters are read only when an address is wanted (they are 8 KiB a zone).
  const char* hosts = address.empty() ? "NULL" : "hosts";
  {
    StmtUse zone_stmt(impl.Prepare(
        std::string("SELECT zone, ") + hosts + " FROM flow_zones" + zone_filter.Where() +
        (query.oldest_first ? " ORDER BY zone ASC" : " ORDER BY zone DESC")));
    impl.BindAll(zone_stmt.get(), zone_filter, 1, kOp);
    StmtUse rows(impl.Prepare(std::string("SELECT ") + kFlowColumns +
                              " FROM flows WHERE id >= ? AND id < ?" + filter.AndMore() + order +
                              " LIMIT ?"));
    const uint64_t address_hash = internal::AddressHash(address);
    while (flows.size() < limit && impl.StepRow(zone_stmt.get(), kOp)) {
      const int64_t zone = sqlite3_column_int64(zone_stmt.get(), 0);
      if (!address.empty() &&
          !internal::BloomMayContain(sqlite3_column_blob(zone_stmt.get(), 1),
                                     static_cast<size_t>(sqlite3_column_bytes(zone_stmt.get(), 1)),
                                     address_hash)) {
        continue;
      }
      impl.BindInt(rows.get(), 1, internal::ZoneFirstId(zone), kOp);
      impl.BindInt(rows.get(), 2, internal::ZoneFirstId(zone + 1), kOp);
      const int next = impl.BindAll(rows.get(), filter, 3, kOp);
      impl.BindInt(rows.get(), next, limit - static_cast<uint32_t>(flows.size()), kOp);
      while (impl.StepRow(rows.get(), kOp)) flows.push_back(impl.ReadFlow(rows.get()));
      sqlite3_reset(rows.get());
    }
  }  // both statements reset before the commit
  tx.Commit();
  return flows;
}

uint64_t Store::flow_count() const {
  std::lock_guard lock(impl_->mu);
  // Flow ids are consecutive (see AddFlows): two rowid seeks instead of a full count(*).
  return static_cast<uint64_t>(impl_->QueryInt(
      "SELECT coalesce((SELECT max(id) FROM flows) - (SELECT min(id) FROM flows) + 1, 0)",
      "count flows"));
}

uint64_t Store::flows_evicted() const {
  std::lock_guard lock(impl_->mu);
  return static_cast<uint64_t>(impl_->QueryInt(
      "SELECT value FROM meta WHERE name = 'flows_evicted'", "read evicted flow count"));
}

void Store::PutBlock(BlockRecord& record) {
  std::string prefix;
  try {
    prefix = IpPrefix::Parse(record.prefix).ToString();
  } catch (const std::invalid_argument& e) {
    throw StoreError("store " + impl_->path + ": put block: " + e.what());
  }
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  const std::string operation = "put block " + prefix;
  Impl::Transaction tx(impl, Impl::Transaction::Kind::kWrite, operation);
  {
    StmtUse use(impl.Prepare(
        "INSERT INTO blocks (prefix, reason, automatic, created_ns, expires_ns) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (prefix) DO UPDATE SET reason = excluded.reason, "
        "automatic = excluded.automatic, created_ns = excluded.created_ns, "
        "expires_ns = excluded.expires_ns"));
    impl.BindText(use.get(), 1, prefix, operation);
    impl.BindText(use.get(), 2, record.reason, operation);
    impl.BindInt(use.get(), 3, record.automatic ? 1 : 0, operation);
    impl.BindInt(use.get(), 4, record.created_ns, operation);
    impl.BindInt(use.get(), 5, record.expires_ns, operation);
    impl.StepDone(use.get(), operation);
  }
  int64_t id = 0;
  {
    StmtUse use(impl.Prepare("SELECT id FROM blocks WHERE prefix = ?"));
    impl.BindText(use.get(), 1, prefix, operation);
    if (!impl.StepRow(use.get(), operation)) {
      throw StoreError("store " + impl.path + ": " + operation + ": row vanished after upsert");
    }
    id = sqlite3_column_int64(use.get(), 0);
  }
  {
    StmtUse use(impl.Prepare("DELETE FROM block_alerts WHERE block_id = ?"));
    impl.BindInt(use.get(), 1, id, operation);
    impl.StepDone(use.get(), operation);
  }
  {
    const std::string link_op = operation + ": link alerts (every alert id must exist)";
    StmtUse use(
        impl.Prepare("INSERT OR IGNORE INTO block_alerts (block_id, alert_id) VALUES (?, ?)"));
    for (const int64_t alert_id : record.alert_ids) {
      impl.BindInt(use.get(), 1, id, link_op);
      impl.BindInt(use.get(), 2, alert_id, link_op);
      impl.StepDone(use.get(), link_op);
      sqlite3_reset(use.get());
    }
  }
  tx.Commit();
  record.id = id;
  record.prefix = prefix;
}

bool Store::RemoveBlock(const std::string& prefix) {
  std::string canonical;
  try {
    canonical = IpPrefix::Parse(prefix).ToString();
  } catch (const std::invalid_argument&) {
    return false;  // PutBlock never stores an invalid prefix
  }
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  // Links go with the block (ON DELETE CASCADE); one statement, so one transaction.
  StmtUse use(impl.Prepare("DELETE FROM blocks WHERE prefix = ?"));
  impl.BindText(use.get(), 1, canonical, "remove block");
  impl.StepDone(use.get(), "remove block");
  return sqlite3_changes(impl.db) > 0;
}

std::vector<BlockRecord> Store::ListBlocks() const {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  Impl::Transaction tx(impl, Impl::Transaction::Kind::kRead,
                       "list blocks");  // blocks and links agree
  std::vector<BlockRecord> blocks;
  {
    StmtUse use(impl.Prepare(std::string("SELECT ") + kBlockColumns + " FROM blocks ORDER BY id"));
    while (impl.StepRow(use.get(), "list blocks")) blocks.push_back(impl.ReadBlock(use.get()));
  }
  for (BlockRecord& block : blocks) impl.LoadBlockAlerts(block);
  tx.Commit();
  return blocks;
}

std::vector<BlockRecord> Store::TakeExpiredBlocks(int64_t now_ns) {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  constexpr std::string_view kOp = "take expired blocks";
  Impl::Transaction tx(impl, Impl::Transaction::Kind::kWrite, kOp);
  std::vector<BlockRecord> blocks;
  {
    StmtUse use(impl.Prepare(std::string("SELECT ") + kBlockColumns +
                             " FROM blocks WHERE expires_ns > 0 AND expires_ns <= ? ORDER BY id"));
    impl.BindInt(use.get(), 1, now_ns, kOp);
    while (impl.StepRow(use.get(), kOp)) blocks.push_back(impl.ReadBlock(use.get()));
  }
  if (blocks.empty()) return blocks;  // rolls back the empty transaction
  for (BlockRecord& block : blocks) impl.LoadBlockAlerts(block);
  {
    StmtUse use(impl.Prepare("DELETE FROM blocks WHERE expires_ns > 0 AND expires_ns <= ?"));
    impl.BindInt(use.get(), 1, now_ns, kOp);
    impl.StepDone(use.get(), kOp);
  }
  tx.Commit();
  return blocks;
}

}  // namespace netguard::store
