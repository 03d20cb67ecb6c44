// Errors that carry errno and context up to the caller.
#ifndef NETGUARD_AGENT_COMMON_SYSTEM_ERROR_H_
#define NETGUARD_AGENT_COMMON_SYSTEM_ERROR_H_

#include <string>
#include <system_error>

namespace netguard {

/// Throws std::system_error for errno value `err` (positive or negative, as libbpf returns it)
/// with `what` saying what was being done, e.g. "attach XDP to eth0".
[[noreturn]] inline void ThrowErrno(int err, const std::string& what) {
  throw std::system_error(err < 0 ? -err : err, std::generic_category(), what);
}

/// Throws when a libbpf-style return code (negative errno) reports an error; returns rc otherwise.
inline int CheckErrno(int rc, const std::string& what) {
  if (rc < 0) ThrowErrno(rc, what);
  return rc;
}

}  // namespace netguard

#endif  // NETGUARD_AGENT_COMMON_SYSTEM_ERROR_H_
