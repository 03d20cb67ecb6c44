#include "capture/flow_table.h"

#include <bpf/bpf.h>

#include <cerrno>

#include "common/system_error.h"

namespace netguard::capture {

std::vector<FlowEntry> FlowTable::Snapshot() const {
  std::vector<FlowEntry> out;
  ng_flow_key key{};
  ng_flow_key next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd_, prev, &next) == 0) {
    FlowEntry entry{.key = next, .flow = {}};
    if (bpf_map_lookup_elem(fd_, &next, &entry.flow) == 0) out.push_back(entry);
    key = next;
    prev = &key;
  }
  if (errno != ENOENT) ThrowErrno(errno, "iterate flow map");
  return out;
}

std::optional<ng_flow> FlowTable::Lookup(const ng_flow_key& key) const {
  ng_flow flow{};
  if (bpf_map_lookup_elem(fd_, &key, &flow) == 0) return flow;
  if (errno == ENOENT) return std::nullopt;
  ThrowErrno(errno, "look up flow");
}

std::optional<ng_flow> FlowTable::Take(const ng_flow_key& key) {
  ng_flow flow{};
  if (bpf_map_lookup_and_delete_elem(fd_, &key, &flow) == 0) return flow;
  if (errno == ENOENT) return std::nullopt;
  ThrowErrno(errno, "take flow");
}

}  // namespace netguard::capture
