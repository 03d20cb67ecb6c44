// Blocks: validated, stored, enforced in the kernel blocklist, expired on time.
#ifndef NETGUARD_AGENT_RESPOND_BLOCK_MANAGER_H_
#define NETGUARD_AGENT_RESPOND_BLOCK_MANAGER_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "capture/blocklist.h"
#include "common/ip_prefix.h"
#include "store/store.h"

namespace netguard::respond {

/// A request that was refused; `code` maps onto gRPC status codes.
class BlockError : public std::runtime_error {
 public:
  enum class Code { kInvalidArgument, kFailedPrecondition, kNotFound };
  BlockError(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

struct BlockRequest {
  std::string prefix{};         // CIDR or address
  std::chrono::seconds ttl{0};  // 0: until unblocked
  std::string reason{};
  bool automatic = false;
  std::vector<int64_t> alert_ids{};
  bool dry_run = false;  // record a "would block" only: stored and listed, never enforced
};

/// A block as the API shows it: the stored record and the kernel's live counters.
struct BlockView {
  store::BlockRecord record;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  bool enforced = false;  // present in the kernel map
};

struct BlockPolicy {
  std::vector<IpPrefix> allowlist;  // never blocked
  std::chrono::seconds max_ttl{30 * 24 * 3600};
};

/// Owns the consistency between the store (what should be blocked, until when) and the kernel
/// map (what is dropped). The store is written first, so a crash between the two is repaired by
/// Restore() at the next start.
class BlockManager {
 public:
  BlockManager(store::Store& store, capture::Blocklist& kernel, BlockPolicy policy);

  /// Validates and applies a block. Throws BlockError (nothing changes) for an unparsable prefix,
  /// 0.0.0.0/0 or ::/0, a TTL beyond max_ttl, or a prefix overlapping the allowlist or one of
  /// this host's addresses. A dry-run request is validated alike and only stored; it never
  /// replaces an enforced block of the same prefix (kFailedPrecondition).
  store::BlockRecord Block(const BlockRequest& request);
  /// Throws BlockError kNotFound when the prefix is not blocked, kInvalidArgument if unparsable.
  void Unblock(const std::string& prefix);
  std::vector<BlockView> List() const;
  /// The stored block covering `address`, if any: an enforced one before a dry-run one, then
  /// the most specific.
  std::optional<store::BlockRecord> Covering(const IpPrefix& address) const;

  /// Start-up: enforce every stored, unexpired block, remove expired ones, and adopt pinned
  /// entries the store does not know (no expiry). Returns the number of blocks enforced.
  size_t Restore(int64_t now_ns);
  /// Removes blocks whose TTL has passed; returns how many.
  size_t ExpireDue(int64_t now_ns);

  void set_allowlist(std::vector<IpPrefix> allowlist);

 private:
  void Validate(const IpPrefix& prefix, const BlockRequest& request) const;

  store::Store& store_;
  capture::Blocklist& kernel_;
  mutable std::mutex mu_;
  BlockPolicy policy_;
};

/// True when the two prefixes share at least one address.
bool Overlaps(const IpPrefix& a, const IpPrefix& b);

/// The addresses of this host's interfaces (as /32 or /128 prefixes).
std::vector<IpPrefix> HostAddresses();

}  // namespace netguard::respond

#endif  // NETGUARD_AGENT_RESPOND_BLOCK_MANAGER_H_
