#pragma once

// Preparing a dataset before it is split among workers: a binary task made of two classes, the
// first rows only, an intercept feature, feature scaling with statistics fitted on the training
// rows only, and a seeded held-out split.

#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>
#include <laconic/data/partition.hpp>

#include <fmt/format.h>

#include <Eigen/SparseCore>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace laconic::data {

enum class Scaling {
  // Features as they are.
  none,
  // x -> (x - mean) / std per feature (population std); CSR data is only divided by std, since
  // centring would make it dense.
  standardize,
  // x -> (x - min) / (max - min) per feature, into [0, 1] on the training rows; CSR data needs
  // every minimum >= 0 and becomes x / max.
  min_max,
};

// The rows labelled `negative` or `positive`, in their stored order, as a binary task labelled
// −1 and +1: MNIST's digits 3 vs 5, say. Throws ParamError when the two labels are equal or
// either labels no row.
inline Dataset two_classes(const Dataset& data, double negative, double positive) {
  require_param(negative != positive, "two_classes", positive,
                fmt::format("a label other than {}", negative));
  std::vector<Index> rows;
  Index positives = 0;
  for (Index i = 0; i < data.rows(); ++i) {
    const double label = data.labels()[i];
    if (label == negative || label == positive) rows.push_back(i);
    if (label == positive) ++positives;
  }
  const auto count = static_cast<Index>(rows.size());
  require_param(count > positives, "two_classes", negative, "a label some row has");
  require_param(positives > 0, "two_classes", positive, "a label some row has");
  const Dataset chosen = select_rows(data, rows);
  Vector labels = chosen.labels().unaryExpr(
      [positive](double label) { return label == positive ? 1.0 : -1.0; });
  if (chosen.is_sparse()) return Dataset(chosen.sparse(), std::move(labels), Task::binary);
  return Dataset(chosen.dense(), std::move(labels), Task::binary);
}

// The first `rows` rows, or all of them when there are fewer.
inline Dataset first_rows(const Dataset& data, Index rows) {
  require_param(rows >= 1, "rows", rows, ">= 1");
  std::vector<Index> order(static_cast<std::size_t>(std::min(rows, data.rows())));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<Index>(i);
  return select_rows(data, order);
}

// The dataset with one more feature, the last, constant 1: an intercept for a model that has
// none (LAQ's softmax layer has one, which makes p = 10 · 785 on MNIST).
inline Dataset with_bias(const Dataset& data) {
  const Index rows = data.rows(), cols = data.cols();
  if (!data.is_sparse()) {
    DenseMatrix a(rows, cols + 1);
    a.leftCols(cols) = data.dense();
    a.col(cols).setOnes();
    return Dataset(std::move(a), data.labels(), data.task(), data.num_classes());
  }
  // CSR: the ones go in as one more entry at the end of each row.
  const SparseMatrix& source = data.sparse();
  std::vector<Eigen::Triplet<Scalar, std::int32_t>> entries;
  entries.reserve(static_cast<std::size_t>(source.nonZeros() + rows));
  for (Index i = 0; i < rows; ++i) {
    for (SparseMatrix::InnerIterator it(source, i); it; ++it) {
      entries.emplace_back(static_cast<std::int32_t>(i), static_cast<std::int32_t>(it.index()),
                           it.value());
    }
    entries.emplace_back(static_cast<std::int32_t>(i), static_cast<std::int32_t>(cols), 1.0);
  }
  SparseMatrix a(rows, cols + 1);
  a.setFromTriplets(entries.begin(), entries.end());
  return Dataset(std::move(a), data.labels(), data.task(), data.num_classes());
}

// A per-feature affine map x -> (x - shift) * factor, fitted on training rows and applied to
// any dataset of the same width, so that held-out rows are scaled by the training statistics.
class Scaler {
 public:
  // Fits `how` on the rows of `train`. Over CSR data the statistics count the implicit zeros.
  // A constant feature is shifted to 0 and not scaled. Throws std::invalid_argument for min_max
  // on CSR data with a negative value (naming the feature).
  static Scaler fit(const Dataset& train, Scaling how) {
    const int h = static_cast<int>(how);
    require_param(h >= 0 && h <= 2, "scaling", h, "none, standardize or min_max");
    require_param(train.rows() >= 1, "train.rows()", train.rows(), ">= 1");
    const Index cols = train.cols();
    Scaler scaler(how, Vector::Zero(cols), Vector::Ones(cols));
    if (how == Scaling::none) return scaler;
    if (train.is_sparse()) {
      scaler.fit_sparse(train.sparse());
    } else {
      scaler.fit_dense(train.dense());
    }
    return scaler;
  }

  // `data` with its features mapped; labels, task and classes kept. CSR stays CSR (the map is
  // then a scaling); only a scaler fitted on dense data with a shift turns CSR into dense.
  // Throws ParamError unless data.cols() equals the training width.
  Dataset apply(const Dataset& data) const {
    require_param(
        data.cols() == cols(), "data.cols()", data.cols(),
        fmt::format("{} (the width of the training data the scaler was fitted on)", cols()));
    if (data.is_sparse() && (shift_.array() == 0).all()) {
      SparseMatrix mapped = data.sparse() * factor_.asDiagonal();
      return Dataset(std::move(mapped), data.labels(), data.task(), data.num_classes());
    }
    const DenseMatrix densified = data.is_sparse() ? DenseMatrix(data.sparse()) : DenseMatrix();
    const DenseMatrix& a = data.is_sparse() ? densified : data.dense();
    DenseMatrix mapped =
        (a.rowwise() - shift_.transpose()).array().rowwise() * factor_.transpose().array();
    return Dataset(std::move(mapped), data.labels(), data.task(), data.num_classes());
  }

