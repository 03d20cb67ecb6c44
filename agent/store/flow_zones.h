// The flow history's zone map: flows are grouped by id into zones of 4096 consecutive ids, and
// each zone keeps the time span of its flows and a Bloom filter of their addresses (table
// flow_zones). ListFlows skips the zones that cannot match a time or address filter and scans the
// rows of the others, so AddFlows maintains one small row per zone and batch instead of per-row
// address indexes (which cost ~20 us a flow at 1M flows: every insert lands on a random page).
// Internal to netguard_store; the format is part of schema version 1.
#ifndef NETGUARD_AGENT_STORE_FLOW_ZONES_H_
#define NETGUARD_AGENT_STORE_FLOW_ZONES_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace netguard::store::internal {

inline constexpr int kFlowZoneShift = 12;  // 4096 flow ids a zone
inline constexpr size_t kZoneBloomBytes = 8192;
inline constexpr uint64_t kZoneBloomBits = kZoneBloomBytes * 8;
// 5 probes in 65536 bits: ~2% false positives for the worst case of 8192 distinct addresses in a
// zone (every flow between two new hosts), ~1e-4 for 2000. A false positive costs one zone scan.
inline constexpr int kZoneBloomProbes = 5;

inline constexpr int64_t FlowZone(int64_t flow_id) { return flow_id >> kFlowZoneShift; }
inline constexpr int64_t ZoneFirstId(int64_t zone) { return zone << kFlowZoneShift; }

/// Stable hash of an address's canonical text (FNV-1a 64 with a splitmix64 finalizer). Stored in
/// the database: never change it without a schema migration that rebuilds flow_zones.
inline constexpr uint64_t AddressHash(std::string_view address) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : address) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

/// Bit `i` of the probes of `hash` (double hashing; the step is odd so probes differ).
inline constexpr uint64_t BloomBit(uint64_t hash, int probe) {
  const uint64_t step = (hash >> 32) | 1;
  return (hash + static_cast<uint64_t>(probe) * step) % kZoneBloomBits;
}

inline void BloomAdd(uint8_t* bloom, uint64_t hash) {
  for (int i = 0; i < kZoneBloomProbes; ++i) {
    const uint64_t bit = BloomBit(hash, i);
    bloom[bit / 8] = static_cast<uint8_t>(bloom[bit / 8] | (1u << (bit % 8)));
  }
}

/// False only when no address with `hash` was added. A filter of the wrong size (a database
/// edited by hand) may contain anything.
inline bool BloomMayContain(const void* bloom, size_t size, uint64_t hash) {
  if (bloom == nullptr || size != kZoneBloomBytes) return true;
  const auto* bytes = static_cast<const uint8_t*>(bloom);
  for (int i = 0; i < kZoneBloomProbes; ++i) {
    const uint64_t bit = BloomBit(hash, i);
    if ((bytes[bit / 8] & (1u << (bit % 8))) == 0) return false;
  }
  return true;
}

}  // namespace netguard::store::internal

#endif  // NETGUARD_AGENT_STORE_FLOW_ZONES_H_
