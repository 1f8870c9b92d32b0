#include <laconic/methods.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "sim/fixtures.hpp"
#include "skip/fixtures.hpp"
#include "support.hpp"

#include <cmath>
#include <limits>
#include <vector>

using namespace laconic;
using laconic::test::Points;

namespace {

std::vector<Points> two_points() {
  return {Points({Vector::Constant(1, 1.0)}), Points({Vector::Constant(1, 3.0)})};
}

}  // namespace

// f_m = ½(θ − c_m)², c = 1 and 3, η = ½: a local step halves the distance to c_m, so two
// steps from x give x + ¾(c_m − x).
//   k = 0: changes ¾·1 = 0.75 and ¾·3 = 2.25, mean 1.5            → x_1 = 1.5
//   k = 1: changes ¾(1 − 1.5) = −0.375 and ¾(3 − 1.5) = 1.125    → x_2 = 1.875
TEST_CASE("local SGD follows the hand-worked trajectory", "[server]") {
  const LocalSgd method{.server = {.step = server::StepSize::constant(0.5), .local_steps = 2}};
  sim::Simulation sim(method, two_points(), Vector::Zero(1), {.rounds = 2});
  const auto result = sim.run();
  CHECK(result.history.rows[1].traffic.uploads == 2);
  CHECK(result.theta[0] == 1.875);
  const Traffic& t = result.ledger.total();
  CHECK(t.gradient_samples == 2 * 2 * 2);  // τ samples per worker per round
  CHECK(t.up.values == 4 * 64);
}

// FedPAQ's Theorem 1: η_{k,t} = η_k = 4μ⁻¹/(kτ + 1), the same for the τ local steps of
// period k; at k = 2, τ = 4, μ = 0.5: 8/9 for t = 0..3. Indexed by the local iteration, the
// same schedule would give 8/(1 + 4(8 + t)) instead.
TEST_CASE("a step size schedule indexed by period is constant over its local steps", "[server]") {
  const double mu = 0.5;
  const Index tau = 4;
  const server::PeriodicAverage fedpaq(
      {.step = server::StepSize::inverse_time(4 / mu, 1.0 / static_cast<double>(tau)),
       .local_steps = tau,
       .step_index = server::PeriodicAverage::StepIndex::period});
  for (Index k : {0, 1, 2, 7}) {
    for (Index t = 0; t < tau; ++t) {
      INFO("k = " << k << ", t = " << t);
      CHECK(fedpaq.step(k, t) == Approx(4 / mu / static_cast<double>(k * tau + 1)).epsilon(1e-15));
    }
  }
  CHECK(fedpaq.step(2, 3) == Approx(8.0 / 9).epsilon(1e-15));
  const server::PeriodicAverage by_iteration(
      {.step = server::StepSize::inverse_time(4 / mu, 1.0 / static_cast<double>(tau)),
       .local_steps = tau});
  CHECK(by_iteration.step(2, 3) == Approx(8.0 / (1 + 4 * 11)).epsilon(1e-15));
  CHECK_THAT(fedpaq.describe(), Catch::Contains("per period"));
}

// Two local steps per period with the period's step: f_m = ½(θ − c_m)², c = 1 and 3,
// η_k = 1/(k + 2) per period (inverse_time(½, 2)).
//   k = 0, η = ½: two steps take x to x + ¾(c − x): from 0, changes 0.75, 2.25, x_1 = 1.5
//   k = 1, η = ⅓: two steps take x to x + (5/9)(c − x): changes −5/18, 5/6, x_2 = 1.5 + 5/18
TEST_CASE("local SGD with a step per period follows the hand-worked trajectory", "[server]") {
  const LocalSgd method{.server = {.step = server::StepSize::inverse_time(0.5, 2),
                                   .local_steps = 2,
                                   .step_index = server::PeriodicAverage::StepIndex::period}};
  sim::Simulation sim(method, two_points(), Vector::Zero(1), {.rounds = 2});
  const auto result = sim.run();
  CHECK(result.theta[0] == Approx(1.5 + 5.0 / 18).epsilon(1e-15));
}

TEST_CASE("one local step is parallel SGD", "[server]") {
  const auto workers = test::logistic_workers(4, 400, 6);
  const auto step = server::StepSize::constant(0.5);
  const auto batch = server::Batch::of(8);
  const LocalSgd local{.server = {.step = step, .batch = batch, .local_steps = 1}};
  const Sgd sgd{.server = {.step = step, .batch = batch}};
  const sim::Options options{.seed = 5, .rounds = 100, .record_every = 100};
  const auto a = sim::Simulation(local, workers, Vector::Zero(6), options).run();
  const auto b = sim::Simulation(sgd, workers, Vector::Zero(6), options).run();
  // The same minibatches; the model change (θ − η∇) − θ differs from −η∇ by rounding only.
  CHECK((a.theta - b.theta).norm() <= 1e-12 * b.theta.norm());
  CHECK(a.ledger.total().gradient_samples == b.ledger.total().gradient_samples);
}

