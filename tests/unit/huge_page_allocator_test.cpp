// The allocator of the large hash tables (common/huge_page_allocator.h).
#include "common/huge_page_allocator.h"

#include <absl/container/flat_hash_map.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace netguard {
namespace {

TEST(HugePageAllocatorTest, LargeBlocksAreAlignedToHugePagesAndUsable) {
  HugePageAllocator<uint64_t> alloc;
  const size_t n = (HugePageAllocator<uint64_t>::kHugePage + 4096) / sizeof(uint64_t);
  uint64_t* block = alloc.allocate(n);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % HugePageAllocator<uint64_t>::kHugePage, 0u);
  std::memset(block, 0xab, n * sizeof(uint64_t));  // the whole block is writable
  EXPECT_EQ(block[n - 1], 0xababababababababull);
  alloc.deallocate(block, n);

  uint64_t* small = alloc.allocate(16);
  small[15] = 7;
  EXPECT_EQ(small[15], 7u);
  alloc.deallocate(small, 16);
}

TEST(HugePageAllocatorTest, HashMapGrowsThroughSmallAndLargeBlocks) {
  absl::flat_hash_map<uint64_t, uint64_t, absl::Hash<uint64_t>, std::equal_to<>,
                      HugePageAllocator<std::pair<const uint64_t, uint64_t>>>
      map;
  for (uint64_t i = 0; i < 300000; ++i) map.emplace(i * 7919, i);  // > 2 MiB of slots
  ASSERT_EQ(map.size(), 300000u);
  for (uint64_t i = 0; i < 300000; i += 997) EXPECT_EQ(map.at(i * 7919), i);
  map.clear();
  EXPECT_TRUE(map.empty());
}

}  // namespace
}  // namespace netguard
