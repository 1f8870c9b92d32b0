// Bringing your own model to laconic: a robust (Huber) linear regression, written against
// the Objective contract only — dim(), size() and gradient() — on data the user holds in
// plain Eigen matrices. laconic then trains it across 8 simulated workers.

#include <laconic/laconic.hpp>

#include <fmt/core.h>

#include <cmath>
#include <span>
#include <vector>

namespace {

// f(θ) = (1/|B|) Σ_{i∈B} huber(a_iᵀθ − b_i): quadratic near zero, linear in the tails, so a
// few wild targets do not dominate the fit.
class HuberRegression {
 public:
  HuberRegression(Eigen::MatrixXd features, Eigen::VectorXd targets, double delta)
      : a_(std::move(features)), b_(std::move(targets)), delta_(delta) {}

  laconic::Index dim() const { return a_.cols(); }
  laconic::Index size() const { return a_.rows(); }

  // The mean loss of the batch; writes its mean gradient into g.
  double gradient(const laconic::Vector& x, std::span<const laconic::Index> batch,
                  laconic::Vector& g) const {
    g.setZero(x.size());
    double loss = 0;
    for (laconic::Index i : batch) {
      const double r = a_.row(i).dot(x) - b_[i];
      const bool small = std::abs(r) <= delta_;
      loss += small ? 0.5 * r * r : delta_ * (std::abs(r) - 0.5 * delta_);
      g += (small ? r : delta_ * (r > 0 ? 1.0 : -1.0)) * a_.row(i).transpose();
    }
    const auto n = static_cast<double>(batch.size());
    g /= n;
    return loss / n;
  }

 private:
  Eigen::MatrixXd a_;
  Eigen::VectorXd b_;
  double delta_;
};

}  // namespace

int main() {
  const int workers = 8, samples = 200, features = 5;
  laconic::Vector truth(features);
  truth << 1, -2, 0.5, 3, 0;

  // Each worker's data comes from its own random stream; 5% of targets are corrupted.
  std::vector<HuberRegression> objectives;
  for (int m = 0; m < workers; ++m) {
    laconic::RandomStream rng(2024, laconic::Purpose::user, 0, static_cast<std::uint64_t>(m));
    Eigen::MatrixXd a(samples, features);
    Eigen::VectorXd b(samples);
    for (int i = 0; i < samples; ++i) {
      for (int j = 0; j < features; ++j) a(i, j) = rng.normal();
      b[i] = a.row(i).dot(truth) + 0.1 * rng.normal();
      if (rng.uniform() < 0.05) b[i] += 100 * rng.normal();
    }
    objectives.emplace_back(std::move(a), std::move(b), 1.0);
  }

  laconic::Sgd method{.server = {.step = laconic::server::StepSize::constant(0.5),
                                 .batch = laconic::server::Batch::of(20)}};
  laconic::sim::Simulation simulation(method, objectives, laconic::Vector::Zero(features),
                                      {.seed = 1, .rounds = 400, .record_every = 100});
  const auto result = simulation.run();

  fmt::print("{:>6} {:>12} {:>14}\n", "round", "loss", "|grad|^2");
  for (const auto& row : result.history.rows) {
    fmt::print("{:>6} {:>12.6f} {:>14.3e}\n", row.round, row.loss, row.grad_norm_sq);
  }
  const double error = (result.theta - truth).norm();
  fmt::print("distance to the true coefficients: {:.4f} ({} uploads, {:.2f} Mbit up)\n", error,
             result.ledger.total().uploads, result.ledger.total().up.total() / 1e6);
  // Huber regression recovers the coefficients despite the corrupted targets.
  return result.status == laconic::sim::Status::completed && error < 0.1 ? 0 : 1;
}
