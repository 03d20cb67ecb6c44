// A hash index over keys kept in slots elsewhere (SlotChunks): an entry holds the key's handle
// and the low half of its hash, not the key, so that a flood's lookups stay in cache and growing
// moves 8 bytes an entry. It is looked up by a SlotProbe (the key and its hash); keys are
// compared where their owner keeps them, through `KeyOf` (handle -> const Key&).
#ifndef NETGUARD_AGENT_COMMON_SLOT_INDEX_H_
#define NETGUARD_AGENT_COMMON_SLOT_INDEX_H_

#include <absl/container/flat_hash_set.h>

#include <cstddef>
#include <cstdint>

#include "common/word_hash.h"

namespace netguard {

struct SlotIndexEntry {
  mutable uint32_t handle;  // the owner may move a key to another slot; not part of the hash
  uint32_t hash;
};

template <typename Key>
struct SlotProbe {
  const Key* key;
  uint32_t hash;
};

template <typename Key>
SlotProbe<Key> ProbeOf(const Key& key) {
  return {&key, static_cast<uint32_t>(HashWords(key))};
}

template <typename Key>
struct SlotIndexHash {
  using is_transparent = void;
  size_t operator()(const SlotIndexEntry& e) const { return e.hash; }
  size_t operator()(const SlotProbe<Key>& p) const { return p.hash; }
};

template <typename Key, typename KeyOf>
struct SlotIndexEq {
  using is_transparent = void;
  KeyOf key_of;
  bool operator()(const SlotIndexEntry& e, const SlotProbe<Key>& p) const {
    return e.hash == p.hash && SameWords(key_of(e.handle), *p.key);
  }
  bool operator()(const SlotProbe<Key>& p, const SlotIndexEntry& e) const { return (*this)(e, p); }
  bool operator()(const SlotIndexEntry& a, const SlotIndexEntry& b) const {
    return a.hash == b.hash && SameWords(key_of(a.handle), key_of(b.handle));
  }
};

/// Made with (0, SlotIndexHash<Key>{}, SlotIndexEq<Key, KeyOf>{key_of}).
template <typename Key, typename KeyOf>
using SlotIndex = absl::flat_hash_set<SlotIndexEntry, SlotIndexHash<Key>, SlotIndexEq<Key, KeyOf>>;

}  // namespace netguard

#endif  // NETGUARD_AGENT_COMMON_SLOT_INDEX_H_
