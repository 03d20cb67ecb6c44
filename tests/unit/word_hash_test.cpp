// The word-wise key hash and equality of the hash tables (common/word_hash.h).
#include "common/word_hash.h"

#include <absl/container/flat_hash_set.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace netguard {
namespace {

using Key = std::array<uint32_t, 10>;  // 40 bytes, as the flow and context keys

TEST(WordHashTest, EqualKeysHashAlikeAndEveryByteCounts) {
  Key key{};
  for (uint32_t i = 0; i < key.size(); ++i) key[i] = 0x01020304u * (i + 1);
  const Key same = key;
  EXPECT_EQ(HashWords(key), HashWords(same));
  EXPECT_TRUE(SameWords(key, same));
  for (size_t byte = 0; byte < sizeof(Key); ++byte) {
    Key other = key;
    reinterpret_cast<uint8_t*>(other.data())[byte] ^= 0x01;
    EXPECT_NE(HashWords(key), HashWords(other)) << byte;
    EXPECT_FALSE(SameWords(key, other)) << byte;
  }
}

// Keys as a flood makes them (one address word and a port varying, the rest fixed) spread over
// the whole 64 bits: no two of 2^20 share a hash, and their low 20 bits (a table's position)
// fill as many positions as random values would.
TEST(WordHashTest, FloodLikeKeysDoNotCollide) {
  absl::flat_hash_set<uint64_t> hashes;
  absl::flat_hash_set<uint64_t> low;
  Key key{};
  key[4] = 0x500200c0u;  // 192.0.2.80
  key[9] = 80u << 16 | 6;
  for (uint32_t i = 0; i < (1u << 20); ++i) {
    key[0] = 0x0a000000u + (i >> 4);
    key[8] = 1024 + (i & 15);
    const uint64_t h = HashWords(key);
    EXPECT_TRUE(hashes.insert(h).second) << i;
    low.insert(h & ((1u << 20) - 1));
  }
  // Random 20-bit values would take about 1 - 1/e of the 2^20 positions: 63 %.
  EXPECT_GT(low.size(), (1u << 20) * 6 / 10);
}

}  // namespace
}  // namespace netguard
