// Address list files (the reputation's allowlist and blocklist files): one address or CIDR
// prefix per line; '#' starts a comment; blank lines are ignored.
#ifndef NETGUARD_AGENT_RESPOND_LIST_FILE_H_
#define NETGUARD_AGENT_RESPOND_LIST_FILE_H_

#include <stdexcept>
#include <string>
#include <vector>

#include "common/ip_prefix.h"

namespace netguard::respond {

/// A list file could not be read or holds bad lines. The message names every bad line as
/// "file:line: 'text': why" (the first 10 of them, then how many more).
class ListFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses list text; `name` names it in errors. A file with any bad line is rejected as a whole
/// (throws ListFileError): a half-applied allowlist could block what the operator meant to spare.
std::vector<IpPrefix> ParseListText(const std::string& text, const std::string& name);
/// Reads and parses the list file `path`. Throws ListFileError.
std::vector<IpPrefix> LoadListFile(const std::string& path);
/// Every file of `paths`, concatenated. Throws ListFileError at the first bad file.
std::vector<IpPrefix> LoadListFiles(const std::vector<std::string>& paths);

}  // namespace netguard::respond

#endif  // NETGUARD_AGENT_RESPOND_LIST_FILE_H_
