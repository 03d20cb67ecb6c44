// ngctl rules: list, enable, disable and reload the agent's behavioural rules.
#ifndef NETGUARD_CTL_RULES_COMMAND_H_
#define NETGUARD_CTL_RULES_COMMAND_H_

#include <string>

#include "client.h"
#include "output.h"

namespace netguard::ctl {

/// `action` is "list" (default), "enable", "disable" (of rule `name`) or "reload". Prints the
/// rules (table or JSON lines); a refused reload prints the agent's message (rule and line).
int RunRules(Client& client, Format format, const std::string& action, const std::string& name);

}  // namespace netguard::ctl

#endif  // NETGUARD_CTL_RULES_COMMAND_H_
