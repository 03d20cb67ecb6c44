// Store's IP reputation rows (PutReputation, GetReputation, ListReputation, RemoveReputation)
// and the alert count per address that GetIp shows. Opening, alerts and blocks are in
// store.cpp; Store::Impl is shared through store/store_impl.h.
#include <sqlite3.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite_util.h"
#include "store/store.h"
#include "store/store_impl.h"

namespace netguard::store {

using internal::CanonicalAddress;
using internal::ColumnText;
using internal::StmtUse;

namespace {

constexpr const char* kReputationColumns =
    "address, score, score_ns, first_seen_ns, last_seen_ns, alerts, offences, promoted";

ReputationRecord ReadReputation(sqlite3_stmt* stmt) {
  ReputationRecord r;
  r.address = ColumnText(stmt, 0);
  r.score = sqlite3_column_double(stmt, 1);
  r.score_ns = sqlite3_column_int64(stmt, 2);
  r.first_seen_ns = sqlite3_column_int64(stmt, 3);
  r.last_seen_ns = sqlite3_column_int64(stmt, 4);
  r.alerts = static_cast<uint64_t>(sqlite3_column_int64(stmt, 5));
  r.offences = static_cast<uint32_t>(sqlite3_column_int64(stmt, 6));
  r.promoted = sqlite3_column_int(stmt, 7) != 0;
  return r;
}

}  // namespace

uint64_t Store::CountAlerts(const std::string& address) const {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  const std::string canonical = CanonicalAddress(address);
  StmtUse use(impl.Prepare("SELECT count(*) FROM alerts WHERE src_addr = ? OR dst_addr = ?"));
  impl.BindText(use.get(), 1, canonical, "count alerts");
  impl.BindText(use.get(), 2, canonical, "count alerts");
  if (!impl.StepRow(use.get(), "count alerts")) return 0;
  return static_cast<uint64_t>(sqlite3_column_int64(use.get(), 0));
}

void Store::PutReputation(ReputationRecord& record) {
  record.address = CanonicalAddress(record.address);
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  const std::string operation = "put reputation of " + record.address;
  StmtUse use(impl.Prepare(
      "INSERT OR REPLACE INTO reputation (address, score, score_ns, first_seen_ns, last_seen_ns, "
      "alerts, offences, promoted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  sqlite3_stmt* stmt = use.get();
  impl.BindText(stmt, 1, record.address, operation);
  impl.Check(sqlite3_bind_double(stmt, 2, record.score), operation);
  impl.BindInt(stmt, 3, record.score_ns, operation);
  impl.BindInt(stmt, 4, record.first_seen_ns, operation);
  impl.BindInt(stmt, 5, record.last_seen_ns, operation);
  impl.BindInt(stmt, 6, static_cast<int64_t>(record.alerts), operation);
  impl.BindInt(stmt, 7, record.offences, operation);
  impl.BindInt(stmt, 8, record.promoted ? 1 : 0, operation);
  impl.StepDone(stmt, operation);
}

std::optional<ReputationRecord> Store::GetReputation(const std::string& address) const {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  const std::string canonical = CanonicalAddress(address);
  StmtUse use(impl.Prepare(std::string("SELECT ") + kReputationColumns +
                           " FROM reputation WHERE address = ?"));
  impl.BindText(use.get(), 1, canonical, "get reputation");
  if (!impl.StepRow(use.get(), "get reputation")) return std::nullopt;
  return ReadReputation(use.get());
}

std::vector<ReputationRecord> Store::ListReputation() const {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  StmtUse use(impl.Prepare(std::string("SELECT ") + kReputationColumns + " FROM reputation"));
  std::vector<ReputationRecord> out;
  while (impl.StepRow(use.get(), "list reputation")) out.push_back(ReadReputation(use.get()));
  return out;
}

bool Store::RemoveReputation(const std::string& address) {
  std::lock_guard lock(impl_->mu);
  Impl& impl = *impl_;
  const std::string canonical = CanonicalAddress(address);
  StmtUse use(impl.Prepare("DELETE FROM reputation WHERE address = ?"));
  impl.BindText(use.get(), 1, canonical, "remove reputation");
  impl.StepDone(use.get(), "remove reputation");
  return sqlite3_changes(impl.db) > 0;
}

}  // namespace netguard::store
