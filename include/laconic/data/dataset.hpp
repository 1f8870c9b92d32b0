#pragma once

#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>

#include <cstddef>
#include <memory>
#include <utility>
#include <variant>

namespace laconic::data {

// What the labels mean: ±1 for binary classification, class indices 0..C-1 for
// multiclass, real targets for regression.
enum class Task { binary, multiclass, regression };

// Feature rows with their labels. Rows are stored as CSR, or densely when that is smaller;
// objectives reach the matrix through visit() and are written once for both.
class Dataset {
 public:
  Dataset(SparseMatrix features, Vector labels, Task task, int num_classes = 0)
      : features_(std::move(features)), labels_(std::move(labels)), task_(task) {
    init(num_classes);
  }
  Dataset(DenseMatrix features, Vector labels, Task task, int num_classes = 0)
      : features_(std::move(features)), labels_(std::move(labels)), task_(task) {
    init(num_classes);
  }

  // Stores `features` densely when the dense form takes no more memory than CSR.
  static Dataset compact(SparseMatrix features, Vector labels, Task task, int num_classes = 0) {
    const auto rows = static_cast<std::size_t>(features.rows());
    const auto cols = static_cast<std::size_t>(features.cols());
    const auto nnz = static_cast<std::size_t>(features.nonZeros());
    const std::size_t csr = nnz * (sizeof(Scalar) + sizeof(std::int32_t)) +
                            (rows + 1) * sizeof(std::int32_t);
    if (rows * cols * sizeof(Scalar) <= csr) {
      return Dataset(DenseMatrix(features), std::move(labels), task, num_classes);
    }
    features.makeCompressed();
    return Dataset(std::move(features), std::move(labels), task, num_classes);
  }

  Index rows() const { return labels_.size(); }
  Index cols() const {
    return std::visit([](const auto& a) -> Index { return a.cols(); }, features_);
  }
  bool is_sparse() const { return std::holds_alternative<SparseMatrix>(features_); }
  const SparseMatrix& sparse() const { return std::get<SparseMatrix>(features_); }
  const DenseMatrix& dense() const { return std::get<DenseMatrix>(features_); }
  const Vector& labels() const { return labels_; }
  Task task() const { return task_; }
  // 2 for binary, C for multiclass, 0 for regression.
  int num_classes() const { return num_classes_; }

  // Calls f(matrix) with the SparseMatrix or the DenseMatrix.
  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit(std::forward<F>(f), features_);
  }

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
    const Index n = std::visit([](const auto& a) -> Index { return a.rows(); }, features_);
    require_param(n == labels_.size(), "labels.size()", labels_.size(),
                  fmt::format("equal to the number of feature rows ({})", n));
    switch (task_) {
      case Task::binary:
        num_classes_ = 2;
        for (Index i = 0; i < n; ++i) {
          require_param(labels_[i] == 1.0 || labels_[i] == -1.0, fmt::format("labels[{}]", i),
                        labels_[i], "+1 or -1 for a binary dataset");
        }
        break;
      case Task::multiclass:
        require_param(num_classes >= 2, "num_classes", num_classes, ">= 2 for a multiclass dataset");
        num_classes_ = num_classes;
        for (Index i = 0; i < n; ++i) {
          const double c = labels_[i];
          require_param(c >= 0 && c < num_classes && c == static_cast<int>(c),
                        fmt::format("labels[{}]", i), c,
                        fmt::format("an integer class index in [0, {})", num_classes));
        }
        break;
      case Task::regression:
        num_classes_ = 0;
        break;
    }
  }

  std::variant<SparseMatrix, DenseMatrix> features_;
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
