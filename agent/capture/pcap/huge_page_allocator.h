// Allocator of the pcap flow table's index: tables of 2 MiB and more are huge-page aligned and
// hinted as such (THP "madvise" mode), so that a flood's index, which grows by rehashing into
// fresh tables, takes one page fault per 2 MiB instead of 512.
#ifndef NETGUARD_AGENT_CAPTURE_PCAP_HUGE_PAGE_ALLOCATOR_H_
#define NETGUARD_AGENT_CAPTURE_PCAP_HUGE_PAGE_ALLOCATOR_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace netguard::capture::pcap {

template <typename T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kHugePageBytes = size_t{2} << 20;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: rebinding converts implicitly

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugePageBytes) return static_cast<T*>(::operator new(bytes));
    void* p = std::aligned_alloc(kHugePageBytes, RoundUp(bytes));
    if (p == nullptr) throw std::bad_alloc();
    madvise(p, RoundUp(bytes), MADV_HUGEPAGE);  // a hint: 4 KiB pages without it
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kHugePageBytes)
      ::operator delete(p);
    else
      std::free(p);
  }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }

 private:
  static size_t RoundUp(size_t bytes) {
    return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  }
};

}  // namespace netguard::capture::pcap

#endif  // NETGUARD_AGENT_CAPTURE_PCAP_HUGE_PAGE_ALLOCATOR_H_
