// Private to netguard_store (not installed, not part of the store's API): the definition of
// Store::Impl, shared by the two halves of Store's implementation - store.cpp (opening, alerts,
// blocks) and store_flows.cpp (flow history) - and the query helpers both use. Include it only
// from those files; everything else uses store/store.h.
//
// Impl holds the connection, the prepared-statement cache and the generic bind/step/transaction
// helpers (defined here, inline). The row readers and other helpers specific to one half are
// declared here and defined in that half's .cpp, as marked below.
#ifndef NETGUARD_AGENT_STORE_STORE_IMPL_H_
#define NETGUARD_AGENT_STORE_STORE_IMPL_H_

#include <arpa/inet.h>
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "store/sqlite_util.h"
#include "store/store.h"

namespace netguard::store {
namespace internal {

// ---- Query helpers of both halves. ----

/// Canonical text of an IP address (so "::FFFF:10.0.0.1" finds what inet_ntop stored); other
/// text is returned unchanged.
inline std::string CanonicalAddress(const std::string& text) {
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

inline uint32_t EffectiveLimit(uint32_t limit) {
  return limit == 0 || limit > Store::kMaxListLimit ? Store::kMaxListLimit : limit;
}

inline std::string ColumnText(sqlite3_stmt* stmt, int column) {
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

inline const char* OrderById(bool oldest_first) {
  return oldest_first ? " ORDER BY id ASC" : " ORDER BY id DESC";
}

}  // namespace internal

struct Store::Impl {
  std::string path;
  uint64_t max_flows = 0;
  sqlite3* db = nullptr;
  std::mutex mu;
  std::unordered_map<std::string, internal::StmtPtr> statements;  // by SQL text

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
    internal::StmtPtr stmt(raw);
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
    internal::StmtUse use(Prepare(sql));
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
  int BindAll(sqlite3_stmt* stmt, const internal::Filter& filter, int index,
              std::string_view operation) const {
    for (const internal::Filter::Arg& arg : filter.args) {
      if (const auto* number = std::get_if<int64_t>(&arg)) {
        BindInt(stmt, index++, *number, operation);
      } else {
        BindText(stmt, index++, std::get<std::string>(arg), operation);
      }
    }
    return index;
  }

  int64_t QueryInt(const std::string& sql, std::string_view operation) {
    internal::StmtUse use(Prepare(sql));
    if (!StepRow(use.get(), operation)) return 0;
    return sqlite3_column_int64(use.get(), 0);
  }

  [[noreturn]] void Corrupt(std::string_view table, int64_t id, std::string_view what) const {
    throw StoreError("store " + path + ": " + std::string(table) + " row " + std::to_string(id) +
                     " holds " + std::string(what) + " (database modified outside netguard?)");
  }

  // ---- Defined in store.cpp (alerts and blocks). ----

  Alert ReadAlert(sqlite3_stmt* stmt) const;
  BlockRecord ReadBlock(sqlite3_stmt* stmt) const;
  /// Fills block.alert_ids (ascending).
  void LoadBlockAlerts(BlockRecord& block);

  // ---- Defined in store_flows.cpp (flow history). ----

  FlowSummary ReadFlow(sqlite3_stmt* stmt) const;
  /// Adds a batch's flows of `zone` to its zone-map row.
  void MergeZone(int64_t zone, int64_t min_start_ns, int64_t max_end_ns,
                 const std::vector<uint64_t>& address_hashes);

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

}  // namespace netguard::store

#endif  // NETGUARD_AGENT_STORE_STORE_IMPL_H_
