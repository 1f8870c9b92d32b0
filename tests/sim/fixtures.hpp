#pragma once

// Tiny objectives whose trajectories can be worked out by hand.

#include <laconic/core/types.hpp>

#include <cmath>
#include <limits>
#include <span>
#include <vector>

namespace laconic::test {

// f_m(θ) = (1/n) Σ_i ½‖θ − c_i‖² over n points c_i; ∇f_m = θ − mean of the batch's points.
// It has no full_gradient(), so the loop's generic path is exercised, and it remembers the
// batches it was asked for.
class Points {
 public:
  explicit Points(std::vector<Vector> points) : points_(std::move(points)) {}

  Index dim() const { return points_.front().size(); }
  Index size() const { return static_cast<Index>(points_.size()); }

  double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
    g.setZero(x.size());
    double loss = 0;
    for (Index i : batch) {
      g += x - points_[static_cast<std::size_t>(i)];
      loss += 0.5 * (x - points_[static_cast<std::size_t>(i)]).squaredNorm();
    }
    g /= static_cast<double>(batch.size());
    // The loop also asks for full batches to measure the loss; only minibatches are kept.
    if (static_cast<Index>(batch.size()) < size()) {
      last_batch.assign(batch.begin(), batch.end());
      if (minibatch_calls++ == poison_at_call) g[0] = std::numeric_limits<double>::quiet_NaN();
    }
    return loss / static_cast<double>(batch.size());
  }

  std::vector<Index> last_batch;  // the last minibatch
  int poison_at_call = -1;        // makes the gradient NaN on this minibatch call
  int minibatch_calls = 0;

 private:
  std::vector<Vector> points_;
};

}  // namespace laconic::test