  Scaling scaling() const { return how_; }
  Index cols() const { return shift_.size(); }
  // Subtracted from each feature, then multiplied by factor().
  const Vector& shift() const { return shift_; }
  const Vector& factor() const { return factor_; }

 private:
  Scaler(Scaling how, Vector shift, Vector factor)
      : how_(how), shift_(std::move(shift)), factor_(std::move(factor)) {}

  // 1 / spread, or 1 where the feature is constant (or its spread underflows to 0).
  void set_factor(const Vector& spread, const Vector& low, const Vector& high) {
    factor_ = (high.array() > low.array() && spread.array() > 0)
                  .select(spread.array().inverse(), 1.0)
                  .matrix();
  }

  void fit_dense(const DenseMatrix& a) {
    const Vector low = a.colwise().minCoeff().transpose();
    const Vector high = a.colwise().maxCoeff().transpose();
    if (how_ == Scaling::standardize) {
      const Vector mean = a.colwise().mean().transpose();
      // Two passes: the deviations from the mean, then their mean square.
      const Vector std_dev =
          (a.rowwise() - mean.transpose()).array().square().colwise().mean().sqrt().transpose();
      // A constant feature is shifted by its exact value, so it becomes exactly 0.
      shift_ = (high.array() == low.array()).select(low, mean);
      set_factor(std_dev, low, high);
    } else {
      shift_ = low;
      set_factor(high - low, low, high);
    }
  }

  void fit_sparse(const SparseMatrix& a) {
    const Index n = a.rows(), cols = a.cols();
    // Per feature: the stored entries' count, sum, minimum and maximum; implicit zeros are
    // added below.
    Vector stored = Vector::Zero(cols), sum = Vector::Zero(cols);
    Vector low = Vector::Constant(cols, std::numeric_limits<double>::infinity());
    Vector high = -low;
    for (Index i = 0; i < n; ++i) {
      for (SparseMatrix::InnerIterator it(a, i); it; ++it) {
        const Index j = it.col();
        stored[j] += 1;
        sum[j] += it.value();
        low[j] = std::min(low[j], it.value());
        high[j] = std::max(high[j], it.value());
      }
    }
    const auto count = static_cast<double>(n);
    const Vector zeros = (count - stored.array()).matrix();
    low = (zeros.array() > 0).select(low.cwiseMin(0.0), low);
    high = (zeros.array() > 0).select(high.cwiseMax(0.0), high);
    if (how_ == Scaling::standardize) {
      const Vector mean = sum / count;
      Vector squares = zeros.cwiseProduct(mean.cwiseAbs2());  // the implicit zeros' deviations
      for (Index i = 0; i < n; ++i) {
        for (SparseMatrix::InnerIterator it(a, i); it; ++it) {
          const double deviation = it.value() - mean[it.col()];
          squares[it.col()] += deviation * deviation;
        }
      }
      set_factor((squares / count).cwiseSqrt(), low, high);
      return;
    }
    for (Index j = 0; j < cols; ++j) {
      if (low[j] < 0) {
        throw std::invalid_argument(fmt::format(
            "Scaler::fit: min_max keeps sparse (CSR) data sparse only when every feature's "
            "minimum is >= 0, but feature {} has a negative value ({}) in the training rows; use "
            "Scaling::standardize, which only scales sparse data",
            j, low[j]));
      }
    }
    // Implicit zeros are the minimum, so (x - 0) / (max - 0) keeps them zero.
    set_factor(high, low.cwiseMin(0.0), high);
  }

  Scaling how_;
  Vector shift_;
  Vector factor_;
};

// A dataset's rows divided into a training part and a held-out test part.
struct HeldOut {
  std::shared_ptr<const Dataset> train;
  std::shared_ptr<const Dataset> test;
};

// Holds out round(test_fraction * n) rows (half away from zero), clamped to [1, n - 1], chosen
// by a Fisher–Yates permutation from RandomStream(seed, Purpose::shuffle, 4, 0): its first
// entries are the test rows. Both parts keep the rows' original relative order, so a
// contiguous partition of the training part still splits it as it was stored. Throws
// ParamError unless 0 < test_fraction < 1 and the data has at least 2 rows.
inline HeldOut hold_out(const Dataset& data, double test_fraction, std::uint64_t seed) {
  require_param(test_fraction > 0 && test_fraction < 1, "test_fraction", test_fraction,
                "in (0, 1)");
  const Index n = data.rows();
  require_param(n >= 2, "data.rows()", n, ">= 2 (a row for each part)");
  const Index test_rows = std::clamp(
      static_cast<Index>(std::llround(test_fraction * static_cast<double>(n))), Index{1}, n - 1);

  RandomStream stream(seed, Purpose::shuffle, 4, 0);
  const auto order = detail::random_permutation(n, stream);
  std::vector<bool> in_test(static_cast<std::size_t>(n), false);
  for (Index k = 0; k < test_rows; ++k) {
    in_test[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])] = true;
  }
  std::vector<Index> train, test;
  train.reserve(static_cast<std::size_t>(n - test_rows));
  test.reserve(static_cast<std::size_t>(test_rows));
  for (Index i = 0; i < n; ++i) (in_test[static_cast<std::size_t>(i)] ? test : train).push_back(i);
  return {std::make_shared<const Dataset>(select_rows(data, train)),
          std::make_shared<const Dataset>(select_rows(data, test))};
}

}  // namespace laconic::data
