#include "detect/ml/bundle.h"

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace netguard::detect::ml {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kManifest = "bundle.json";
constexpr const char* kGateFile = "gate.ubj";
constexpr const char* kMulticlassFile = "multiclass.ubj";
constexpr const char* kCentroidsFile = "centroids.json";

std::vector<char> ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BundleError(path.string() + ": missing or unreadable");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteBytes(const fs::path& path, std::span<const char> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error(path.string() + ": cannot write");
}

// Reads typed values out of one JSON file; every error names the file and the key.
class Reader {
 public:
  Reader(fs::path file, std::span<const char> bytes) : file_(std::move(file)) {
    root_ = json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (root_.is_discarded()) Fail("", "not valid JSON");
    if (!root_.is_object()) Fail("", "expected a JSON object");
  }
  const json& root() const { return root_; }

  [[noreturn]] void Fail(const std::string& key, const std::string& what) const {
    throw BundleError(file_.string() + ": " + (key.empty() ? "" : key + ": ") + what);
  }
  const json& At(const json& obj, const std::string& key, json::value_t type,
                 const char* type_name) const {
    const auto it = obj.find(key);
    if (it == obj.end()) Fail(key, "missing");
    const bool number_ok = type == json::value_t::number_float && it->is_number();
    if (it->type() != type && !number_ok &&
        !(type == json::value_t::number_unsigned && it->is_number_unsigned())) {
      Fail(key, std::string("expected ") + type_name);
    }
    return *it;
  }
  std::string Str(const json& obj, const std::string& key) const {
    return At(obj, key, json::value_t::string, "a string").get<std::string>();
  }
  double Num(const json& obj, const std::string& key) const {
    return At(obj, key, json::value_t::number_float, "a number").get<double>();
  }
  const json& Arr(const json& obj, const std::string& key) const {
    return At(obj, key, json::value_t::array, "an array");
  }
  const json& Obj(const json& obj, const std::string& key) const {
    return At(obj, key, json::value_t::object, "an object");
  }
  std::vector<double> Nums(const json& obj, const std::string& key) const {
    std::vector<double> out;
    for (const json& v : Arr(obj, key)) {
      if (!v.is_number()) Fail(key, "expected an array of numbers");
      out.push_back(v.get<double>());
    }
    return out;
  }
  std::vector<std::string> Strs(const json& obj, const std::string& key) const {
    std::vector<std::string> out;
    for (const json& v : Arr(obj, key)) {
      if (!v.is_string()) Fail(key, "expected an array of strings");
      out.push_back(v.get<std::string>());
    }
    return out;
  }

 private:
  fs::path file_;
  json root_;
};

// Reads a model file listed in bundle.json and checks it against its sha256.
std::vector<char> ReadListed(const Reader& r, const fs::path& dir, const json& files,
                             const std::string& role, std::string& digest) {
  const json& entry = r.Obj(files, role);
  const std::string name = r.Str(entry, "path");
  if (name.empty() || name.find('/') != std::string::npos || name == "..") {
    r.Fail("files." + role + ".path", "must be a file name inside the bundle directory");
  }
  const std::string expected = r.Str(entry, "sha256");
  std::vector<char> bytes = ReadBytes(dir / name);
  digest = Sha256Hex(bytes);
  if (digest != expected) {
    throw BundleError((dir / name).string() + ": checksum mismatch (sha256 " + digest +
                      ", bundle.json says " + expected + "): the file was changed or corrupted");
  }
  return bytes;
}

void ReadCentroids(const fs::path& path, std::span<const char> bytes, size_t features,
                   KMeansModel& km) {
  const Reader r(path, bytes);
  km.mean = r.Nums(r.root(), "mean");
  km.scale = r.Nums(r.root(), "scale");
  km.percentile = r.Num(r.root(), "percentile");
  km.threshold = r.Num(r.root(), "threshold");
  if (km.mean.size() != features || km.scale.size() != features) {
    r.Fail("mean/scale", "expected " + std::to_string(features) + " values (one per feature)");
  }
  for (double s : km.scale) {
    if (!(s > 0)) r.Fail("scale", "values must be > 0");
  }
  const json& centroids = r.Arr(r.root(), "centroids");
  if (centroids.empty()) r.Fail("centroids", "no centroid");
  for (const json& c : centroids) {
    if (!c.is_array() || c.size() != features) {
      r.Fail("centroids", "each centroid needs " + std::to_string(features) + " numbers");
    }
    for (const json& v : c) {
      if (!v.is_number()) r.Fail("centroids", "expected numbers");
      km.centroids.push_back(v.get<double>());
    }
  }
  km.k = centroids.size();
  if (!(km.threshold > 0)) r.Fail("threshold", "must be > 0");
}

std::string Checksum(const std::vector<std::string>& digests) {
  std::string all;
  for (const std::string& d : digests) all += d;
  return Sha256Hex(all);
}

}  // namespace

