#include "rules_command.h"

#include <iostream>

#include "commands.h"

namespace netguard::ctl {
namespace {

void Print(Format format, const google::protobuf::RepeatedPtrField<v1::Rule>& rules) {
  if (format == Format::kJson) {
    for (const v1::Rule& r : rules) std::cout << ToJsonLine(r) << '\n';
    return;
  }
  const bool wide = format == Format::kWide;
  std::vector<std::string> header = {"NAME",   "KIND",      "ENABLED", "THRESHOLD",
                                     "WINDOW", "TECHNIQUE", "ALERTS"};
  if (wide) header.push_back("DESCRIPTION");
  Table table(header);
  for (const v1::Rule& r : rules) {
    std::vector<std::string> row = {r.name(),
                                    r.kind(),
                                    r.enabled() ? "yes" : "no",
                                    std::to_string(r.threshold()),
                                    std::to_string(r.window_seconds()) + "s",
                                    r.mitre_technique(),
                                    std::to_string(r.alerts())};
    if (wide) {
      std::string text = r.description();
      for (const v1::RuleCondition& c : r.conditions())
        text += (text.empty() ? "" : " ") + c.text();
      row.push_back(text);
    }
    table.Add(row);
  }
  table.Print(std::cout);
}

}  // namespace

int RunRules(Client& client, Format format, const std::string& action, const std::string& name) {
  if (action == "enable" || action == "disable") {
    v1::SetRuleEnabledRequest request;
    request.set_name(name);
    request.set_enabled(action == "enable");
    v1::Rule rule;
    const grpc::Status s =
        client.stub().SetRuleEnabled(client.UnaryContext().get(), request, &rule);
    if (!s.ok()) throw client.Failure(s);
    google::protobuf::RepeatedPtrField<v1::Rule> one;
    *one.Add() = rule;
    Print(format, one);
    return kExitOk;
  }
  v1::ListRulesResponse response;
  const grpc::Status s =
      action == "reload"
          ? client.stub().ReloadRules(client.UnaryContext().get(), v1::ReloadRulesRequest(),
                                      &response)
          : client.stub().ListRules(client.UnaryContext().get(), v1::ListRulesRequest(), &response);
  if (!s.ok()) throw client.Failure(s);
  if (format != Format::kJson) {
    std::cout << "rules from "
              << (response.source().empty() ? "(built-in defaults)" : response.source()) << '\n';
  }
  Print(format, response.rules());
  return kExitOk;
}

}  // namespace netguard::ctl
