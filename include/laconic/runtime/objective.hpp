#pragma once

// A worker's objective chosen at run time: any Objective (core/concepts.hpp) behind one type,
// so that one instantiation of the round engine serves every objective — the shipped ones,
// and later ones a program only learns of when it runs. It forwards each call to the chosen
// objective, and where the chosen one lacks an optional member (a full gradient, a gradient
// without its loss) it does what the round engine does without it, so a run through it is the
// run of the chosen type bit for bit. What it adds is one virtual call per gradient. (One
// difference: where the engine would stop a run for a non-finite loss beside a finite
// gradient, it stops in the same round naming the gradient, which then carries that loss.)
//
//   std::vector<runtime::Objective> workers;
//   for (auto& shard : shards) workers.emplace_back(objective::Logistic(shard, lambda));

#include <laconic/core/concepts.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <cmath>
#include <limits>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace laconic::runtime {

class Objective {
 public:
  template <laconic::Objective O>
  requires(!std::is_same_v<std::remove_cvref_t<O>, Objective>) explicit Objective(O objective)
      : model_(std::make_unique<ModelOf<O>>(std::move(objective))) {}

  Objective(const Objective& o) : model_(o.model_->clone()) {}
  Objective(Objective&&) noexcept = default;
  Objective& operator=(const Objective& o) {
    if (this != &o) model_ = o.model_->clone();
    return *this;
  }
  Objective& operator=(Objective&&) noexcept = default;

  Index dim() const { return model_->dim(); }
  Index size() const { return model_->size(); }
  double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
    return model_->gradient(x, batch, g);
  }
  double full_gradient(const Vector& x, Vector& g) { return model_->full_gradient(x, g); }
  void gradient_only(const Vector& x, std::span<const Index> batch, Vector& g) {
    model_->gradient_only(x, batch, g);
  }
  void full_gradient_only(const Vector& x, Vector& g) { model_->full_gradient_only(x, g); }
  // L_m, or NaN when the chosen objective does not know it (the round engine's "unknown").
  double smoothness() const { return model_->smoothness(); }
  // The stream of the chosen objective's random numbers (ignored when it draws none).
  void draw_from(const RandomStream& stream) { model_->draw_from(stream); }

  // The chosen objective, when it is an O (for tests and tools); nullptr otherwise.
  template <class O>
  const O* as() const {
    const auto* m = dynamic_cast<const ModelOf<O>*>(model_.get());
    return m ? &m->objective : nullptr;
  }

 private:
  struct Model {
    virtual ~Model() = default;
    virtual std::unique_ptr<Model> clone() const = 0;
    virtual Index dim() const = 0;
    virtual Index size() const = 0;
    virtual double gradient(const Vector& x, std::span<const Index> batch, Vector& g) = 0;
    virtual double full_gradient(const Vector& x, Vector& g) = 0;
    virtual void gradient_only(const Vector& x, std::span<const Index> batch, Vector& g) = 0;
    virtual void full_gradient_only(const Vector& x, Vector& g) = 0;
    virtual double smoothness() const = 0;
    virtual void draw_from(const RandomStream& stream) = 0;
  };

  template <class O>
  struct ModelOf final : Model {
    explicit ModelOf(O o) : objective(std::move(o)) {}
    std::unique_ptr<Model> clone() const override { return std::make_unique<ModelOf>(objective); }
    Index dim() const override { return objective.dim(); }
    Index size() const override { return objective.size(); }
    double gradient(const Vector& x, std::span<const Index> batch, Vector& g) override {
      return objective.gradient(x, batch, g);
    }
    // Without full_gradient(), the round engine takes the batch 0..n−1 in order.
    double full_gradient(const Vector& x, Vector& g) override {
      if constexpr (HasFullGradient<O>) {
        return objective.full_gradient(x, g);
      } else {
        return objective.gradient(x, full_batch(objective.size(), all), g);
      }
    }
    void gradient_only(const Vector& x, std::span<const Index> batch, Vector& g) override {
      if constexpr (HasGradientOnly<O>) {
        objective.gradient_only(x, batch, g);
      } else {
        keep_fault(objective.gradient(x, batch, g), g);
      }
    }
    void full_gradient_only(const Vector& x, Vector& g) override {
      if constexpr (HasFullGradientOnly<O>) {
        objective.full_gradient_only(x, g);
      } else {
        keep_fault(full_gradient(x, g), g);
      }
    }
    // The engine checks the loss only where it asked for one; here it asked for none, so a
    // non-finite loss moves into the gradient, which it checks.
    static void keep_fault(double loss, Vector& g) {
      if (!std::isfinite(loss) && g.size() > 0) g(0) = loss;
    }
    double smoothness() const override {
      if constexpr (HasSmoothness<O>) {
        return objective.smoothness();
      } else {
        return std::numeric_limits<double>::quiet_NaN();
      }
    }

    void draw_from(const RandomStream& stream) override {
      if constexpr (HasRandomness<O>) objective.draw_from(stream);
      static_cast<void>(stream);
    }

    O objective;
    std::vector<Index> all;  // 0..n−1, for an objective without full_gradient()
  };

  std::unique_ptr<Model> model_;
};

static_assert(HasFullGradientOnly<Objective> && HasGradientOnly<Objective> &&
              HasSmoothness<Objective> && HasRandomness<Objective>);

}  // namespace laconic::runtime
