// Store's flow history: AddFlows, ListFlows, flow_count, flows_evicted and the zone map they
// maintain and use (store/flow_zones.h). Opening, alerts and blocks are in store.cpp; Store::Impl
// is shared through store/store_impl.h.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/flow_zones.h"
#include "store/sqlite_util.h"
#include "store/store.h"
#include "store/store_impl.h"

namespace netguard::store {

using internal::CanonicalAddress;
using internal::ColumnText;
using internal::EffectiveLimit;
using internal::Filter;
using internal::OrderById;
using internal::StmtUse;

namespace {

constexpr const char* kFlowColumns =
    "id, start_ns, end_ns, src_addr, src_port, dst_addr, dst_port, protocol, fwd_packets, "
    "bwd_packets, fwd_bytes, bwd_bytes, end_reason, ifindex";

}  // namespace

FlowSummary Store::Impl::ReadFlow(sqlite3_stmt* stmt) const {
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

void Store::Impl::MergeZone(int64_t zone, int64_t min_start_ns, int64_t max_end_ns,
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
  Check(
      sqlite3_bind_blob(use.get(), 4, bloom.data(), static_cast<int>(bloom.size()), SQLITE_STATIC),
      kOp);
  StepDone(use.get(), kOp);
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

}  // namespace netguard::store
