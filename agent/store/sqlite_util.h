// Internal helpers of the store: RAII over sqlite3_stmt, error reporting, plain execution.
// Not part of the store's API; included by the store's own sources (store.cpp, store_flows.cpp,
// store_impl.h, schema.cpp) only.
#ifndef NETGUARD_AGENT_STORE_SQLITE_UTIL_H_
#define NETGUARD_AGENT_STORE_SQLITE_UTIL_H_

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

#include "store/store.h"

namespace netguard::store::internal {

/// "store <path>: <operation>: <SQLite message> (<result code name>)".
inline std::string ErrorText(std::string_view path, std::string_view operation,
                             std::string_view message, int rc) {
  std::string text = "store ";
  text.append(path).append(": ").append(operation).append(": ").append(message);
  text.append(" (").append(sqlite3_errstr(rc)).append(", code ").append(std::to_string(rc));
  text.append(")");
  const int primary = rc & 0xff;
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) {
    text.append(" - the file is not a NetGuard store or is corrupt; move it aside to start anew");
  }
  return text;
}

/// Throws StoreError with the connection's current error message.
[[noreturn]] inline void ThrowSqlite(sqlite3* db, std::string_view path, std::string_view operation,
                                     int rc) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw StoreError(ErrorText(path, operation, message, rc));
}

/// Owns a prepared statement (finalized on destruction).
struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

/// Borrows a cached statement for one use: resets it and clears its bindings when the use ends,
/// so a half-read SELECT never keeps a WAL read snapshot open.
class StmtUse {
 public:
  explicit StmtUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtUse() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StmtUse(const StmtUse&) = delete;
  StmtUse& operator=(const StmtUse&) = delete;

  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

/// Runs SQL without results (one or several statements). Throws StoreError.
inline void Exec(sqlite3* db, std::string_view path, const char* sql, std::string_view operation) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    const std::string text = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw StoreError(ErrorText(path, operation, text, rc));
  }
}

/// Runs a one-row, one-integer query such as "PRAGMA user_version". Throws StoreError.
inline int64_t QueryInt(sqlite3* db, std::string_view path, const char* sql,
                        std::string_view operation) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) ThrowSqlite(db, path, operation, rc);
  rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW) {
    if (rc == SQLITE_DONE) throw StoreError(ErrorText(path, operation, "no result row", rc));
    ThrowSqlite(db, path, operation, rc);
  }
  return sqlite3_column_int64(stmt.get(), 0);
}

/// Runs a one-row query whose first column is text, such as "PRAGMA journal_mode=WAL".
inline std::string QueryText(sqlite3* db, std::string_view path, const char* sql,
                             std::string_view operation) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) ThrowSqlite(db, path, operation, rc);
  rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW) {
    if (rc == SQLITE_DONE) throw StoreError(ErrorText(path, operation, "no result row", rc));
    ThrowSqlite(db, path, operation, rc);
  }
  const unsigned char* text = sqlite3_column_text(stmt.get(), 0);
  return text != nullptr ? reinterpret_cast<const char*>(text) : "";
}

}  // namespace netguard::store::internal

#endif  // NETGUARD_AGENT_STORE_SQLITE_UTIL_H_
