// The one mapping table (models/label_map.yaml): raw dataset labels -> NetGuard classes, and
// class -> MITRE ATT&CK technique.
#ifndef NETGUARD_MODELS_NGTRAIN_LABEL_MAP_H_
#define NETGUARD_MODELS_NGTRAIN_LABEL_MAP_H_

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace netguard::ngtrain {

/// A label map that cannot be used; what() is "file:line: what is wrong".
class LabelMapError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How labels are compared: bytes that are not UTF-8 are read as cp1252 (CICIDS2017's 0x96
/// dash), en/em dashes become '-', whitespace runs become one space, trimmed, lower case.
/// "Web Attack \x96 Brute Force" -> "web attack - brute force".
std::string NormaliseLabel(std::string_view raw);

/// Raw label -> class, class -> technique.
class LabelMap {
 public:
  /// Parses the YAML file: `classes:` (class -> technique, "" for none; BENIGN required) and
  /// `labels:` (raw label -> class, or null to drop those rows). Throws LabelMapError.
  static LabelMap Load(const std::string& path);
  /// The same from text; `name` is used in errors.
  static LabelMap Parse(const std::string& yaml, const std::string& name);

  /// The class of a raw label; "" when its rows are dropped; nullopt for a label not in the map.
  std::optional<std::string> ClassOf(std::string_view raw) const;
  /// The MITRE technique of a class ("" for none or an unknown class).
  std::string Technique(const std::string& cls) const;
  /// Classes in the file's order (BENIGN first).
  const std::vector<std::string>& classes() const { return classes_; }

 private:
  std::vector<std::string> classes_;
  std::map<std::string, std::string, std::less<>> techniques_;
  std::map<std::string, std::string, std::less<>> labels_;  // normalised raw -> class or ""
};

}  // namespace netguard::ngtrain

#endif  // NETGUARD_MODELS_NGTRAIN_LABEL_MAP_H_
