#include "capture/blocklist.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "common/system_error.h"
#include "netguard.h"

namespace netguard::capture {
namespace {

// The LPM key of either family: ng_lpm_v4 is the first 8 bytes of ng_lpm_v6 (prefixlen, then
// the address), so one buffer serves both maps.
static_assert(offsetof(ng_lpm_v4, addr) == offsetof(ng_lpm_v6, addr));

ng_lpm_v6 MakeKey(const IpPrefix& prefix) {
  ng_lpm_v6 key{};
  key.prefixlen = prefix.length;
  std::memcpy(
      key.addr, prefix.addr.data(),
      prefix.family == IpPrefix::Family::kIpv4 ? sizeof(ng_lpm_v4::addr) : sizeof(key.addr));
  return key;
}

IpPrefix FromKey(const ng_lpm_v6& key, IpPrefix::Family family) {
  IpPrefix prefix;
  prefix.family = family;
  prefix.length = static_cast<uint8_t>(key.prefixlen);
  std::memcpy(prefix.addr.data(), key.addr,
              family == IpPrefix::Family::kIpv4 ? sizeof(ng_lpm_v4::addr) : sizeof(key.addr));
  return prefix;
}

void ListFamily(int fd, IpPrefix::Family family, std::vector<BlockEntry>& out) {
  ng_lpm_v6 key{};
  ng_lpm_v6 next{};
  const void* prev = nullptr;  // NULL asks for the first key
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    ng_block_counters counters{};
    if (bpf_map_lookup_elem(fd, &next, &counters) == 0) {
      out.push_back({FromKey(next, family), counters.packets, counters.bytes});
    }
    key = next;
    prev = &key;
  }
  if (errno != ENOENT) ThrowErrno(errno, "iterate blocklist");
}

}  // namespace

Blocklist::Blocklist(int v4_fd, int v6_fd) : v4_fd_(v4_fd), v6_fd_(v6_fd) {}

Blocklist Blocklist::OpenPinned(const std::string& pin_root) {
  const std::string v4 = pin_root + "/ng_block_v4";
  const std::string v6 = pin_root + "/ng_block_v6";
  int v4_fd = bpf_obj_get(v4.c_str());
  if (v4_fd < 0) ThrowErrno(errno, "open pinned blocklist " + v4);
  int v6_fd = bpf_obj_get(v6.c_str());
  if (v6_fd < 0) {
    int err = errno;
    close(v4_fd);
    ThrowErrno(err, "open pinned blocklist " + v6);
  }
  Blocklist list(v4_fd, v6_fd);
  list.owns_fds_ = true;
  return list;
}

Blocklist::Blocklist(Blocklist&& other) noexcept
    : v4_fd_(other.v4_fd_), v6_fd_(other.v6_fd_), owns_fds_(other.owns_fds_) {
  other.owns_fds_ = false;
}

Blocklist::~Blocklist() {
  if (!owns_fds_) return;
  close(v4_fd_);
  close(v6_fd_);
}

int Blocklist::fd_for(const IpPrefix& prefix) const {
  return prefix.family == IpPrefix::Family::kIpv4 ? v4_fd_ : v6_fd_;
}

void Blocklist::Add(const IpPrefix& prefix) {
  const ng_lpm_v6 key = MakeKey(prefix);
  const ng_block_counters zero{};
  if (bpf_map_update_elem(fd_for(prefix), &key, &zero, BPF_NOEXIST) != 0 && errno != EEXIST) {
    ThrowErrno(errno, "block " + prefix.ToString());
  }
}

bool Blocklist::Remove(const IpPrefix& prefix) {
  const ng_lpm_v6 key = MakeKey(prefix);
  if (bpf_map_delete_elem(fd_for(prefix), &key) == 0) return true;
  if (errno == ENOENT) return false;
  ThrowErrno(errno, "unblock " + prefix.ToString());
}

std::optional<BlockEntry> Blocklist::Get(const IpPrefix& prefix) const {
  // A lookup in an LPM trie returns the longest match; iterate for the exact entry instead.
  for (const BlockEntry& entry : List()) {
    if (entry.prefix == prefix) return entry;
  }
  return std::nullopt;
}

std::vector<BlockEntry> Blocklist::List() const {
  std::vector<BlockEntry> out;
  ListFamily(v4_fd_, IpPrefix::Family::kIpv4, out);
  ListFamily(v6_fd_, IpPrefix::Family::kIpv6, out);
  return out;
}

}  // namespace netguard::capture
