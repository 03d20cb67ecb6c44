// An allocator for large hash tables probed at random (the pcap flow index, the context counts):
// blocks of 2 MiB and more are aligned and marked for transparent huge pages, so that a probe
// into a table of tens of MB misses one TLB entry per 2 MiB, not per 4 KiB page.
#ifndef NETGUARD_AGENT_COMMON_HUGE_PAGE_ALLOCATOR_H_
#define NETGUARD_AGENT_COMMON_HUGE_PAGE_ALLOCATOR_H_

#ifdef __linux__
#include <sys/mman.h>
#endif

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace netguard {

template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;
  static constexpr size_t kHugePage = size_t{2} << 20;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}  // NOLINT: rebinding converts

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) return std::allocator<T>().allocate(n);
    void* memory = std::aligned_alloc(kHugePage, (bytes + kHugePage - 1) / kHugePage * kHugePage);
    if (!memory) throw std::bad_alloc();
#ifdef __linux__
    madvise(memory, bytes, MADV_HUGEPAGE);  // a hint: without huge pages all still works
#endif
    return static_cast<T*>(memory);
  }

  void deallocate(T* p, size_t n) noexcept {
    if (n * sizeof(T) < kHugePage) {
      std::allocator<T>().deallocate(p, n);
    } else {
      std::free(p);
    }
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace netguard

#endif  // NETGUARD_AGENT_COMMON_HUGE_PAGE_ALLOCATOR_H_
