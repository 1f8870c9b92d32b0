#pragma once

// Gradient descent on the server: θ^{k+1} = θ^k − η_k ∇^k, where ∇^k is the mean of the
// workers' (decoded) gradients. With full local gradients it is distributed GD; with
// minibatches drawn from each worker's own stream it is distributed SGD.

#include <laconic/server/server_update.hpp>

#include <string>

namespace laconic::server {

class Sgd {
 public:
  struct Params {
    StepSize step{};
    Batch batch{};
    Participation participation{};  // whose gradients are averaged each round
    template <class V>
    void fields(V&& v) {
      v("step", step);
      v("batch", batch);
      v("participation", participation);
    }
  };
  static constexpr Shape shape = Shape::gradient;

  Sgd() : Sgd(Params{}) {}
  explicit Sgd(const Params& params) : params_(params) {
    params_.step.validate();
    params_.batch.validate();
    params_.participation.validate();
  }

  const Params& params() const { return params_; }
  template <class Io>
  void state(Io&) {}  // none: the model is the simulation's
  std::string describe() const {
    return fmt::format("sgd(step={}, batch={}, participation={})", params_.step.describe(),
                       params_.batch.describe(), params_.participation.describe());
  }

  // θ ← θ − η_k ∇ for round k.
  void update(Index k, const Vector& aggregate, Vector& theta) const {
    theta.noalias() -= params_.step.at(k) * aggregate;
  }

 private:
  Params params_;
};

}  // namespace laconic::server
