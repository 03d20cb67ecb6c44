// Thin RAII owners of XGBoost C API handles (libxgboost 1.6/1.7), shared by the agent and ngtrain.
// Every failed call throws XgbError with XGBoost's own message.
#ifndef NETGUARD_AGENT_DETECT_ML_XGB_H_
#define NETGUARD_AGENT_DETECT_ML_XGB_H_

#include <xgboost/c_api.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace netguard::detect::ml {

/// An XGBoost call failed; what() names the call and XGBoost's reason.
class XgbError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws XgbError naming `what` when `rc` is not 0.
void XgbCheck(int rc, const char* what);

/// A dense float matrix owned by XGBoost (training and evaluation data).
class DMatrix {
 public:
  /// Copies `rows` x `cols` row-major values; NaN means missing. `labels` may be empty.
  DMatrix(std::span<const float> values, size_t rows, size_t cols,
          std::span<const float> labels = {});
  ~DMatrix();
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;
  DMatrixHandle get() const { return handle_; }
  /// Per-row training weights (one per row).
  void SetWeights(std::span<const float> weights) const;
  size_t rows() const { return rows_; }

 private:
  DMatrixHandle handle_ = nullptr;
  size_t rows_ = 0;
};

/// What XGBoosterPredictFromDense computes (its "type" field).
enum class PredictKind : int {
  kValue = 0,          // probabilities (logistic / softprob)
  kMargin = 1,         // untransformed sums of the trees
  kContributions = 2,  // SHAP values per feature, then the bias, per output group
};

/// One booster (model). Not copyable; movable.
class Booster {
 public:
  /// An empty booster over `train` (and `eval`, for progress), ready for SetParam/UpdateOneIter.
  explicit Booster(const std::vector<const DMatrix*>& cache = {});
  ~Booster();
  Booster(Booster&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Booster& operator=(Booster&& other) noexcept;
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;

  /// Loads a model from the bytes of a .ubj or .json file.
  static Booster FromBuffer(std::span<const char> bytes);

  void SetParam(const std::string& name, const std::string& value);
  /// One boosting round on `train`.
  void UpdateOneIter(int iteration, const DMatrix& train);
  /// "[i]\tname-metric:value..." for each of `sets`.
  std::string EvalOneIter(int iteration,
                          const std::vector<std::pair<const DMatrix*, std::string>>& sets);
  /// The model as bytes in `format` ("ubj" or "json"); deterministic for the same model.
  std::vector<char> Save(const std::string& format) const;
  /// Prediction (inplace; contributions through a DMatrix) on `rows` x `cols` row-major floats (NaN
  /// = missing). Returns a view of XGBoost's thread-local buffer, valid until the next prediction
  /// on this booster from this thread. Shape: rows (binary), rows x groups (multiclass
  /// value/margin), rows x groups x (cols + 1) (contributions; binary: rows x (cols + 1)).
  std::span<const float> Predict(const float* values, size_t rows, size_t cols,
                                 PredictKind kind) const;
  /// Number of input features the model expects.
  size_t NumFeatures() const;
  /// Output groups: num_class for multi:softprob, 1 otherwise (from the saved JSON config).
  size_t NumGroups() const;
  /// Total gain per feature index (0 for features never used).
  std::vector<double> TotalGain(size_t features) const;

 private:
  explicit Booster(BoosterHandle handle) : handle_(handle) {}
  BoosterHandle handle_ = nullptr;
};

/// "1.7.4": the libxgboost version in use.
std::string XgbVersion();

}  // namespace netguard::detect::ml

#endif  // NETGUARD_AGENT_DETECT_ML_XGB_H_
