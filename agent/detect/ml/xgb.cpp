#include "detect/ml/xgb.h"

#include <nlohmann/json.hpp>

namespace netguard::detect::ml {

void XgbCheck(int rc, const char* what) {
  if (rc != 0) throw XgbError(std::string("xgboost ") + what + ": " + XGBGetLastError());
}

DMatrix::DMatrix(std::span<const float> values, size_t rows, size_t cols,
                 std::span<const float> labels)
    : rows_(rows) {
  if (values.size() != rows * cols) throw XgbError("DMatrix: values do not match rows x cols");
  XgbCheck(XGDMatrixCreateFromMat(values.data(), rows, cols,
                                  std::numeric_limits<float>::quiet_NaN(), &handle_),
           "XGDMatrixCreateFromMat");
  if (!labels.empty()) {
    XgbCheck(XGDMatrixSetFloatInfo(handle_, "label", labels.data(), labels.size()),
             "XGDMatrixSetFloatInfo(label)");
  }
}

void DMatrix::SetWeights(std::span<const float> weights) const {
  if (weights.size() != rows_) throw XgbError("DMatrix: one weight per row expected");
  XgbCheck(XGDMatrixSetFloatInfo(handle_, "weight", weights.data(), weights.size()),
           "XGDMatrixSetFloatInfo(weight)");
}

DMatrix::~DMatrix() {
  if (handle_ != nullptr) XGDMatrixFree(handle_);
}

Booster::Booster(const std::vector<const DMatrix*>& cache) {
  std::vector<DMatrixHandle> handles;
  for (const DMatrix* m : cache) handles.push_back(m->get());
  XgbCheck(XGBoosterCreate(handles.data(), handles.size(), &handle_), "XGBoosterCreate");
}

Booster::~Booster() {
  if (handle_ != nullptr) XGBoosterFree(handle_);
}

Booster& Booster::operator=(Booster&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) XGBoosterFree(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

Booster Booster::FromBuffer(std::span<const char> bytes) {
  BoosterHandle handle = nullptr;
  XgbCheck(XGBoosterCreate(nullptr, 0, &handle), "XGBoosterCreate");
  Booster booster(handle);
  XgbCheck(XGBoosterLoadModelFromBuffer(handle, bytes.data(), bytes.size()),
           "XGBoosterLoadModelFromBuffer");
  return booster;
}

void Booster::SetParam(const std::string& name, const std::string& value) {
  XgbCheck(XGBoosterSetParam(handle_, name.c_str(), value.c_str()),
           ("XGBoosterSetParam(" + name + ")").c_str());
}

void Booster::UpdateOneIter(int iteration, const DMatrix& train) {
  XgbCheck(XGBoosterUpdateOneIter(handle_, iteration, train.get()), "XGBoosterUpdateOneIter");
}

std::string Booster::EvalOneIter(int iteration,
                                 const std::vector<std::pair<const DMatrix*, std::string>>& sets) {
  std::vector<DMatrixHandle> handles;
  std::vector<const char*> names;
  for (const auto& [m, name] : sets) {
    handles.push_back(m->get());
    names.push_back(name.c_str());
  }
  const char* out = nullptr;
  XgbCheck(
      XGBoosterEvalOneIter(handle_, iteration, handles.data(), names.data(), handles.size(), &out),
      "XGBoosterEvalOneIter");
  return out;
}

std::vector<char> Booster::Save(const std::string& format) const {
  const std::string config = nlohmann::json{{"format", format}}.dump();
  bst_ulong len = 0;
  const char* data = nullptr;
  XgbCheck(XGBoosterSaveModelToBuffer(handle_, config.c_str(), &len, &data),
           "XGBoosterSaveModelToBuffer");
  return {data, data + len};
}

std::span<const float> Booster::Predict(const float* values, size_t rows, size_t cols,
                                        PredictKind kind) const {
  // __array_interface__ of the caller's buffer (no copy) and the prediction config; "NaN" is
  // accepted by XGBoost's JSON reader.
  const std::string array = "{\"data\":[" + std::to_string(reinterpret_cast<uintptr_t>(values)) +
                            ",true],\"shape\":[" + std::to_string(rows) + "," +
                            std::to_string(cols) + "],\"typestr\":\"<f4\",\"version\":3}";
  const std::string config = "{\"type\":" + std::to_string(static_cast<int>(kind)) +
                             ",\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
                             "\"strict_shape\":false,\"cache_id\":0,\"missing\":NaN}";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  if (kind == PredictKind::kContributions) {
    // Inplace prediction has no contributions (1.7): through a DMatrix, one per call.
    const DMatrix m(std::span<const float>(values, rows * cols), rows, cols);
    XgbCheck(XGBoosterPredictFromDMatrix(handle_, m.get(), config.c_str(), &shape, &dim, &out),
             "XGBoosterPredictFromDMatrix");
    size_t n = 1;
    for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
    return {out, n};
  }
  XgbCheck(XGBoosterPredictFromDense(handle_, array.c_str(), config.c_str(), nullptr, &shape, &dim,
                                     &out),
           "XGBoosterPredictFromDense");
  size_t n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  return {out, n};
}

size_t Booster::NumFeatures() const {
  bst_ulong n = 0;
  XgbCheck(XGBoosterGetNumFeature(handle_, &n), "XGBoosterGetNumFeature");
  return n;
}

size_t Booster::NumGroups() const {
  bst_ulong len = 0;
  const char* text = nullptr;
  XgbCheck(XGBoosterSaveJsonConfig(handle_, &len, &text), "XGBoosterSaveJsonConfig");
  const auto config = nlohmann::json::parse(text, text + len);
  const std::string num_class = config.at("learner").at("learner_model_param").at("num_class");
  const size_t groups = std::stoul(num_class);
  return groups == 0 ? 1 : groups;
}

std::vector<double> Booster::TotalGain(size_t features) const {
  const char* config = R"({"importance_type":"total_gain"})";
  bst_ulong n = 0, dim = 0;
  const char** names = nullptr;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  XgbCheck(XGBoosterFeatureScore(handle_, config, &n, &names, &dim, &shape, &scores),
           "XGBoosterFeatureScore");
  std::vector<double> gain(features, 0.0);
  // Without feature names XGBoost calls them "f0", "f1", ...; multiclass gives one score per
  // feature too (summed over the classes' trees).
  for (bst_ulong i = 0; i < n; ++i) {
    const std::string name = names[i];
    if (name.size() < 2 || name[0] != 'f') continue;
    const size_t index = std::stoul(name.substr(1));
    if (index < features) gain[index] += scores[i];
  }
  return gain;
}

std::string XgbVersion() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace netguard::detect::ml
