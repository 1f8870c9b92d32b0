#pragma once

// Binary logistic regression on a worker's shard, with an L2 or a nonconvex regularizer:
//
//   f(θ) = (1/n) Σ_i log(1 + exp(−b_i a_iᵀθ)) + r(θ),   b_i ∈ {−1, +1},
//
// the problem of the LAG, LAQ, LASG (L2) and EF21, CD-Adam (nonconvex) experiments.

#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>
#include <laconic/objective/common.hpp>

#include <cmath>
#include <span>
#include <utility>

namespace laconic::objective {

// Logistic is BasicLogistic<>: a class template only so that a program compiles just the members it
// calls (each member instantiates its dense and its sparse kernels), which keeps every build
// that includes this header short. The parameter has no other use.
template <class = void>
class BasicLogistic {
 public:
  struct Params {
    double lambda = 0;                          // regularization strength λ ≥ 0
    Regularizer regularizer = Regularizer::l2;  // r(θ): λ/2‖θ‖² or λ Σ θ_j²/(1+θ_j²)
    template <class V>
    void fields(V&& v) {
      v("lambda", lambda);
      v("regularizer", regularizer, {"l2", "nonconvex"});
    }
  };

  explicit BasicLogistic(data::Shard shard) : BasicLogistic(std::move(shard), Params{}) {}

  // The shard must hold a binary dataset (labels ±1) and at least one row.
  BasicLogistic(data::Shard shard, Params params) : shard_(std::move(shard)), params_(params) {
    detail::require_shard(shard_);
    require_param(shard_.data->task() == data::Task::binary, "dataset task",
                  detail::task_name(shard_.data->task()),
                  "binary (labels +1/-1) for logistic regression");
    require_param(shard_.size() >= 1, "shard.size()", shard_.size(), ">= 1");
    detail::require_lambda(params_.lambda);
    const int r = static_cast<int>(params_.regularizer);
    require_param(r == 0 || r == 1, "regularizer", r, "l2 or nonconvex");
  }

  Index dim() const { return shard_.dim(); }
  Index size() const { return shard_.size(); }
  const data::Shard& shard() const { return shard_; }
  const Params& params() const { return params_; }

  // The mean loss over the batch (local indices 0..size()-1, repeats allowed) plus r(x);
  // writes its gradient into g.
  double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
    return minibatch<true>(x, batch, g);
  }
  // gradient() without the loss, which a training step never reads: it saves a logarithm
  // and an exponential per sample.
  void gradient_only(const Vector& x, std::span<const Index> batch, Vector& g) {
    minibatch<false>(x, batch, g);
  }

  // gradient() over all of the shard's rows, as one product with the row block and one with
  // its transpose.
  double full_gradient(const Vector& x, Vector& g) { return whole_shard<true>(x, g); }
  // full_gradient() without the loss.
  void full_gradient_only(const Vector& x, Vector& g) { whole_shard<false>(x, g); }

  // f(x) over all of the shard's rows. Allocates its own scratch, so it may be called on a
  // const instance.
  double loss(const Vector& x) const {
    detail::require_point(x, dim());
    const Vector m = margins(x);
    return m.unaryExpr([](double v) { return softplus(-v); }).mean() +
           regularizer_value(params_.regularizer, params_.lambda, x);
  }

  // The fraction of the shard's rows whose label is the sign of a_iᵀx (a score of 0 counts
  // as +1).
  double accuracy(const Vector& x) const {
    detail::require_point(x, dim());
    const Vector scores = scores_of(x);
    const auto labels = shard_.labels();
    const auto correct = ((scores.array() >= 0) == (labels.array() > 0)).count();
    return static_cast<double>(correct) / static_cast<double>(size());
  }

  // L = λ_max(AᵀA)/(4n) + λ (L2) or + 2λ (nonconvex): σ' ≤ 1/4 bounds the data term's
  // Hessian by AᵀA/(4n), and regularizer_smoothness bounds the regularizer's. λ_max is
  // computed once for this objective and its copies (GramCache).
  double smoothness() const {
    return gram_(shard_) / 4 + regularizer_smoothness(params_.regularizer, params_.lambda);
  }

 private:
  template <bool with_loss>
  double whole_shard(const Vector& x, Vector& g) {
    detail::require_point(x, dim());
    const Index n = size();
    const auto labels = shard_.labels();
    margins_.resize(n);
    g.resize(dim());
    double loss = 0;
    detail::for_each_block(shard_, [&](const auto& block, Index first) {
      const auto b = labels.segment(first, block.rows()).array();
      auto m = margins_.segment(first, block.rows());
      m.noalias() = block * x;
      m.array() *= b;
      if constexpr (with_loss) {
        loss += m.unaryExpr([](double v) { return softplus(-v); }).sum();
      }
      // ∂/∂m log(1 + e^{−m}) = −σ(−m) = −1/(1 + e^m); the chain rule through m_i = b_i a_iᵀθ
      // gives b_i. Eigen's vectorized exp: e^m = ∞ gives 0 and e^m = 0 gives 1, never a NaN.
      m = -(b * (1.0 + m.array().exp()).inverse()) / static_cast<double>(n);
      detail::assign_or_add(g, block.transpose() * m, first);
    });
    add_regularizer_gradient(params_.regularizer, params_.lambda, x, g);
    if constexpr (!with_loss) return 0;
    return loss / static_cast<double>(n) +
           regularizer_value(params_.regularizer, params_.lambda, x);
  }

  template <bool with_loss>
  double minibatch(const Vector& x, std::span<const Index> batch, Vector& g) {
    detail::require_point(x, dim());
    require_param(!batch.empty(), "batch.size()", batch.size(), ">= 1");
    g.resize(dim());
    const auto& b = shard_.data->labels();
    const double loss = shard_.data->visit([&](const auto& a) {
      double sum = 0;
      bool first = true;
      for (const Index i : batch) {
        detail::require_index(i, size());
        const Index row = shard_.begin + i;
        const double margin = b[row] * a.row(row).dot(x);
        if constexpr (with_loss) sum += softplus(-margin);
        const double weight = -b[row] * sigmoid(-margin);
        if (first) {
          g = weight * a.row(row).transpose();  // no separate pass to zero g
        } else {
          g += weight * a.row(row).transpose();
        }
        first = false;
      }
      return sum;
    });
    const auto count = static_cast<double>(batch.size());
    finish_gradient(params_.regularizer, params_.lambda, x, count, g);
    if constexpr (!with_loss) return 0;
    return loss / count + regularizer_value(params_.regularizer, params_.lambda, x);
  }

  Vector scores_of(const Vector& x) const {
    return shard_.data->visit(
        [&](const auto& a) -> Vector { return a.middleRows(shard_.begin, size()) * x; });
  }

  Vector margins(const Vector& x) const {
    Vector m = scores_of(x);
    m.array() *= shard_.labels().array();
    return m;
  }

  data::Shard shard_;
  Params params_;
  Vector margins_;  // full_gradient's scratch: margins, then loss derivatives
  GramCache gram_;  // λ_max(AᵀA)/n
};
using Logistic = BasicLogistic<>;

}  // namespace laconic::objective
