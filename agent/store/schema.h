// Versioned schema of the store: an ordered list of migrations, PRAGMA user_version = the last
// one applied. Internal to netguard_store (exposed for the unit tests).
#ifndef NETGUARD_AGENT_STORE_SCHEMA_H_
#define NETGUARD_AGENT_STORE_SCHEMA_H_

#include <cstdint>
#include <span>
#include <string>

struct sqlite3;

namespace netguard::store::internal {

/// PRAGMA application_id of a NetGuard store ("NGDS"); a database with another non-zero id is
/// refused.
inline constexpr int32_t kApplicationId = 0x4E474453;

/// Migration `version` takes a database from version - 1 to `version`.
struct Migration {
  int version;
  const char* description;
  const char* sql;
};

/// Every migration, in order: versions 1, 2, ... Store::kSchemaVersion.
std::span<const Migration> Migrations();

/// Brings the database to Store::kSchemaVersion: applies each missing migration in its own
/// IMMEDIATE transaction together with the user_version bump, so a failure leaves the database at
/// the previous version. Throws StoreError when the database is newer than this code, belongs to
/// another application, or a migration fails. Returns the resulting version.
int MigrateSchema(sqlite3* db, const std::string& path);

}  // namespace netguard::store::internal

#endif  // NETGUARD_AGENT_STORE_SCHEMA_H_
