#pragma once

// Multinomial logistic (softmax) regression with an L2 regularizer on a worker's shard:
//
//   f(θ) = (1/n) Σ_i [ log Σ_c exp(w_cᵀa_i) − w_{y_i}ᵀa_i ] + λ/2 ‖θ‖²,   y_i ∈ {0, …, C−1},
//
// with θ ∈ R^{C·F} holding the C×F weight matrix W row by row: class c's weights w_c are
// θ.segment(c·F, F). This is the model of the LAQ MNIST experiments (without a bias column;
// append a constant feature for one).

#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>
#include <laconic/objective/common.hpp>

#include <cmath>
#include <span>
#include <type_traits>
#include <utility>

namespace laconic::objective {

// Softmax is BasicSoftmax<>: a class template only so that a program compiles just the members it
// calls (each member instantiates its dense and its sparse kernels), which keeps every build
// that includes this header short. The parameter has no other use.
template <class = void>
class BasicSoftmax {
 public:
  struct Params {
    double lambda = 0;  // L2 strength λ ≥ 0
    template <class V>
    void fields(V&& v) {
      v("lambda", lambda);
    }
  };

  explicit BasicSoftmax(data::Shard shard) : BasicSoftmax(std::move(shard), Params{}) {}

  // The shard must hold a multiclass dataset (labels 0..C−1) and at least one row.
  BasicSoftmax(data::Shard shard, Params params) : shard_(std::move(shard)), params_(params) {
    detail::require_shard(shard_);
    require_param(shard_.data->task() == data::Task::multiclass, "dataset task",
                  detail::task_name(shard_.data->task()),
                  "multiclass (labels 0..C-1) for softmax regression");
    require_param(shard_.size() >= 1, "shard.size()", shard_.size(), ">= 1");
    detail::require_lambda(params_.lambda);
  }

  // C·F: one weight per class and feature.
  Index dim() const { return classes() * features(); }
  Index size() const { return shard_.size(); }
  Index classes() const { return shard_.data->num_classes(); }
  Index features() const { return shard_.dim(); }
  const data::Shard& shard() const { return shard_; }
  const Params& params() const { return params_; }

  // The mean loss over the batch (local indices 0..size()-1, repeats allowed) plus
  // λ/2‖x‖²; writes its gradient into g.
  double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
    detail::require_point(x, dim());
    require_param(!batch.empty(), "batch.size()", batch.size(), ">= 1");
    g.resize(dim());
    g.setZero();
    probs_.resize(classes());
    const Weights w(x.data(), classes(), features());
    Gradient gw(g.data(), classes(), features());
    const auto& y = shard_.data->labels();
    const double loss = shard_.data->visit([&](const auto& a) {
      double sum = 0;
      for (const Index i : batch) {
        detail::require_index(i, size());
        const Index row = shard_.begin + i;
        probs_.noalias() = w * a.row(row).transpose();
        sum += cross_entropy_to_residual(probs_, static_cast<Index>(y[row]));
        // G += (p − e_y) a_rowᵀ: one C-vector axpy per nonzero feature of a sparse row.
        if constexpr (std::is_same_v<std::remove_cvref_t<decltype(a)>, SparseMatrix>) {
          for (SparseMatrix::InnerIterator it(a, row); it; ++it) {
            gw.col(it.index()) += it.value() * probs_;
          }
        } else {
          gw.noalias() += probs_ * a.row(row);
        }
      }
      return sum;
    });
    const auto count = static_cast<double>(batch.size());
    g /= count;
    g += params_.lambda * x;
    return loss / count + 0.5 * params_.lambda * x.squaredNorm();
  }

  // gradient() over all of the shard's rows: the scores A·Wᵀ in one product, the gradient
  // (P − Y)ᵀA/n in another, block by block (detail::for_each_block).
  double full_gradient(const Vector& x, Vector& g) {
    detail::require_point(x, dim());
    const Index n = size();
    const Weights w(x.data(), classes(), features());
    scores_.resize(n, classes());
    g.resize(dim());
    Gradient gw(g.data(), classes(), features());
    const auto labels = shard_.labels();
    double loss = 0;
    detail::for_each_block(shard_, [&](const auto& block, Index first) {
      auto scores = scores_.middleRows(first, block.rows());
      scores.noalias() = block * w.transpose();
      for (Index i = 0; i < block.rows(); ++i) {
        auto row = scores.row(i);
        loss += cross_entropy_to_residual(row, static_cast<Index>(labels[first + i]));
      }
      scores /= static_cast<double>(n);
      detail::assign_or_add(gw, scores.transpose() * block, first);
    });
    g += params_.lambda * x;
    return loss / static_cast<double>(n) + 0.5 * params_.lambda * x.squaredNorm();
  }

  // f(x) over all of the shard's rows. Allocates its own scratch, so it may be called on a
  // const instance.
  double loss(const Vector& x) const {
    detail::require_point(x, dim());
    DenseMatrix scores = scores_of(x);
    const auto labels = shard_.labels();
    double sum = 0;
    for (Index i = 0; i < size(); ++i) {
      auto row = scores.row(i);
      sum += cross_entropy_to_residual(row, static_cast<Index>(labels[i]));
    }
    return sum / static_cast<double>(size()) + 0.5 * params_.lambda * x.squaredNorm();
  }

  // The fraction of the shard's rows whose label is the class of highest score (ties go to
  // the lowest class index).
  double accuracy(const Vector& x) const {
    detail::require_point(x, dim());
    const DenseMatrix scores = scores_of(x);
    const auto labels = shard_.labels();
    Index correct = 0;
    for (Index i = 0; i < size(); ++i) {
      Index best = 0;
      scores.row(i).maxCoeff(&best);
      correct += best == static_cast<Index>(labels[i]) ? 1 : 0;
    }
    return static_cast<double>(correct) / static_cast<double>(size());
  }

  // L = λ_max(AᵀA)/(2n) + λ, the standard bound: the Hessian of log-sum-exp, diag(p) − ppᵀ,
  // has eigenvalues at most 1/2, so the data term's Hessian (diag(p_i) − p_ip_iᵀ) ⊗ a_ia_iᵀ
  // averaged over i is at most AᵀA/(2n). λ_max is computed once for this objective and its
  // copies (GramCache).
  double smoothness() const { return gram_(shard_) / 2 + params_.lambda; }

 private:
  using Weights = Eigen::Map<const DenseMatrix>;
  using Gradient = Eigen::Map<DenseMatrix>;

  // Given the class scores s of one sample with label y, returns its loss
  // log Σ_c e^{s_c} − s_y and overwrites s with softmax(s) − e_y, the loss's derivative.
  template <class Derived>
  static double cross_entropy_to_residual(Eigen::MatrixBase<Derived>& s, Index y) {
    const double top = s.maxCoeff();
    const double target = s(y);
    s.array() = (s.array() - top).exp();
    const double sum = s.sum();
    s /= sum;
    s(y) -= 1;
    return top + std::log(sum) - target;
  }

  DenseMatrix scores_of(const Vector& x) const {
    const Weights w(x.data(), classes(), features());
    return shard_.data->visit([&](const auto& a) -> DenseMatrix {
      return a.middleRows(shard_.begin, size()) * w.transpose();
    });
  }

  data::Shard shard_;
  Params params_;
  Vector probs_;        // gradient()'s scratch: one sample's scores, then residuals
  DenseMatrix scores_;  // full_gradient()'s scratch: n×C scores, then residuals / n
  GramCache gram_;      // λ_max(AᵀA)/n
};
using Softmax = BasicSoftmax<>;

}  // namespace laconic::objective
