#pragma once

// Pieces shared by the built-in objectives: numerically stable scalar functions, the
// regularizers, and λ_max(AᵀA)/n of a shard by power iteration. docs/objectives.md gives the
// formulas and the smoothness constants built from them.

#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>
#include <stdexcept>
#include <string_view>
#include <type_traits>

namespace laconic::objective {

// log(1 + e^z), exact to rounding for every finite z: never overflows, and keeps the
// e^z ≈ 0 tail for very negative z.
inline double softplus(double z) {
  return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
}

// 1 / (1 + e^{-z}), without overflow for large |z|.
inline double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

// log Σ_j e^{v_j}, shifted by the maximum so that no exponential overflows. An empty vector
// gives -∞; an infinite maximum is returned as it is.
template <class Derived>
double log_sum_exp(const Eigen::DenseBase<Derived>& v) {
  if (v.size() == 0) return -std::numeric_limits<double>::infinity();
  const double top = v.maxCoeff();
  if (!std::isfinite(top)) return top;
  return top + std::log((v.derived().array() - top).exp().sum());
}

// The regularizers r(θ) added to a data loss.
//   l2:        r(θ) = λ/2 ‖θ‖²,             ∇r = λθ,                  |r''| ≤ λ
//   nonconvex: r(θ) = λ Σ_j θ_j²/(1+θ_j²),   ∂r/∂θ_j = 2λθ_j/(1+θ_j²)², |r''| ≤ 2λ
enum class Regularizer { l2, nonconvex };

constexpr std::string_view to_string(Regularizer r) {
  return r == Regularizer::l2 ? "l2" : "nonconvex";
}

// r(x) for the regularizer with strength lambda.
inline double regularizer_value(Regularizer r, double lambda, const Vector& x) {
  if (lambda == 0) return 0;
  switch (r) {
    case Regularizer::l2:
      return 0.5 * lambda * x.squaredNorm();
    case Regularizer::nonconvex:
      return lambda * (x.array().square() / (1.0 + x.array().square())).sum();
  }
  return 0;
}

// g += ∇r(x).
inline void add_regularizer_gradient(Regularizer r, double lambda, const Vector& x, Vector& g) {
  if (lambda == 0) return;
  switch (r) {
    case Regularizer::l2:
      g += lambda * x;
      return;
    case Regularizer::nonconvex:
      g.array() += (2.0 * lambda) * x.array() / (1.0 + x.array().square()).square();
      return;
  }
}

// g ← g / count + ∇r(x) in one pass: a minibatch's summed data gradient made its mean, plus
// the regularizer's.
inline void finish_gradient(Regularizer r, double lambda, const Vector& x, double count,
                            Vector& g) {
  if (lambda == 0) {
    g /= count;
    return;
  }
  switch (r) {
    case Regularizer::l2:
      g = g / count + lambda * x;
      return;
    case Regularizer::nonconvex:
      g.array() =
          g.array() / count + (2.0 * lambda) * x.array() / (1.0 + x.array().square()).square();
      return;
  }
}

// sup_θ ‖∇²r(θ)‖: the regularizer's contribution to the smoothness constant. For the
// nonconvex one, r_j'' = 2λ(1 − 3θ_j²)/(1+θ_j²)³ lies in [−λ/2, 2λ], largest at θ_j = 0.
constexpr double regularizer_smoothness(Regularizer r, double lambda) {
  return r == Regularizer::l2 ? lambda : 2.0 * lambda;
}

namespace detail {

inline void require_shard(const data::Shard& shard) {
  require_param(shard.data != nullptr, "shard.data", "null", "a dataset");
  require_param(0 <= shard.begin && shard.begin <= shard.end && shard.end <= shard.data->rows(),
                "shard", fmt::format("[{}, {})", shard.begin, shard.end),
                fmt::format("a row range within [0, {})", shard.data->rows()));
}

inline void require_lambda(double lambda) {
  require_non_negative_finite("lambda", lambda);
}

// x must have the objective's dimension (the message is built only on failure, so the check
// costs no allocation).
inline void require_point(const Vector& x, Index dim) {
  if (x.size() != dim) {
    require_param(false, "x.size()", x.size(), fmt::format("the objective's dim() = {}", dim));
  }
}

// A batch index must be a local sample index in [0, size).
inline void require_index(Index i, Index size) {
  if (i < 0 || i >= size) {
    throw std::out_of_range(
        fmt::format("batch index {} outside the worker's samples [0, {})", i, size));
  }
}

// A shard's rows in consecutive blocks of about `bytes` of features each (at least one row):
// calls f(block, first), block the rows first, first + 1, ... of the shard as an Eigen block of
// the CSR or dense matrix. A gradient that reads its rows twice (A·θ, then Aᵀ·w) block by block
// finds each block still in cache the second time, so a shard larger than the cache is read
// from memory once; a shard that fits is one block, computed exactly as in one piece.
inline constexpr std::size_t cache_block_bytes = std::size_t{1} << 18;
template <class F>
void for_each_block(const data::Shard& shard, F&& f) {
  shard.data->visit([&](const auto& a) {
    const Index n = shard.size();
    std::size_t bytes = 0;
    if constexpr (std::is_same_v<std::decay_t<decltype(a)>, DenseMatrix>) {
      bytes = static_cast<std::size_t>(n) * static_cast<std::size_t>(a.cols()) * sizeof(Scalar);
    } else {
      const auto nonzeros = a.outerIndexPtr()[shard.end] - a.outerIndexPtr()[shard.begin];
      bytes = static_cast<std::size_t>(nonzeros) * (sizeof(Scalar) + sizeof(std::int32_t));
    }
    const std::size_t blocks = std::max<std::size_t>(1, bytes / cache_block_bytes);
    const Index rows = (n + static_cast<Index>(blocks) - 1) / static_cast<Index>(blocks);
    for (Index first = 0; first < n; first += rows) {
      f(a.middleRows(shard.begin + first, std::min(rows, n - first)), first);
    }
  });
}

// dst = product for a shard's first block (first == 0), dst += product for the next ones.
template <class Dst, class Product>
void assign_or_add(Dst&& dst, const Product& product, Index first) {
  if (first == 0) {
    dst.noalias() = product;
  } else {
    dst.noalias() += product;
  }
}

constexpr std::string_view task_name(data::Task task) {
  switch (task) {
    case data::Task::binary:
      return "binary";
    case data::Task::multiclass:
      return "multiclass";
    case data::Task::regression:
      return "regression";
  }
  return "unknown";
}

}  // namespace detail

namespace detail {

// The largest eigenvalue of a symmetric matrix, by the steps of
// SelfAdjointEigenSolver::compute(m, EigenvaluesOnly) and to the same bits: scale the lower
// triangle into [-1, 1], reduce it to tridiagonal form, take the eigenvalues of that. compute()
// itself would also compile the Householder back-transformation it skips at run time, which is
// two seconds of every build that includes an objective. Only the lower triangle is read. A
// template, as max_eigenvalue_gram is, only so that files that never call it do not compile it.
template <class = void>
double max_eigenvalue(const Eigen::MatrixXd& m) {
  Eigen::MatrixXd lower = m.triangularView<Eigen::Lower>();
  double scale = lower.cwiseAbs().maxCoeff();
  if (scale == 0) scale = 1;
  lower /= scale;
  const Eigen::Tridiagonalization<Eigen::MatrixXd> tridiagonal(lower);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver;
  solver.computeFromTridiagonal(tridiagonal.diagonal(), tridiagonal.subDiagonal(),
                                Eigen::EigenvaluesOnly);
  return solver.eigenvalues().maxCoeff() * scale;
}

}  // namespace detail

// Settings of max_eigenvalue_gram's power iteration.
struct PowerIteration {
  double tolerance = 1e-10;  // stop when successive estimates differ by at most this, relatively
  int max_iterations = 1000;
};

// λ_max(AᵀA)/n for the n rows A of the shard (the largest eigenvalue of the shard's
// uncentered second-moment matrix), by power iteration on AᵀA. It reads the rows in place.
//
// The start vector is fixed and has positive, unequal entries (a Weyl sequence in [1, 1.5)),
// so the result is deterministic and the start is not orthogonal to the top eigenvector in
// the structured cases an all-ones start misses (e.g. rows like (1, −1)). Each estimate
// ‖AᵀA v‖/n for a unit v is a lower bound on λ_max(AᵀA)/n; iteration stops when two
// successive estimates agree to `tolerance`, relatively, or after `max_iterations`. An empty
// shard or an all-zero block gives 0.
//
// A wide shard of few rows (n < d, n ≤ 256), or a tall one of few columns (d ≤ 64), is solved
// exactly instead, from the smaller of AAᵀ and AᵀA (they have the same nonzero eigenvalues):
// it costs n·d·min(n, d) to form and min(n, d)³ to solve, while the power iteration on nearly
// equal top eigenvalues could take all of its iterations (seconds for 100 shards of 20 × 10⁴,
// or for ten shards of 5000 × 22) and stop short of the tolerance. Between the two (a9a's
// d = 123) the power iteration is the cheaper.
//
// A function template only so that a file compiles it (the dense and sparse products, the
// tridiagonal reduction: a second of compile time) when it calls it, not when it includes it.
template <class = void>
double max_eigenvalue_gram(const data::Shard& shard, PowerIteration settings = {}) {
  detail::require_shard(shard);
  require_positive_finite("tolerance", settings.tolerance);
  require_param(settings.max_iterations >= 1, "max_iterations", settings.max_iterations, ">= 1");
  const Index n = shard.size();
  const Index d = shard.dim();
  if (n == 0 || d == 0) return 0;
  return shard.data->visit([&](const auto& a) {
    const auto block = a.middleRows(shard.begin, n);
    if ((n < d && n <= 256) || (d <= n && d <= 64)) {
      Eigen::MatrixXd gram(std::min(n, d), std::min(n, d));
      if constexpr (std::is_same_v<std::decay_t<decltype(a)>, SparseMatrix>) {
        gram = n < d ? Eigen::MatrixXd(SparseMatrix(block * block.transpose()))
                     : Eigen::MatrixXd(SparseMatrix(block.transpose() * block));
      } else if (n < d) {
        gram.noalias() = block * block.transpose();
      } else {
        gram.noalias() = block.transpose() * block;
      }
      return std::max(0.0, detail::max_eigenvalue(gram)) / static_cast<double>(n);
    }
    constexpr double weyl = std::numbers::phi - 1;
    Vector v = Vector::NullaryExpr(d, [](Index j) {
      const double t = static_cast<double>(j + 1) * weyl;
      return 1.0 + 0.5 * (t - std::floor(t));
    });
    v /= std::sqrt(v.dot(v));
    Vector u(n);
    Vector w(d);
    double previous = 0;
    for (int it = 0; it < settings.max_iterations; ++it) {
      u.noalias() = block * v;
      w.noalias() = block.transpose() * u;
      const double norm = w.norm();
      if (norm == 0) return 0.0;  // v ⟂ range(AᵀA): with this start, only when A = 0
      const double estimate = norm / static_cast<double>(n);
      v = w / norm;
      if (std::abs(estimate - previous) <= settings.tolerance * estimate) return estimate;
      previous = estimate;
    }
    return previous;
  });
}

// An objective's λ_max(AᵀA)/n (max_eigenvalue_gram of its shard), computed at the first call
// and then known to every copy of the objective, made before the call or after: runs that copy
// the same objectives (a sweep over methods) compute it once. Calls may be concurrent; two
// first calls may each compute it, to the same value.
class GramCache {
 public:
  template <class = void>  // so that max_eigenvalue_gram is compiled only where this is
  double operator()(const data::Shard& shard) const {
    double value = value_->load(std::memory_order_relaxed);
    if (value < 0) {
      value = max_eigenvalue_gram(shard);
      value_->store(value, std::memory_order_relaxed);
    }
    return value;
  }

 private:
  std::shared_ptr<std::atomic<double>> value_ = std::make_shared<std::atomic<double>>(-1.0);
};

}  // namespace laconic::objective
