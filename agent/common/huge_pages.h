// Memory in 2 MiB-aligned blocks hinted as transparent huge pages (Linux THP "madvise" mode):
// a table that floods fill then takes one page fault per 2 MiB instead of 512. Elsewhere, or
// when the kernel declines, the blocks have ordinary pages. Portable: no Linux-only header.
#ifndef NETGUARD_AGENT_COMMON_HUGE_PAGES_H_
#define NETGUARD_AGENT_COMMON_HUGE_PAGES_H_

#include <cstddef>
#include <cstdlib>
#include <new>

#if __has_include(<sys/mman.h>)
#include <sys/mman.h>
#endif
#ifdef _WIN32
#include <malloc.h>
#endif

namespace netguard {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

/// `bytes` rounded up to whole huge pages, aligned to one; hinted as huge pages when `hint`.
/// Throws std::bad_alloc. Free with FreeHuge.
inline void* AllocateHuge(size_t bytes, bool hint = true) {
  bytes = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
#ifdef _WIN32
  void* p = _aligned_malloc(bytes, kHugePageBytes);
#else
  void* p = std::aligned_alloc(kHugePageBytes, bytes);
#endif
  if (p == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (hint) madvise(p, bytes, MADV_HUGEPAGE);  // a hint: ordinary pages without it
#else
  (void)hint;
#endif
  return p;
}

inline void FreeHuge(void* p) {
#ifdef _WIN32
  _aligned_free(p);
#else
  std::free(p);
#endif
}

/// An allocator whose allocations of 2 MiB and more are AllocateHuge blocks (smaller ones come
/// from operator new, so that small tables do not take 2 MiB each).
template <typename T>
struct HugePageAllocator {
  using value_type = T;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: rebinding converts implicitly

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    return static_cast<T*>(bytes < kHugePageBytes ? ::operator new(bytes) : AllocateHuge(bytes));
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kHugePageBytes)
      ::operator delete(p);
    else
      FreeHuge(p);
  }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};

}  // namespace netguard

#endif  // NETGUARD_AGENT_COMMON_HUGE_PAGES_H_
