#include <laconic/methods.hpp>
#include <laconic/runtime/objective.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "skip/fixtures.hpp"

#include <limits>
#include <span>
#include <vector>

using namespace laconic;

namespace {

// An objective with none of the optional members: only a minibatch gradient and its loss.
// Where ‖θ‖ > poison_beyond its loss is infinite while its gradient stays finite: a property
// of θ, met in the same round by runs that call their objectives a different number of times.
struct Bare {
  objective::Logistic inner;
  double poison_beyond = std::numeric_limits<double>::infinity();
  Index dim() const { return inner.dim(); }
  Index size() const { return inner.size(); }
  double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
    const double loss = inner.gradient(x, batch, g);
    return x.norm() > poison_beyond ? std::numeric_limits<double>::infinity() : loss;
  }
};

std::vector<Bare> bare_workers(double poison_beyond = std::numeric_limits<double>::infinity()) {
  std::vector<Bare> workers;
  for (auto& w : test::logistic_workers(4, 200, 6)) workers.push_back({w, poison_beyond});
  return workers;
}

template <class Obj, class M>
sim::RunResult run(const M& method, const std::vector<Obj>& workers) {
  sim::Simulation s(method, workers, Vector::Zero(6), {.seed = 4, .rounds = 30});
  return s.run();
}

}  // namespace

TEST_CASE("an objective chosen at run time computes what the chosen one computes", "[runtime]") {
  const auto logistic = test::logistic_workers(1, 50, 6).front();
  runtime::Objective chosen(logistic);
  CHECK(chosen.dim() == 6);
  CHECK(chosen.size() == 50);
  CHECK(chosen.smoothness() == logistic.smoothness());
  CHECK(chosen.as<objective::Logistic>() != nullptr);
  CHECK(chosen.as<Bare>() == nullptr);

  auto fixed = logistic;
  const Vector x = Vector::LinSpaced(6, -1, 1);
  Vector g1(6), g2(6);
  const std::vector<Index> batch{3, 1, 4};
  CHECK(chosen.gradient(x, batch, g1) == fixed.gradient(x, batch, g2));
  CHECK(g1 == g2);
  CHECK(chosen.full_gradient(x, g1) == fixed.full_gradient(x, g2));
  CHECK(g1 == g2);

  // A copy is the chosen objective's own copy.
  const runtime::Objective copy = chosen;
  CHECK(copy.as<objective::Logistic>() != chosen.as<objective::Logistic>());

  // Without the optional members: a full gradient over 0..n−1 and an unknown L_m.
  runtime::Objective bare(Bare{logistic});
  CHECK(std::isnan(bare.smoothness()));
  std::vector<Index> all(50);
  for (Index i = 0; i < 50; ++i) all[static_cast<std::size_t>(i)] = i;
  CHECK(bare.full_gradient(x, g1) == fixed.gradient(x, all, g2));
  CHECK(g1 == g2);
}

TEST_CASE("a run on objectives chosen at run time is the run on the chosen type", "[runtime]") {
  // Full batches (a full gradient where the objective has one) and minibatches.
  for (const server::Batch batch : {server::Batch::full(), server::Batch::of(10)}) {
    const Sgd sgd{.server = {.step = server::StepSize::constant(0.5), .batch = batch}};
    const auto logistic = test::logistic_workers(4, 200, 6);
    const auto fixed = run(sgd, logistic);
    const auto chosen = run(sgd, std::vector<runtime::Objective>(logistic.begin(), logistic.end()));
    CHECK(chosen.history == fixed.history);
    CHECK(chosen.theta == fixed.theta);
    const auto bare = bare_workers();
    const auto fixed_bare = run(sgd, bare);
    const auto chosen_bare = run(sgd, std::vector<runtime::Objective>(bare.begin(), bare.end()));
    CHECK(chosen_bare.history == fixed_bare.history);
  }
  // LAG-PS needs each L_m: an objective that does not know it is refused as its type is.
  const auto bare = bare_workers();
  const std::vector<runtime::Objective> chosen(bare.begin(), bare.end());
  CHECK_THROWS_WITH(run(LagPs{}, chosen), Catch::Contains("needs each worker's smoothness"));
  CHECK_THROWS_WITH(run(LagPs{}, bare), Catch::Contains("needs each worker's smoothness"));
}

TEST_CASE("a non-finite loss stops a run on a chosen objective in the same round", "[runtime]") {
  // History rows only at the ends, so that a round meets the poison first: beyond θ^10.
  const Sgd sgd{.server = {.step = server::StepSize::constant(0.5)}};
  const sim::Options rare{.seed = 4, .rounds = 30, .record_every = 30};
  const Vector zero = Vector::Zero(6);
  const double radius =
      sim::Simulation(sgd, bare_workers(), zero, {.rounds = 10}).run().theta.norm();
  const auto bare = bare_workers(radius);
  const auto fixed = sim::Simulation(sgd, bare, zero, rare).run();
  const auto chosen =
      sim::Simulation(sgd, std::vector<runtime::Objective>(bare.begin(), bare.end()), zero, rare)
          .run();
  REQUIRE(fixed.status == sim::Status::diverged);
  REQUIRE(chosen.status == sim::Status::diverged);
  CHECK(fixed.divergence->round == 11);  // the first round at a θ beyond θ^10
  CHECK(chosen.divergence->round == fixed.divergence->round);
  CHECK(chosen.divergence->worker == fixed.divergence->worker);
  CHECK(fixed.divergence->quantity == "loss");
  CHECK(chosen.divergence->quantity == "gradient");
  CHECK(chosen.history == fixed.history);
}
