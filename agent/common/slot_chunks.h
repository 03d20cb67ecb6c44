// Fixed-size slots in 2 MiB chunks that never move, reused through a free list: the storage
// behind small hash indexes (the pcap flow table's flows, the context counts' keys). A flood of
// new keys then costs a slot write each, growing never moves a slot, and walks go in memory
// order. No transparent huge pages: on a VM that hands freed memory back to its host (free page
// reporting), huge pages come from returned memory and a flood ran slower by up to half right
// after a memory-hungry process (docs/benchmarks.md, offline_features).
#ifndef NETGUARD_AGENT_COMMON_SLOT_CHUNKS_H_
#define NETGUARD_AGENT_COMMON_SLOT_CHUNKS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

namespace netguard {

/// Slots of trivially constructible `T`, which has a `bool live` that Take sets and Release
/// clears (walks skip the slots that are not live). Not thread-safe.
template <typename T>
class SlotChunks {
  static_assert(std::is_trivially_default_constructible_v<T>);

 public:
  static constexpr size_t kChunkBytes = size_t{2} << 20;
  static constexpr uint32_t kChunkSlots = kChunkBytes / sizeof(T);

  /// Makes sure a free slot exists (the only step that allocates), so that Take cannot fail.
  /// The chunk is not initialised (T is trivial): its pages are touched as slots are taken.
  void Reserve() {
    if (!free_.empty() || used_ < chunks_.size() * kChunkSlots) return;
    auto chunk = std::make_unique_for_overwrite<T[]>(kChunkSlots);
    chunks_.push_back(std::move(chunk));
  }

  /// A free slot (Reserve first), marked live; its other fields are for the caller to write.
  uint32_t Take() {
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();  // last in, first out: the most recently touched memory
      free_.pop_back();
    } else {
      slot = used_++;
    }
    At(slot).live = true;
    return slot;
  }

  void Release(uint32_t slot) {
    At(slot).live = false;
    free_.push_back(slot);
  }

  T& At(uint32_t slot) { return chunks_[slot / kChunkSlots][slot % kChunkSlots]; }
  const T& At(uint32_t slot) const { return chunks_[slot / kChunkSlots][slot % kChunkSlots]; }

  /// Slots handed out so far, free ones included: the live ones are below this.
  uint32_t used() const { return used_; }

  void Clear() {
    chunks_.clear();
    free_.clear();
    used_ = 0;
  }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  std::vector<uint32_t> free_;  // released slots
  uint32_t used_ = 0;
};

}  // namespace netguard

#endif  // NETGUARD_AGENT_COMMON_SLOT_CHUNKS_H_
