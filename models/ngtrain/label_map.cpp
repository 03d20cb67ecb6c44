#include "label_map.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "detect/ml/bundle.h"

namespace netguard::ngtrain {
namespace {

// Length of the valid UTF-8 sequence at s[i], 0 if it is not one.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t n = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

[[noreturn]] void Fail(const std::string& name, const YAML::Node& node, const std::string& what) {
  throw LabelMapError(name + ":" + std::to_string(node.Mark().line + 1) + ": " + what);
}

}  // namespace

std::string NormaliseLabel(std::string_view raw) {
  std::string out;
  bool space = false;
  for (size_t i = 0; i < raw.size();) {
    const auto c = static_cast<unsigned char>(raw[i]);
    char next = 0;
    size_t step = 1;
    if (c < 0x80) {
      next = static_cast<char>(std::tolower(c));
    } else if (const size_t n = Utf8Length(raw, i); n > 0) {
      const std::string_view seq = raw.substr(i, n);
      step = n;
      if (seq == "\xE2\x80\x93" || seq == "\xE2\x80\x94") {
        next = '-';
      } else {
        if (space && !out.empty()) out += ' ';
        space = false;
        out += seq;
        i += n;
        continue;
      }
    } else {
      next = c == 0x96 || c == 0x97 ? '-' : '?';  // cp1252 en/em dash
    }
    i += step;
    if (std::isspace(static_cast<unsigned char>(next))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += next;
  }
  return out;
}

LabelMap LabelMap::Parse(const std::string& yaml, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw LabelMapError(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) throw LabelMapError(name + ":1: expected a mapping with classes and labels");
  LabelMap map;
  const YAML::Node classes = root["classes"];
  if (!classes || !classes.IsMap()) Fail(name, root, "classes: missing or not a mapping");
  for (const auto& item : classes) {
    const std::string cls = item.first.as<std::string>();
    if (!item.second.IsScalar() && !item.second.IsNull()) {
      Fail(name, item.second, "classes." + cls + ": expected a MITRE technique such as T1046");
    }
    if (map.techniques_.count(cls) != 0) Fail(name, item.first, "class " + cls + " listed twice");
    map.classes_.push_back(cls);
    map.techniques_[cls] = item.second.IsNull() ? "" : item.second.as<std::string>();
  }
  if (map.classes_.empty() || map.classes_.front() != detect::ml::kBenign) {
    Fail(name, classes, "classes: BENIGN must be the first class");
  }
  const YAML::Node labels = root["labels"];
  if (!labels || !labels.IsMap()) Fail(name, root, "labels: missing or not a mapping");
  for (const auto& item : labels) {
    const std::string raw = item.first.as<std::string>();
    std::string cls;
    if (!item.second.IsNull()) {
      if (!item.second.IsScalar()) Fail(name, item.second, "labels." + raw + ": expected a class");
      cls = item.second.as<std::string>();
      if (map.techniques_.count(cls) == 0) {
        Fail(name, item.second, "labels." + raw + ": class '" + cls + "' is not under classes");
      }
    }
    if (!map.labels_.emplace(NormaliseLabel(raw), cls).second) {
      Fail(name, item.first, "label '" + raw + "' listed twice (labels compare normalised)");
    }
  }
  return map;
}

LabelMap LabelMap::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw LabelMapError(path + ": cannot read the label map");
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

std::optional<std::string> LabelMap::ClassOf(std::string_view raw) const {
  const auto it = labels_.find(NormaliseLabel(raw));
  if (it == labels_.end()) return std::nullopt;
  return it->second;
}

std::string LabelMap::Technique(const std::string& cls) const {
  const auto it = techniques_.find(cls);
  return it == techniques_.end() ? "" : it->second;
}

}  // namespace netguard::ngtrain