TEST_CASE("FedPAQ: r of n workers download, compute and upload QSGD messages", "[server]") {
  const Index n = 10, r = 3, rounds = 40, p = 6;
  const FedPaq method{.uplink = {.levels = 1, .encoding = compress::Qsgd::Encoding::fixed},
                      .server = {.step = server::StepSize::constant(0.2),
                                 .batch = server::Batch::of(5),
                                 .local_steps = 4,
                                 .participation = server::Participation::sample(r)}};
  auto run = [&](int threads) {
    return sim::Simulation(method, test::logistic_workers(n, 400, p), Vector::Zero(p),
                           {.seed = 2, .rounds = rounds, .threads = threads})
        .run();
  };
  const auto result = run(1);
  const Traffic& t = result.ledger.total();
  CHECK(t.downloads == r * rounds);
  CHECK(t.uploads == r * rounds);
  CHECK(t.gradient_samples == r * rounds * 4 * 5);
  // Fixed width, s = 1: 2-bit header, 64-bit norm, and a sign and a 1-bit level per coordinate;
  // FedPAQ counts 32 + p(1 + ⌈log₂(s + 1)⌉).
  CHECK(t.up.total() == t.uploads * (2 + 64 + p * 2));
  CHECK(t.up.paper == t.uploads * (32 + p * 2));
  // Every worker took part sometimes; none more than the rounds.
  for (Index m = 0; m < n; ++m) {
    CHECK(result.ledger.worker(m).uploads > 0);
    CHECK(result.ledger.worker(m).uploads < static_cast<std::uint64_t>(rounds));
  }
  CHECK(result.history.rows.back().loss < result.history.rows.front().loss);
  const auto again = run(2);
  CHECK(again.history == result.history);
  CHECK(again.theta == result.theta);
}

TEST_CASE("stragglers: a round with no available worker leaves the model alone", "[server]") {
  const LocalSgd method{.server = {.step = server::StepSize::constant(0.5),
                                   .participation = server::Participation::available(0.0)}};
  const auto result =
      sim::Simulation(method, two_points(), Vector::Constant(1, 7.0), {.rounds = 3}).run();
  CHECK(result.theta[0] == 7.0);
  CHECK(result.ledger.total().downloads == 0);
}

TEST_CASE("a non-finite local gradient stops the run at that worker and round", "[server]") {
  const LocalSgd method{.server = {.step = server::StepSize::constant(0.5),
                                   .batch = server::Batch::of(1),
                                   .local_steps = 2}};
  std::vector<Points> w = {Points({Vector::Constant(1, 1.0), Vector::Constant(1, 2.0)}),
                           Points({Vector::Constant(1, 3.0), Vector::Constant(1, 4.0)})};
  w[1].poison_at_call = 3;  // its 4th minibatch gradient: round 1, local step 1
  const auto result = sim::Simulation(method, w, Vector::Zero(1), {.rounds = 5}).run();
  REQUIRE(result.status == sim::Status::diverged);
  CHECK(result.divergence->worker == 1);
  CHECK(result.divergence->round == 1);
  CHECK(result.history.rows.size() == 2);  // θ^0 and θ^1 are kept
}

TEST_CASE("PeriodicAverage: invalid parameters name themselves, their value and the allowed range",
          "[server]") {
  using Catch::Contains;
  const auto refused = [](server::PeriodicAverage::Params p) {
    return test::refusal([&] { server::PeriodicAverage{p}; });
  };
  CHECK_THAT(refused({.local_steps = 0}), Contains("local_steps = 0: must be in 1..2^20"));
  CHECK_THAT(refused({.local_steps = (1 << 20) + 1}), Contains("local_steps = 1048577"));
  CHECK_THAT(refused({.step = server::StepSize::constant(-1)}), Contains("step.eta = -1"));
  CHECK_THAT(refused({.batch = server::Batch::share(2)}), Contains("batch.fraction = 2"));
  CHECK(refused({.local_steps = 1}) == "accepted");
  CHECK(refused({.local_steps = 1 << 20}) == "accepted");
  CHECK_THAT(refused({.step_index = static_cast<server::PeriodicAverage::StepIndex>(2)}),
             Contains("step_index = 2: must be iteration or period"));
  const LocalSgd too_many{.server = {.participation = server::Participation::sample(3)}};
  CHECK_THROWS_WITH(sim::Simulation(too_many, two_points(), Vector::Zero(1)),
                    Catch::Contains("participation.count = 3"));
  const LasgWk2 lazy_partial{.server = {.participation = server::Participation::sample(1)}};
  CHECK_THROWS_WITH(sim::Simulation(lazy_partial, two_points(), Vector::Zero(1)),
                    Catch::Contains("all workers under a skip rule"));
}
