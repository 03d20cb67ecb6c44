// Store: opening (connection set-up, schema migration), alerts and blocks. The flow history
// (AddFlows, ListFlows, flow_count, flows_evicted) is in store_flows.cpp; Store::Impl is shared
// through store/store_impl.h.
#include "store/store.h"

#include <sqlite3.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "common/ip_prefix.h"
#include "store/schema.h"
#include "store/sqlite_util.h"
#include "store/store_impl.h"

namespace netguard::store {

using internal::CanonicalAddress;
using internal::ColumnText;
using internal::EffectiveLimit;
using internal::Filter;
using internal::OrderById;
using internal::StmtUse;

namespace {

constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kAlertColumns =
    "id, time_ns, src_addr, src_port, dst_addr, dst_port, protocol, alert_class, score, severity, "
    "mitre_technique, detector, evidence_json, degraded_coverage, acknowledged, feedback";

constexpr const char* kBlockColumns =
    "id, prefix, reason, automatic, created_ns, expires_ns, dry_run";

}  // namespace

Alert Store::Impl::ReadAlert(sqlite3_stmt* stmt) const {
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

BlockRecord Store::Impl::ReadBlock(sqlite3_stmt* stmt) const {
  BlockRecord block;
  block.id = sqlite3_column_int64(stmt, 0);
  block.prefix = ColumnText(stmt, 1);
  block.reason = ColumnText(stmt, 2);
  block.automatic = sqlite3_column_int(stmt, 3) != 0;
  block.created_ns = sqlite3_column_int64(stmt, 4);
  block.expires_ns = sqlite3_column_int64(stmt, 5);
  block.dry_run = sqlite3_column_int(stmt, 6) != 0;
  return block;
}

void Store::Impl::LoadBlockAlerts(BlockRecord& block) {
  StmtUse use(Prepare("SELECT alert_id FROM block_alerts WHERE block_id = ? ORDER BY alert_id"));
  BindInt(use.get(), 1, block.id, "list block alerts");
  while (StepRow(use.get(), "list block alerts")) {
    block.alert_ids.push_back(sqlite3_column_int64(use.get(), 0));
  }
}

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
        "INSERT INTO blocks (prefix, reason, automatic, created_ns, expires_ns, dry_run) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (prefix) DO UPDATE SET reason = excluded.reason, "
        "automatic = excluded.automatic, created_ns = excluded.created_ns, "
        "expires_ns = excluded.expires_ns, dry_run = excluded.dry_run"));
    impl.BindText(use.get(), 1, prefix, operation);
    impl.BindText(use.get(), 2, record.reason, operation);
    impl.BindInt(use.get(), 3, record.automatic ? 1 : 0, operation);
    impl.BindInt(use.get(), 4, record.created_ns, operation);
    impl.BindInt(use.get(), 5, record.expires_ns, operation);
    impl.BindInt(use.get(), 6, record.dry_run ? 1 : 0, operation);
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
