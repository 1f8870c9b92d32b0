#pragma once

// Ridge (L2-regularized least squares) regression on a worker's shard:
//
//   f(θ) = (1/(2n)) Σ_i (a_iᵀθ − b_i)² + λ/2 ‖θ‖²,
//
// the linear problem of the LAG experiments, and a quadratic whose minimizer is known in
// closed form (least_squares_minimizer), which makes it the reference problem of the tests.

#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>
#include <laconic/objective/common.hpp>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <span>
#include <utility>
#include <vector>

namespace laconic::objective {

// LeastSquares is BasicLeastSquares<>: a class template only so that a program compiles just the
// members it calls (each member instantiates its dense and its sparse kernels), which keeps every
// build that includes this header short. The parameter has no other use.
template <class = void>
class BasicLeastSquares {
 public:
  struct Params {
    double lambda = 0;  // L2 strength λ ≥ 0
    template <class V>
    void fields(V&& v) {
      v("lambda", lambda);
    }
  };

  explicit BasicLeastSquares(data::Shard shard) : BasicLeastSquares(std::move(shard), Params{}) {}

  // Any dataset: its labels are the targets b_i. The shard must hold at least one row.
  BasicLeastSquares(data::Shard shard, Params params) : shard_(std::move(shard)), params_(params) {
    detail::require_shard(shard_);
    require_param(shard_.size() >= 1, "shard.size()", shard_.size(), ">= 1");
    detail::require_lambda(params_.lambda);
  }

  Index dim() const { return shard_.dim(); }
  Index size() const { return shard_.size(); }
  const data::Shard& shard() const { return shard_; }
  const Params& params() const { return params_; }

  // The mean loss over the batch (local indices 0..size()-1, repeats allowed) plus
  // λ/2‖x‖²; writes its gradient into g.
  double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
    detail::require_point(x, dim());
    require_param(!batch.empty(), "batch.size()", batch.size(), ">= 1");
    g.resize(dim());
    g.setZero();
    const auto& b = shard_.data->labels();
    const double loss = shard_.data->visit([&](const auto& a) {
      double sum = 0;
      for (const Index i : batch) {
        detail::require_index(i, size());
        const Index row = shard_.begin + i;
        const double residual = a.row(row).dot(x) - b[row];
        sum += residual * residual;
        g += residual * a.row(row).transpose();
      }
      return sum;
    });
    const auto count = static_cast<double>(batch.size());
    g /= count;
    g += params_.lambda * x;
    return 0.5 * loss / count + 0.5 * params_.lambda * x.squaredNorm();
  }

  // gradient() over all of the shard's rows: Aᵀ(Ax − b)/n + λx.
  double full_gradient(const Vector& x, Vector& g) {
    detail::require_point(x, dim());
    const Index n = size();
    residuals_.resize(n);
    g.resize(dim());
    const auto labels = shard_.labels();
    double squares = 0;
    detail::for_each_block(shard_, [&](const auto& block, Index first) {
      auto r = residuals_.segment(first, block.rows());
      r.noalias() = block * x;
      r -= labels.segment(first, block.rows());
      squares += r.squaredNorm();
      r /= static_cast<double>(n);
      detail::assign_or_add(g, block.transpose() * r, first);
    });
    g += params_.lambda * x;
    return 0.5 * squares / static_cast<double>(n) + 0.5 * params_.lambda * x.squaredNorm();
  }

  // f(x) over all of the shard's rows. Allocates its own scratch, so it may be called on a
  // const instance.
  double loss(const Vector& x) const {
    detail::require_point(x, dim());
    const Vector r = shard_.data->visit([&](const auto& a) -> Vector {
      return a.middleRows(shard_.begin, size()) * x - shard_.labels();
    });
    return 0.5 * r.squaredNorm() / static_cast<double>(size()) +
           0.5 * params_.lambda * x.squaredNorm();
  }

  // L = λ_max(AᵀA)/n + λ, exactly the largest eigenvalue of the (constant) Hessian
  // AᵀA/n + λI; λ_max is computed once for this objective and its copies (GramCache).
  double smoothness() const { return gram_(shard_) + params_.lambda; }

 private:
  data::Shard shard_;
  Params params_;
  Vector residuals_;  // full_gradient()'s scratch: Ax − b, then (Ax − b)/n
  GramCache gram_;    // λ_max(AᵀA)/n
};
using LeastSquares = BasicLeastSquares<>;

// The minimizer of the workers' average loss (1/M) Σ_m f_m(θ), from its normal equations
//   (1/M) Σ_m (A_mᵀA_m/n_m + λ_m I) θ = (1/M) Σ_m A_mᵀb_m/n_m,
// solved densely (d×d) with an LDLᵀ factorization: meant for tests and small problems. The
// solution is unique when the left-hand matrix is positive definite (some λ_m > 0, or the
// stacked rows have full column rank).
template <class Unused>
Vector least_squares_minimizer(const std::vector<BasicLeastSquares<Unused>>& workers) {
  require_param(!workers.empty(), "workers.size()", workers.size(), ">= 1");
  const Index d = workers.front().dim();
  Eigen::MatrixXd hessian = Eigen::MatrixXd::Zero(d, d);
  Vector rhs = Vector::Zero(d);
  for (std::size_t m = 0; m < workers.size(); ++m) {
    const auto& w = workers[m];
    require_param(w.dim() == d, fmt::format("workers[{}].dim()", m), w.dim(),
                  fmt::format("equal to workers[0].dim() = {}", d));
    const data::Shard& shard = w.shard();
    const auto n = static_cast<double>(shard.size());
    shard.data->visit([&](const auto& a) {
      const auto block = a.middleRows(shard.begin, shard.size());
      const Eigen::MatrixXd gram = block.transpose() * block;
      hessian += gram / n;
      rhs.noalias() += block.transpose() * (shard.labels() / n);
    });
    hessian.diagonal().array() += w.params().lambda;
  }
  const auto count = static_cast<double>(workers.size());
  return (hessian / count).ldlt().solve(rhs / count);
}

// The same for one LeastSquares per shard, all with strength lambda.
template <class = void>
Vector least_squares_minimizer(const std::vector<data::Shard>& shards, double lambda) {
  std::vector<LeastSquares> workers;
  workers.reserve(shards.size());
  for (const data::Shard& shard : shards) workers.emplace_back(shard, LeastSquares::Params{lambda});
  return least_squares_minimizer(workers);
}

}  // namespace laconic::objective
