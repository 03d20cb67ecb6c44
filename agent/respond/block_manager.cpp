#include "respond/block_manager.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "common/clock.h"

namespace netguard::respond {

bool Overlaps(const IpPrefix& a, const IpPrefix& b) {
  if (a.family != b.family) return false;
  const unsigned bits = std::min(a.length, b.length);
  for (unsigned bit = 0; bit < bits; ++bit) {
    const uint8_t mask = static_cast<uint8_t>(0x80u >> (bit % 8));
    if ((a.addr[bit / 8] & mask) != (b.addr[bit / 8] & mask)) return false;
  }
  return true;
}

std::vector<IpPrefix> HostAddresses() {
  std::vector<IpPrefix> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* it = list; it; it = it->ifa_next) {
    if (!it->ifa_addr) continue;
    IpPrefix p;
    if (it->ifa_addr->sa_family == AF_INET) {
      p.family = IpPrefix::Family::kIpv4;
      p.length = 32;
      std::memcpy(p.addr.data(), &reinterpret_cast<sockaddr_in*>(it->ifa_addr)->sin_addr, 4);
    } else if (it->ifa_addr->sa_family == AF_INET6) {
      p.family = IpPrefix::Family::kIpv6;
      p.length = 128;
      std::memcpy(p.addr.data(), &reinterpret_cast<sockaddr_in6*>(it->ifa_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    out.push_back(p);
  }
  freeifaddrs(list);
  return out;
}

BlockManager::BlockManager(store::Store& store, capture::Blocklist& kernel, BlockPolicy policy)
    : store_(store), kernel_(kernel), policy_(std::move(policy)) {}

void BlockManager::set_allowlist(std::vector<IpPrefix> allowlist) {
  std::lock_guard lock(mu_);
  policy_.allowlist = std::move(allowlist);
}

void BlockManager::Validate(const IpPrefix& prefix, const BlockRequest& request) const {
  using Code = BlockError::Code;
  if (prefix.length == 0) {
    throw BlockError(Code::kInvalidArgument,
                     "refusing to block every address (" + prefix.ToString() + ")");
  }
  if (request.ttl.count() < 0 || request.ttl > policy_.max_ttl) {
    throw BlockError(Code::kInvalidArgument, "ttl must be between 0 (no expiry) and " +
                                                 std::to_string(policy_.max_ttl.count()) + " s");
  }
  for (const IpPrefix& allowed : policy_.allowlist) {
    if (Overlaps(prefix, allowed)) {
      throw BlockError(Code::kFailedPrecondition,
                       prefix.ToString() + " overlaps the allowlisted " + allowed.ToString());
    }
  }
  for (const IpPrefix& own : HostAddresses()) {
    if (Overlaps(prefix, own)) {
      throw BlockError(Code::kFailedPrecondition,
                       prefix.ToString() + " covers this host's own address " + own.ToString());
    }
  }
}

store::BlockRecord BlockManager::Block(const BlockRequest& request) {
  IpPrefix prefix;
  try {
    prefix = IpPrefix::Parse(request.prefix);
  } catch (const std::invalid_argument& e) {
    throw BlockError(BlockError::Code::kInvalidArgument, e.what());
  }
  std::lock_guard lock(mu_);
  Validate(prefix, request);
  store::BlockRecord record;
  record.prefix = prefix.ToString();
  record.reason = request.reason;
  record.automatic = request.automatic;
  record.created_ns = WallNowNs();
  record.expires_ns =
      request.ttl.count() == 0
          ? 0
          : record.created_ns +
                std::chrono::duration_cast<std::chrono::nanoseconds>(request.ttl).count();
  record.alert_ids = request.alert_ids;
  record.dry_run = request.dry_run;
  if (request.dry_run) {
    for (const store::BlockRecord& existing : store_.ListBlocks()) {
      if (existing.prefix == record.prefix && !existing.dry_run) {
        throw BlockError(BlockError::Code::kFailedPrecondition,
                         record.prefix + " is already blocked (enforced)");
      }
    }
    store_.PutBlock(record);
    spdlog::info("dry-run: would block {} ({}{})", record.prefix,
                 record.automatic ? "auto" : "manual",
                 request.ttl.count() ? ", ttl " + std::to_string(request.ttl.count()) + " s" : "");
    return record;
  }
  store_.PutBlock(record);  // the store first: Restore() repairs a crash before the kernel write
  kernel_.Add(prefix);
  spdlog::info("blocked {} ({}{})", record.prefix, record.automatic ? "auto" : "manual",
               request.ttl.count() ? ", ttl " + std::to_string(request.ttl.count()) + " s" : "");
  return record;
}

void BlockManager::Unblock(const std::string& text) {
  IpPrefix prefix;
  try {
    prefix = IpPrefix::Parse(text);
  } catch (const std::invalid_argument& e) {
    throw BlockError(BlockError::Code::kInvalidArgument, e.what());
  }
  std::lock_guard lock(mu_);
  const bool stored = store_.RemoveBlock(prefix.ToString());
  const bool enforced = kernel_.Remove(prefix);
  if (!stored && !enforced) {
    throw BlockError(BlockError::Code::kNotFound, prefix.ToString() + " is not blocked");
  }
  spdlog::info("unblocked {}", prefix.ToString());
}

std::optional<store::BlockRecord> BlockManager::Covering(const IpPrefix& address) const {
  std::lock_guard lock(mu_);
  std::optional<store::BlockRecord> best;
  unsigned best_length = 0;
  for (store::BlockRecord& record : store_.ListBlocks()) {
    const IpPrefix prefix = IpPrefix::Parse(record.prefix);
    if (!Overlaps(prefix, address)) continue;
    // An enforced block wins over a dry-run one, then the longer prefix.
    const bool better = !best || (best->dry_run && !record.dry_run) ||
                        (best->dry_run == record.dry_run && prefix.length > best_length);
    if (better) {
      best_length = prefix.length;
      best = std::move(record);
    }
  }
  return best;
}

std::vector<BlockView> BlockManager::List() const {
  std::lock_guard lock(mu_);
  const std::vector<capture::BlockEntry> live = kernel_.List();
  std::vector<BlockView> out;
  for (store::BlockRecord& record : store_.ListBlocks()) {
    BlockView view{.record = std::move(record)};
    for (const capture::BlockEntry& entry : live) {
      if (entry.prefix.ToString() == view.record.prefix) {
        view.packets = entry.packets;
        view.bytes = entry.bytes;
        view.enforced = true;
      }
    }
    out.push_back(std::move(view));
  }
  return out;
}

size_t BlockManager::Restore(int64_t now_ns) {
  std::lock_guard lock(mu_);
  for (const store::BlockRecord& expired : store_.TakeExpiredBlocks(now_ns)) {
    if (!expired.dry_run) kernel_.Remove(IpPrefix::Parse(expired.prefix));
    spdlog::info("block {} expired while the agent was down", expired.prefix);
  }
  std::set<std::string> wanted;
  for (const store::BlockRecord& record : store_.ListBlocks()) {
    if (record.dry_run) continue;  // a "would block": never enforced
    wanted.insert(record.prefix);
    kernel_.Add(IpPrefix::Parse(record.prefix));  // idempotent: keeps counters
  }
  // A pinned entry the store does not know (an older store, or a tool writing the map) stays
  // enforced and becomes visible: removing a block is always someone's explicit decision.
  for (const capture::BlockEntry& entry : kernel_.List()) {
    if (wanted.count(entry.prefix.ToString())) continue;
    store::BlockRecord adopted{.prefix = entry.prefix.ToString(),
                               .reason = "found in the pinned blocklist at start",
                               .created_ns = now_ns};
    store_.PutBlock(adopted);
    wanted.insert(adopted.prefix);
    spdlog::warn("adopted pinned block {} that the store did not know", adopted.prefix);
  }
  return wanted.size();
}

size_t BlockManager::ExpireDue(int64_t now_ns) {
  std::lock_guard lock(mu_);
  const std::vector<store::BlockRecord> expired = store_.TakeExpiredBlocks(now_ns);
  for (const store::BlockRecord& record : expired) {
    if (!record.dry_run) kernel_.Remove(IpPrefix::Parse(record.prefix));
    spdlog::info("{} {} expired", record.dry_run ? "dry-run block" : "block", record.prefix);
  }
  return expired.size();
}

}  // namespace netguard::respond
