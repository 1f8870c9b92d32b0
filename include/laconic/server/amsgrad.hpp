#pragma once

// AMSGrad on the workers' side, as CD-Adam runs it (Wang, Lin, Chen, AISTATS 2022,
// Algorithm 1; docs/server-updates.md). Every worker holds the model; the server keeps none. In
// round t the workers upload their gradients through their uplink channels, the server
// averages what it decoded into ĝ_t and broadcasts it through the downlink channel, and every
// worker applies the same step to the g̃_t it decoded:
//
//   m_t = β₁ m_{t−1} + (1 − β₁) g̃_t,   v_t = β₂ v_{t−1} + (1 − β₂) g̃_t²,
//   v̂_t = max(v̂_{t−1}, v_t),          x_{t+1} = x_t − α_t (v̂_t + ν)^{−1/2} ⊙ m_t
//
// (no bias correction, ν inside the square root, as in the paper; its code differs, §8.4).
// With Markov<ScaledSign> both ways it is CD-Adam; with Identity both ways, distributed
// AMSGrad. The workers' identical models are simulated once; the broadcast is counted once
// per worker.

#include <laconic/server/server_update.hpp>

#include <string>

namespace laconic::server {

class Amsgrad {
 public:
  struct Params {
    StepSize step{};  // α_t
    Batch batch{};
    Participation participation{};  // whose gradients are averaged; every worker hears g̃
    double beta1 = 0.9;
    double beta2 = 0.99;
    double nu = 1e-8;
    template <class V>
    void fields(V&& v) {
      v("step", step);
      v("batch", batch);
      v("participation", participation);
      v("beta1", beta1);
      v("beta2", beta2);
      v("nu", nu);
    }
  };
  static constexpr Shape shape = Shape::broadcast_aggregate;
  // The methods on this update are CD-Adam's and its baselines; its Table 2 counts each index
  // of a sparse message as a 32-bit integer (Method::paper_index_bits).
  static constexpr int paper_index_bits = 32;

  Amsgrad() : Amsgrad(Params{}) {}
  explicit Amsgrad(const Params& params) : params_(params) {
    params_.step.validate();
    params_.batch.validate();
    params_.participation.validate();
    require_param(params_.beta1 >= 0 && params_.beta1 < 1, "beta1", params_.beta1, "in [0, 1)");
    require_param(params_.beta2 >= 0 && params_.beta2 < 1, "beta2", params_.beta2, "in [0, 1)");
    require_positive_finite("nu", params_.nu);
  }

  const Params& params() const { return params_; }
  std::string describe() const {
    return fmt::format("amsgrad(step={}, batch={}, participation={}, beta1={}, beta2={}, nu={})",
                       params_.step.describe(), params_.batch.describe(),
                       params_.participation.describe(), params_.beta1, params_.beta2, params_.nu);
  }

  // One AMSGrad step of the workers' model along the broadcast g̃ of round k.
  void update(Index k, const Vector& g, Vector& x) {
    if (m_.size() != g.size()) {
      m_ = Vector::Zero(g.size());
      v_ = Vector::Zero(g.size());
      v_hat_ = Vector::Zero(g.size());
    }
    const double b1 = params_.beta1, b2 = params_.beta2;
    m_ = b1 * m_ + (1 - b1) * g;
    v_ = b2 * v_ + (1 - b2) * g.cwiseAbs2();
    v_hat_ = v_hat_.cwiseMax(v_);
    x.array() -= params_.step.at(k) * m_.array() / (v_hat_.array() + params_.nu).sqrt();
  }

  const Vector& first_moment() const { return m_; }
  const Vector& second_moment() const { return v_; }
  const Vector& max_second_moment() const { return v_hat_; }
  template <class Io>
  void state(Io& io) {
    io(m_);
    io(v_);
    io(v_hat_);
    // Reading: the moments are sized together at the first step (and again if g's size changes).
    if constexpr (requires { io.fail(""); }) {
      if (v_.size() != m_.size() || v_hat_.size() != m_.size()) {
        io.fail(fmt::format("AMSGrad moments of lengths {}, {} and {}", m_.size(), v_.size(),
                            v_hat_.size()));
      }
    }
  }

 private:
  Params params_;
  Vector m_, v_, v_hat_;
};

}  // namespace laconic::server
