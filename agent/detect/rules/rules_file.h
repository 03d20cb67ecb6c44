// The rules file (YAML): settings of the built-in rules and custom rules. Validated whole; an
// error names the file, the line and the rule.
#ifndef NETGUARD_AGENT_DETECT_RULES_RULES_FILE_H_
#define NETGUARD_AGENT_DETECT_RULES_RULES_FILE_H_

#include <stdexcept>
#include <string>

#include "detect/rules/rule_spec.h"

namespace netguard::detect::rules {

/// A rejected rules file: "FILE:LINE: rule NAME: MESSAGE".
class RulesError : public std::runtime_error {
 public:
  RulesError(const std::string& file, int line, const std::string& rule, const std::string& message)
      : std::runtime_error(file + ":" + std::to_string(line) + ": rule " +
                           (rule.empty() ? "(none)" : rule) + ": " + message),
        line_(line),
        rule_(rule) {}
  int line() const { return line_; }
  const std::string& rule() const { return rule_; }

 private:
  int line_;
  std::string rule_;
};

/// The built-in rules with the settings of the YAML text applied, then its custom rules.
/// `name` appears in errors and as the set's source. Throws RulesError.
RuleSet LoadRulesText(const std::string& yaml, const std::string& name);
/// The same from a file. Throws RulesError (also when the file cannot be read).
RuleSet LoadRulesFile(const std::string& path);
/// The built-in rules with their defaults (no file).
RuleSet DefaultRuleSet();

}  // namespace netguard::detect::rules

#endif  // NETGUARD_AGENT_DETECT_RULES_RULES_FILE_H_
