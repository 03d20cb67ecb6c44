// Context features of a finished flow: how many flows ended around it that share its source, its
// destination or its destination service (like KDD'99's "same host" / "same service" counts).
// A single-packet flow of a random-source flood and a scan probe look alike on their own; among
// the flows around them they do not (thousands to one service vs. one per port).
//
// The one implementation used by `netguardd --read --flows-csv` (the training data) and by the
// ML detector (live and offline), fed the same sequence of finished flows.
#ifndef NETGUARD_AGENT_FEATURES_CONTEXT_H_
#define NETGUARD_AGENT_FEATURES_CONTEXT_H_

#include <absl/container/inlined_vector.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "common/slot_chunks.h"
#include "common/slot_index.h"
#include "core/flow_record.h"
#include "features/features.h"

namespace netguard::features {

/// The window the counts look back over, from the flow's last packet.
inline constexpr std::chrono::seconds kContextWindow{2};

/// Counts, for each finished flow, the flows already finished whose last packet lies within
/// kContextWindow before (or at) its own, the flow itself included, that have
///   Ctx Src Flows      the same initiator address,
///   Ctx Src Dst Flows  the same initiator and responder addresses,
///   Ctx Dst Flows      the same responder address,
///   Ctx Dst Svc Flows  the same responder address, responder port and protocol.
/// "Already finished" makes the counts depend on the order flows finish in; the agent's sweep and
/// the pcap flow table both finish them in about time order. A flow finishes up to the idle
/// timeout (30 s by default) and a sweep after its last packet, so ends are remembered for
/// kLateness (a flow finishing later counts only the ends still kept). At most kMaxEntries ends
/// are kept (a flood beyond that counts the ends kept; past half of it, only the window's ends
/// are kept), so memory stays bounded, and the cost per flow is a few hash lookups: old ends go
/// a few at a time, never in a walk over every key.
class FlowContext {
 public:
  static constexpr std::chrono::seconds kLateness{35};  // idle timeout 30 s + sweeps
  static constexpr size_t kMaxEntries = size_t{1} << 18;

  FlowContext() : index_(0, SlotIndexHash<Key>{}, SlotIndexEq<Key, KeyOfSlot>{{this}}) {}
  FlowContext(const FlowContext&) = delete;  // the index refers to the slots
  FlowContext& operator=(const FlowContext&) = delete;

  /// Records `flow` and writes its four counts into v[kContextFirst...].
  void Observe(const FlowRecord& flow, FeatureVector& v);

  /// Ends remembered, over the four kinds of key.
  size_t entries() const { return entries_; }
  /// Keys (addresses, pairs, services) remembered.
  size_t keys() const { return index_.size(); }

 private:
  // kind and family (and a service's port and protocol), then one or two addresses. 64-bit
  // words, built and hashed as such: keys of 32-bit stores read back as 64-bit words stalled
  // every flow on store forwarding.
  using Key = std::array<uint64_t, 5>;

  // The ends of a key that has had more than one. Ends in time order, appended as flows finish;
  // ends[head...] are kept, the ones before are forgotten.
  struct Ends {
    absl::InlinedVector<int64_t, 2> ends;
    size_t head = 0;
    // Where the last window began: every end before ends[cursor] is < cursor_from. Flows end in
    // about time order, so the next window starts at or after it (amortised O(1), no binary
    // search over the ends of a flooded destination).
    size_t cursor = 0;
    int64_t cursor_from = INT64_MIN;
    // Ends older than ends.back() when they came (flows ended by an idle timeout, up to 30 s
    // late), sorted. Merged into `ends` once they are more than about the square root of it, so
    // a late end costs O(sqrt n), not a move of every newer end of a busy destination.
    std::vector<int64_t> late;
  };
  // A key, in SlotChunks (64 bytes). Most keys of a flood (a spoofed source, a source/destination
  // pair) see one end: it is held here, and only a key with more gets Ends.
  struct Slot {
    Key key;
    uint32_t hash;  // the key's, as in the index
    // 0: the key has had one end, `newest`, kept while `kept`; else 1 + its Ends in many_.
    uint32_t many;
    int64_t newest;
    bool live;  // SlotChunks'
    bool kept;
  };
  static_assert(sizeof(Slot) == 64);

  // The index (common/slot_index.h) finds a key's slot: 8 bytes an entry instead of ~110, so
  // that the lookups of a flood's new sources (not found once the table is full) stay in cache.
  struct KeyOfSlot {
    const FlowContext* context;
    const Key& operator()(uint32_t slot) const { return context->slots_.At(slot).key; }
  };
  using IndexKey = SlotProbe<Key>;

  // Records `end_ns` under the probe's key (when `record`); returns the key's ends within the
  // window.
  uint64_t Count(const IndexKey& probe, int64_t end_ns, bool record, int64_t cutoff_ns);
  // The general case of Count, for a key with Ends.
  uint64_t CountMany(Ends& e, int64_t end_ns, bool record);
  // A new key with the one end `end_ns`.
  void Add(const IndexKey& probe, int64_t end_ns);
  // Gives a key with one kept end Ends holding it.
  Ends& Spill(Slot& slot);
  Ends& ManyOf(const Slot& slot) { return many_[slot.many - 1]; }
  // The end that decides when the key goes (ends.back() of Ends): its newest end, or the last
  // one recorded if that came late after every end was forgotten.
  int64_t Newest(const Slot& slot) {
    return slot.many == 0 ? slot.newest : ManyOf(slot).ends.back();
  }
  void Forget(Slot& slot, int64_t cutoff_ns);
  void Forget(Ends& e, int64_t cutoff_ns);
  void Insert(Ends& e, int64_t end_ns);
  // Looks at up to `budget` of the oldest keys: a key with no end since `cutoff_ns` goes.
  void ExpireKeys(int64_t cutoff_ns, int budget);
  // Drops the key of `slot`, its ends forgotten.
  void Remove(uint32_t slot);

  SlotIndex<Key, KeyOfSlot> index_;
  SlotChunks<Slot> slots_;
  std::vector<Ends> many_;
  std::vector<uint32_t> free_many_;  // indexes of many_ no key uses
  // Each key's slot once, from when it is added until it goes: (its newest end when queued).
  std::deque<std::pair<int64_t, uint32_t>> expiry_;
  size_t entries_ = 0;
  int64_t newest_ns_ = 0;
};

}  // namespace netguard::features

#endif  // NETGUARD_AGENT_FEATURES_CONTEXT_H_
