#include "respond/list_file.h"

#include <fstream>
#include <sstream>

namespace netguard::respond {
namespace {

constexpr size_t kMaxNamedErrors = 10;

std::string Trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  const size_t end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end - begin + 1);
}

}  // namespace

std::vector<IpPrefix> ParseListText(const std::string& text, const std::string& name) {
  std::vector<IpPrefix> out;
  std::vector<std::string> errors;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string entry = Trim(line.substr(0, line.find('#')));
    if (entry.empty()) continue;
    try {
      const IpPrefix prefix = IpPrefix::Parse(entry);
      if (prefix.length == 0) throw std::invalid_argument("covers every address");
      out.push_back(prefix);
    } catch (const std::invalid_argument& e) {
      errors.push_back(name + ":" + std::to_string(number) + ": '" + entry + "': " + e.what());
    }
  }
  if (!errors.empty()) {
    std::string message = "rejected " + name + " (" + std::to_string(errors.size()) +
                          " bad line(s), nothing applied):";
    for (size_t i = 0; i < errors.size() && i < kMaxNamedErrors; ++i) message += "\n  " + errors[i];
    if (errors.size() > kMaxNamedErrors) {
      message += "\n  ... and " + std::to_string(errors.size() - kMaxNamedErrors) + " more";
    }
    throw ListFileError(message);
  }
  return out;
}

std::vector<IpPrefix> LoadListFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ListFileError(path + ": cannot read the list file");
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ListFileError(path + ": read error");
  return ParseListText(text.str(), path);
}

std::vector<IpPrefix> LoadListFiles(const std::vector<std::string>& paths) {
  std::vector<IpPrefix> out;
  for (const std::string& path : paths) {
    std::vector<IpPrefix> list = LoadListFile(path);
    out.insert(out.end(), list.begin(), list.end());
  }
  return out;
}

}  // namespace netguard::respond
