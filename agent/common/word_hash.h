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

/// Hash of a key without padding whose size is a multiple of 8 bytes (up to 64), for placing
/// keys in hash tables (no result may depend on its values). Each word goes through its own
/// multiply, independent of the others so that they overlap, and their sum through MixWord once:
/// a third of the latency of mixing word after word, which the tables' probes wait for.
template <typename Key>
uint64_t HashWords(const Key& key) {
  static_assert(std::has_unique_object_representations_v<Key> && sizeof(Key) % 8 == 0 &&
                sizeof(Key) <= 64);
  static constexpr uint64_t kMul[8] = {
      0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull, 0x94d049bb133111ebull, 0xd6e8feb86659fd93ull,
      0xa0761d6478bd642full, 0xe7037ed1a0b428dbull, 0x8ebc6af09c88c6e3ull, 0x589965cc75374cc3ull};
  uint64_t words[sizeof(Key) / 8];
  std::memcpy(words, &key, sizeof(Key));
  uint64_t sum = 0;
  // Unrolled (GCC's -O2 keeps the loop): the multiplies then overlap, and the words can come
  // straight from the registers a key was just built in (FlowContext: ~15 % of its time).
#pragma GCC unroll 8
  for (size_t i = 0; i < sizeof(Key) / 8; ++i) sum += (words[i] ^ (words[i] >> 32)) * kMul[i];
  return MixWord(0, sum);
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
