#pragma once

#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <variant>

namespace laconic::data {

// What the labels mean: ±1 for binary classification, class indices 0..C-1 for
// multiclass, real targets for regression.
enum class Task { binary, multiclass, regression };

// Refuses a Task value outside the enumeration (a cast from a bad integer).
inline void require_task(Task task) {
  const int t = static_cast<int>(task);
  require_param(t >= 0 && t <= 2, "task", t, "binary, multiclass or regression");
}

// Feature rows with their labels. Rows are stored as CSR, or densely when that is smaller;
// objectives reach the matrix through visit() and are written once for both.
class Dataset {
 public:
  // Takes the non-zeros of an r-value `features` without copying them.
  Dataset(SparseMatrix&& features, Vector labels, Task task, int num_classes = 0)
      : features_(Csr(std::move(features))), labels_(std::move(labels)), task_(task) {
    init(num_classes);
  }
  Dataset(const SparseMatrix& features, Vector labels, Task task, int num_classes = 0)
      : Dataset(SparseMatrix(features), std::move(labels), task, num_classes) {}
  Dataset(DenseMatrix features, Vector labels, Task task, int num_classes = 0)
      : features_(std::move(features)), labels_(std::move(labels)), task_(task) {
    init(num_classes);
  }

  // Stores `features` densely when the dense form takes no more memory than CSR.
  static Dataset compact(SparseMatrix&& features, Vector labels, Task task, int num_classes = 0) {
    if (dense_is_smaller(features.rows(), features.cols(), features.nonZeros())) {
      return Dataset(DenseMatrix(features), std::move(labels), task, num_classes);
    }
    features.makeCompressed();
    return Dataset(std::move(features), std::move(labels), task, num_classes);
  }

  // Stores `features` as CSR when that takes less memory than the dense form.
  static Dataset compact(DenseMatrix&& features, Vector labels, Task task, int num_classes = 0) {
    const Index nnz = (features.array() != 0).count();
    if (dense_is_smaller(features.rows(), features.cols(), nnz) ||
        nnz > std::numeric_limits<std::int32_t>::max()) {
      return Dataset(std::move(features), std::move(labels), task, num_classes);
    }
    SparseMatrix sparse = features.sparseView();
    features.resize(0, 0);
    return Dataset(std::move(sparse), std::move(labels), task, num_classes);
  }

  // Whether a rows × cols matrix with nnz non-zeros takes no more memory dense than as CSR.
  static bool dense_is_smaller(Index rows, Index cols, Index nnz) {
    const auto dense =
        static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols) * sizeof(Scalar);
    const auto csr = static_cast<std::size_t>(nnz) * (sizeof(Scalar) + sizeof(std::int32_t)) +
                     static_cast<std::size_t>(rows + 1) * sizeof(std::int32_t);
    return dense <= csr;
  }

  // Calls f(matrix) with the SparseMatrix or the DenseMatrix.
  template <class F>
  decltype(auto) visit(F&& f) const {
    if (const Csr* csr = std::get_if<Csr>(&features_)) return f(csr->matrix);
    return f(std::get<DenseMatrix>(features_));
  }

  Index rows() const { return labels_.size(); }
  Index cols() const {
    return visit([](const auto& a) -> Index { return a.cols(); });
  }
  bool is_sparse() const { return std::holds_alternative<Csr>(features_); }
  const SparseMatrix& sparse() const { return std::get<Csr>(features_).matrix; }
  const DenseMatrix& dense() const { return std::get<DenseMatrix>(features_); }
  const Vector& labels() const { return labels_; }
  Task task() const { return task_; }
  // 2 for binary, C for multiclass, 0 for regression.
  int num_classes() const { return num_classes_; }

  // Bytes held by features and labels.
  std::size_t memory_bytes() const {
    std::size_t bytes = static_cast<std::size_t>(labels_.size()) * sizeof(Scalar);
    if (is_sparse()) {
      const auto& a = sparse();
      bytes += static_cast<std::size_t>(a.nonZeros()) * (sizeof(Scalar) + sizeof(std::int32_t)) +
               static_cast<std::size_t>(a.rows() + 1) * sizeof(std::int32_t);
    } else {
      bytes += static_cast<std::size_t>(dense().size()) * sizeof(Scalar);
    }
    return bytes;
  }

 private:
  void init(int num_classes) {
    require_task(task_);
    const Index n = visit([](const auto& a) -> Index { return a.rows(); });
    require_param(n == labels_.size(), "labels.size()", labels_.size(),
                  fmt::format("equal to the number of feature rows ({})", n));
    switch (task_) {
      case Task::binary:
        num_classes_ = 2;
        for (Index i = 0; i < n; ++i) {
          if (labels_[i] != 1.0 && labels_[i] != -1.0) {
            require_param(false, fmt::format("labels[{}]", i), labels_[i],
                          "+1 or -1 for a binary dataset");
          }
        }
        break;
      case Task::multiclass:
        require_param(num_classes >= 2, "num_classes", num_classes,
                      ">= 2 for a multiclass dataset");
        num_classes_ = num_classes;
        for (Index i = 0; i < n; ++i) {
          const double c = labels_[i];
          if (!(c >= 0 && c < num_classes && c == static_cast<int>(c))) {
            require_param(false, fmt::format("labels[{}]", i), c,
                          fmt::format("an integer class index in [0, {})", num_classes));
          }
        }
        break;
      case Task::regression:
        num_classes_ = 0;
        break;
    }
  }

  // Eigen 3.4's SparseMatrix has no move constructor; this holder moves it by swapping, so
  // that moving a Dataset never copies its non-zeros.
  struct Csr {
    SparseMatrix matrix;
    explicit Csr(SparseMatrix&& m) { matrix.swap(m); }
    Csr(Csr&& other) noexcept { matrix.swap(other.matrix); }
    Csr& operator=(Csr&& other) noexcept {
      matrix.swap(other.matrix);
      return *this;
    }
    Csr(const Csr&) = default;
    Csr& operator=(const Csr&) = default;
  };

  std::variant<Csr, DenseMatrix> features_;
  Vector labels_;
  Task task_;
  int num_classes_ = 0;
};

// The rows [begin, end) of a shared dataset: what one worker owns. Copying a Shard does not
// copy data.
struct Shard {
  std::shared_ptr<const Dataset> data;
  Index begin = 0;
  Index end = 0;

  Index size() const { return end - begin; }
  Index dim() const { return data->cols(); }
  auto labels() const { return data->labels().segment(begin, size()); }
};

// A shard covering a whole dataset.
inline Shard whole(std::shared_ptr<const Dataset> data) {
  const Index n = data->rows();
  return Shard{std::move(data), 0, n};
}

}  // namespace laconic::data
