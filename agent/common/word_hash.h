// Hashing and comparing plain keys as 64-bit words: the flow keys of the pcap flow table, the
// context counts' keys and the rules' window keys. Inline, for hash-table probes on hot paths.
#ifndef NETGUARD_AGENT_COMMON_WORD_HASH_H_
#define NETGUARD_AGENT_COMMON_WORD_HASH_H_

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace netguard {

/// Folds word `w` into `h` with splitmix64's finalizer: every bit of `w` reaches every bit of
/// the result (keys such as IPv4 addresses differ in a few bytes of one word).
inline uint64_t MixWord(uint64_t h, uint64_t w) {
  h = (h ^ w) + 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

/// Hash of a key without padding whose size is a multiple of 8 bytes, word by word.
template <typename Key>
uint64_t HashWords(const Key& key) {
  static_assert(std::has_unique_object_representations_v<Key> && sizeof(Key) % 8 == 0);
  uint64_t words[sizeof(Key) / 8];
  std::memcpy(words, &key, sizeof(Key));
  uint64_t h = 0;
  for (uint64_t w : words) h = MixWord(h, w);
  return h;
}

/// Whether two such keys are equal, compared word by word inline (no memcmp call per probe).
template <typename Key>
bool SameWords(const Key& a, const Key& b) {
  static_assert(std::has_unique_object_representations_v<Key> && sizeof(Key) % 8 == 0);
  uint64_t x[sizeof(Key) / 8], y[sizeof(Key) / 8];
  std::memcpy(x, &a, sizeof(Key));
  std::memcpy(y, &b, sizeof(Key));
  uint64_t diff = 0;
  for (size_t i = 0; i < sizeof(Key) / 8; ++i) diff |= x[i] ^ y[i];
  return diff == 0;
}

}  // namespace netguard

#endif  // NETGUARD_AGENT_COMMON_WORD_HASH_H_
