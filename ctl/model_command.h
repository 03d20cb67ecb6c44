// `ngctl model [show | reload [PATH]]`: the agent's active model bundle and its metrics.
#ifndef NETGUARD_CTL_MODEL_COMMAND_H_
#define NETGUARD_CTL_MODEL_COMMAND_H_

#include <ostream>
#include <string>

#include "client.h"
#include "output.h"

namespace netguard::ctl {

/// Prints the active bundle: name, path, mode, held-out metrics per class with MITRE technique
/// and threshold, macro-F1, benign FPR and the top feature importances (`wide`: all of them and
/// the confusion matrix). Without a bundle, says why.
int RunModelShow(Client& client, Format format);
/// Asks the agent to load `path` (empty: its configured model.path) and prints the new bundle.
/// A refused bundle is kExitAgentError with the agent's message (the file and the problem).
int RunModelReload(Client& client, Format format, const std::string& path);
/// The table/wide text of a ModelInfo.
void PrintModel(const v1::ModelInfo& info, bool wide, std::ostream& out);

}  // namespace netguard::ctl

#endif  // NETGUARD_CTL_MODEL_COMMAND_H_