std::string Sha256Hex(std::span<const char> bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("sha256 failed");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

Bundle LoadBundle(const std::string& dir_text) {
  const fs::path dir(dir_text);
  if (!fs::is_directory(dir)) throw BundleError(dir_text + ": not a bundle directory (missing)");
  const fs::path manifest = dir / kManifest;
  const std::vector<char> text = ReadBytes(manifest);
  const Reader r(manifest, text);
  const json& root = r.root();
  Bundle b;
  b.path = dir_text;
  const double version = r.Num(root, "format_version");
  if (version != kBundleFormatVersion) {
    r.Fail("format_version", "is " + std::to_string(static_cast<int>(version)) +
                                 ", this netguard reads " + std::to_string(kBundleFormatVersion));
  }
  b.name = r.Str(root, "name");
  b.feature_mode = r.Str(root, "feature_mode");
  if (!features::ParseFeatureMode(b.feature_mode)) {
    r.Fail("feature_mode", "unknown mode '" + b.feature_mode + "' (expected cic2017 or corrected)");
  }
  b.features = r.Strs(root, "features");
  if (b.features.empty()) r.Fail("features", "empty");
  std::set<size_t> seen;
  for (const std::string& f : b.features) {
    const auto index = features::FeatureIndex(f);
    if (!index) r.Fail("features", "'" + f + "' is not a feature of the extractor");
    if (!seen.insert(*index).second) r.Fail("features", "'" + f + "' listed twice");
  }
  b.gate_threshold = r.Num(root, "gate_threshold");
  b.temperature = r.Num(root, "temperature");
  if (!(b.temperature > 0)) r.Fail("temperature", "must be > 0");
  std::set<std::string> names;
  for (const json& c : r.Arr(root, "classes")) {
    if (!c.is_object()) r.Fail("classes", "expected objects");
    ClassInfo info{.name = r.Str(c, "name"),
                   .mitre = r.Str(c, "mitre_technique"),
                   .threshold = r.Num(c, "threshold"),
                   .precision = r.Num(c, "precision"),
                   .recall = r.Num(c, "recall"),
                   .f1 = r.Num(c, "f1"),
                   .support = static_cast<uint64_t>(r.Num(c, "support"))};
    if (info.name.empty() || info.name == kBenign || !names.insert(info.name).second) {
      r.Fail("classes",
             "class names must be unique, non-empty attack classes ('" + info.name + "')");
    }
    if (info.threshold < 0 || info.threshold > 1) r.Fail("classes", "threshold out of [0, 1]");
    b.classes.push_back(std::move(info));
  }
  if (b.classes.empty()) r.Fail("classes", "empty");
  const json& m = r.Obj(root, "metrics");
  b.metrics.labels = r.Strs(m, "labels");
  for (double v : r.Nums(m, "confusion")) b.metrics.confusion.push_back(static_cast<uint64_t>(v));
  if (b.metrics.confusion.size() != b.metrics.labels.size() * b.metrics.labels.size()) {
    r.Fail("metrics.confusion", "must have labels x labels entries");
  }
  b.metrics.macro_f1 = r.Num(m, "macro_f1");
  b.metrics.benign_fpr = r.Num(m, "benign_fpr");
  b.metrics.benign_precision = r.Num(m, "benign_precision");
  b.metrics.benign_recall = r.Num(m, "benign_recall");
  b.metrics.benign_f1 = r.Num(m, "benign_f1");
  b.metrics.benign_support = static_cast<uint64_t>(r.Num(m, "benign_support"));
  b.metrics.test_rows = static_cast<uint64_t>(r.Num(m, "test_rows"));
  for (const json& i : r.Arr(root, "importances")) {
    if (!i.is_object()) r.Fail("importances", "expected objects");
    b.importances.emplace_back(r.Str(i, "feature"), r.Num(i, "importance"));
  }
  b.provenance_json = r.Obj(root, "provenance").dump();

  const json& files = r.Obj(root, "files");
  std::vector<std::string> digests(3);
  b.gate_model = ReadListed(r, dir, files, "gate", digests[0]);
  b.multiclass_model = ReadListed(r, dir, files, "multiclass", digests[1]);
  const std::vector<char> centroids = ReadListed(r, dir, files, "centroids", digests[2]);
  ReadCentroids(dir / r.Str(r.Obj(files, "centroids"), "path"), centroids, b.features.size(),
                b.kmeans);
  b.checksum = Checksum(digests);
  return b;
}

void CheckFeatureMode(const Bundle& bundle, features::FeatureMode mode) {
  if (bundle.feature_mode != features::ToString(mode)) {
    throw BundleError(bundle.path + "/bundle.json: feature_mode is '" + bundle.feature_mode +
                      "' but the extractor runs in '" + std::string(features::ToString(mode)) +
                      "' (set flows.feature_mode, or use a bundle trained with --features " +
                      std::string(features::ToString(mode)) + ")");
  }
}

std::string BundleFeatureName(size_t index) {
  const std::string name(features::FeatureNames().at(index));
  return features::FeatureIndex(name) == index ? name : name + ".1";
}

std::vector<size_t> FeatureIndexes(const Bundle& bundle) {
  std::vector<size_t> out;
  for (const std::string& f : bundle.features) out.push_back(*features::FeatureIndex(f));
  return out;
}

void WriteBundle(Bundle& b, const std::string& dir_text) {
  const fs::path dir(dir_text);
  fs::create_directories(dir);
  json centroids = {{"scaling", "sign(x)*log1p(|x|), then (v - mean) / scale"},
                    {"mean", b.kmeans.mean},
                    {"scale", b.kmeans.scale},
                    {"percentile", b.kmeans.percentile},
                    {"threshold", b.kmeans.threshold},
                    {"centroids", json::array()}};
  const size_t d = b.features.size();
  for (size_t c = 0; c < b.kmeans.k; ++c) {
    centroids["centroids"].push_back(
        std::vector<double>(b.kmeans.centroids.begin() + static_cast<std::ptrdiff_t>(c * d),
                            b.kmeans.centroids.begin() + static_cast<std::ptrdiff_t>((c + 1) * d)));
  }
  const std::string centroid_text = centroids.dump(1) + "\n";
  WriteBytes(dir / kGateFile, b.gate_model);
  WriteBytes(dir / kMulticlassFile, b.multiclass_model);
  WriteBytes(dir / kCentroidsFile, centroid_text);
  const std::vector<std::string> digests = {Sha256Hex(b.gate_model), Sha256Hex(b.multiclass_model),
                                            Sha256Hex(centroid_text)};
  b.checksum = Checksum(digests);
  b.path = dir_text;

  json classes = json::array();
  for (const ClassInfo& c : b.classes) {
    classes.push_back({{"name", c.name},
                       {"mitre_technique", c.mitre},
                       {"threshold", c.threshold},
                       {"precision", c.precision},
                       {"recall", c.recall},
                       {"f1", c.f1},
                       {"support", c.support}});
  }
  json importances = json::array();
  for (const auto& [feature, value] : b.importances) {
    importances.push_back({{"feature", feature}, {"importance", value}});
  }
  const BundleMetrics& m = b.metrics;
  const json manifest = {
      {"format_version", kBundleFormatVersion},
      {"name", b.name},
      {"feature_mode", b.feature_mode},
      {"features", b.features},
      {"classes", classes},
      {"gate_threshold", b.gate_threshold},
      {"temperature", b.temperature},
      {"anomaly",
       {{"percentile", b.kmeans.percentile},
        {"threshold", b.kmeans.threshold},
        {"clusters", b.kmeans.k}}},
      {"metrics",
       {{"labels", m.labels},
        {"confusion", m.confusion},
        {"macro_f1", m.macro_f1},
        {"benign_fpr", m.benign_fpr},
        {"benign_precision", m.benign_precision},
        {"benign_recall", m.benign_recall},
        {"benign_f1", m.benign_f1},
        {"benign_support", m.benign_support},
        {"test_rows", m.test_rows}}},
      {"importances", importances},
      {"provenance", json::parse(b.provenance_json.empty() ? "{}" : b.provenance_json)},
      {"files",
       {{"gate", {{"path", kGateFile}, {"sha256", digests[0]}}},
        {"multiclass", {{"path", kMulticlassFile}, {"sha256", digests[1]}}},
        {"centroids", {{"path", kCentroidsFile}, {"sha256", digests[2]}}}}},
      {"checksum", b.checksum},
  };
  WriteBytes(dir / kManifest, manifest.dump(1) + "\n");
}

}  // namespace netguard::detect::ml
