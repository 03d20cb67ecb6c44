#include "store/schema.h"

#include <iterator>

#include "store/sqlite_util.h"
#include "store/store.h"

namespace netguard::store::internal {
namespace {

// Version 1: the initial schema.
//
// Integers hold the enums (Severity, Feedback, FlowEndReason) so ranges compare directly; uint64
// counters are stored as their int64 bit pattern. alerts.score is NULL for NaN (SQLite has no
// NaN). The alert filters have indexes; an index also holds the rowid, so
// "WHERE alert_class = ? ORDER BY id DESC" walks it without sorting. Flow ids are rowids without
// AUTOINCREMENT: consecutive, and never reused because eviction always keeps the newest flow.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE alerts (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ns           INTEGER NOT NULL,
  src_addr          TEXT    NOT NULL,
  src_port          INTEGER NOT NULL CHECK (src_port BETWEEN 0 AND 65535),
  dst_addr          TEXT    NOT NULL,
  dst_port          INTEGER NOT NULL CHECK (dst_port BETWEEN 0 AND 65535),
  protocol          INTEGER NOT NULL CHECK (protocol BETWEEN 0 AND 255),
  alert_class       TEXT    NOT NULL,
  score             REAL,
  severity          INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 3),
  mitre_technique   TEXT    NOT NULL,
  detector          TEXT    NOT NULL,
  evidence_json     TEXT    NOT NULL,
  degraded_coverage INTEGER NOT NULL CHECK (degraded_coverage IN (0, 1)),
  acknowledged      INTEGER NOT NULL DEFAULT 0 CHECK (acknowledged IN (0, 1)),
  feedback          INTEGER NOT NULL DEFAULT 0 CHECK (feedback BETWEEN 0 AND 2)
);
CREATE INDEX alerts_time ON alerts (time_ns);
CREATE INDEX alerts_src ON alerts (src_addr);
CREATE INDEX alerts_dst ON alerts (dst_addr);
CREATE INDEX alerts_class ON alerts (alert_class);

CREATE TABLE blocks (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  prefix     TEXT    NOT NULL UNIQUE,
  reason     TEXT    NOT NULL,
  automatic  INTEGER NOT NULL CHECK (automatic IN (0, 1)),
  created_ns INTEGER NOT NULL,
  expires_ns INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX blocks_expiry ON blocks (expires_ns) WHERE expires_ns > 0;

CREATE TABLE block_alerts (
  block_id INTEGER NOT NULL REFERENCES blocks (id) ON DELETE CASCADE,
  alert_id INTEGER NOT NULL REFERENCES alerts (id),
  PRIMARY KEY (block_id, alert_id)
) WITHOUT ROWID;
CREATE INDEX block_alerts_alert ON block_alerts (alert_id);

CREATE TABLE flows (
  id          INTEGER PRIMARY KEY,
  start_ns    INTEGER NOT NULL,
  end_ns      INTEGER NOT NULL,
  src_addr    TEXT    NOT NULL,
  src_port    INTEGER NOT NULL,
  dst_addr    TEXT    NOT NULL,
  dst_port    INTEGER NOT NULL,
  protocol    INTEGER NOT NULL,
  fwd_packets INTEGER NOT NULL,
  bwd_packets INTEGER NOT NULL,
  fwd_bytes   INTEGER NOT NULL,
  bwd_bytes   INTEGER NOT NULL,
  end_reason  INTEGER NOT NULL,
  ifindex     INTEGER NOT NULL
);

-- Zone map of flows (agent/store/flow_zones.h): per 4096 consecutive flow ids, the time span and
-- a Bloom filter of the addresses. It stands in for time/address indexes on flows, which would
-- cost AddFlows a random page write per row and index.
CREATE TABLE flow_zones (
  zone         INTEGER PRIMARY KEY,  -- flow id >> 12
  min_start_ns INTEGER NOT NULL,
  max_end_ns   INTEGER NOT NULL,
  hosts        BLOB    NOT NULL      -- 8192-byte Bloom filter of src_addr and dst_addr
);

CREATE TABLE meta (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (name, value) VALUES ('flows_evicted', 0);

PRAGMA application_id = 1313293395;
)sql";

// Version 2: IP reputation and dry-run blocks (agent/respond).
//
// blocks.dry_run marks a "would block" of the auto-block policy in dry-run mode: recorded and
// listed, never written to the kernel blocklist. reputation holds one row per address the
// reputation tracks: the score as of score_ns (it decays from there), the automatic blocks so
// far (offences: the TTL grows with them) and whether the score promoted it to malicious.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE blocks ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1));

CREATE TABLE reputation (
  address       TEXT    PRIMARY KEY,
  score         REAL    NOT NULL,
  score_ns      INTEGER NOT NULL,
  first_seen_ns INTEGER NOT NULL,
  last_seen_ns  INTEGER NOT NULL,
  alerts        INTEGER NOT NULL DEFAULT 0,
  offences      INTEGER NOT NULL DEFAULT 0,
  promoted      INTEGER NOT NULL DEFAULT 0 CHECK (promoted IN (0, 1))
) WITHOUT ROWID;
)sql";

constexpr Migration kMigrations[] = {
    {1, "initial schema", kSchemaV1},
    {2, "reputation and dry-run blocks", kSchemaV2},
};
static_assert(std::size(kMigrations) == Store::kSchemaVersion,
              "one migration per schema version; bump Store::kSchemaVersion with a new migration");
static_assert(kApplicationId == 1313293395, "kSchemaV1 sets PRAGMA application_id literally");

void Rollback(sqlite3* db) { sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr); }

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

int MigrateSchema(sqlite3* db, const std::string& path) {
  constexpr int kLatest = Store::kSchemaVersion;
  const int64_t app_id = QueryInt(db, path, "PRAGMA application_id", "read application_id");
  if (app_id != 0 && app_id != kApplicationId) {
    throw StoreError("store " + path + ": not a NetGuard database (application_id " +
                     std::to_string(app_id) + ")");
  }
  for (;;) {
    // The version is read inside the write transaction: a concurrent opener that migrated first
    // is seen, and the migration is not applied twice.
    Exec(db, path, "BEGIN IMMEDIATE", "begin schema migration");
    int64_t version = 0;
    try {
      version = QueryInt(db, path, "PRAGMA user_version", "read schema version");
    } catch (...) {
      Rollback(db);
      throw;
    }
    if (version > kLatest || version < 0) {
      Rollback(db);
      throw StoreError("store " + path + ": database schema version " + std::to_string(version) +
                       " is newer than this build supports (" + std::to_string(kLatest) +
                       "); refusing to open it (upgrade netguard or use another database file)");
    }
    if (version == kLatest) {
      Exec(db, path, "COMMIT", "end schema check");
      return kLatest;
    }
    const Migration& migration = kMigrations[version];  // takes version -> version + 1
    const std::string operation = "migrate schema from version " + std::to_string(version) +
                                  " to " + std::to_string(migration.version) + " (" +
                                  migration.description + ")";
    try {
      Exec(db, path, migration.sql, operation);
      const std::string bump = "PRAGMA user_version = " + std::to_string(migration.version);
      Exec(db, path, bump.c_str(), operation);
      Exec(db, path, "COMMIT", operation);
    } catch (...) {
      Rollback(db);
      throw;
    }
  }
}

}  // namespace netguard::store::internal
