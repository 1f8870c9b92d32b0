#include <laconic/methods.hpp>
#include <laconic/sim/cost_model.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "sim/fixtures.hpp"
#include "support.hpp"

#include <cmath>
#include <limits>
#include <vector>

using namespace laconic;
using laconic::test::Points;

namespace {

// Worker 0 holds one point, worker 1 three: full gradients cost 1 and 3 sample gradients.
std::vector<Points> uneven_workers() {
  const Vector a = Vector::Constant(1, 1.0), b = Vector::Constant(1, 2.0);
  return {Points({a}), Points({a, b, b})};
}

sim::RunResult run(const sim::CostModel& cost, Index rounds) {
  return sim::Simulation(Gd{}, uneven_workers(), Vector::Zero(1), {.rounds = rounds, .cost = cost})
      .run();
}

}  // namespace

// One 64-bit float each way; 64 bits at 16 bits per unit down is 4 units, at 32 up is 2,
// each plus a latency of ½; a sample gradient takes 1.
//   parallel: max(4.5 + 1 + 2.5, 4.5 + 3 + 2.5) = 10 per round
//   shared:   4.5 (one broadcast) + 3 (slowest computation) + 2.5 + 2.5 (uploads in turn) = 12.5
TEST_CASE("round time is the slowest participant, or the shared link's sum", "[sim]") {
  sim::CostModel cost{.shift = 1, .bandwidth_up = 32, .bandwidth_down = 16, .latency = 0.5};
  const auto parallel = run(cost, 3);
  CHECK(parallel.history.rows[1].time == 10);
  CHECK(parallel.history.rows.back().time == 30);
  cost.links = sim::CostModel::Links::shared;
  CHECK(run(cost, 3).history.rows.back().time == 3 * 12.5);
  CHECK(run({}, 3).history.rows.back().time == 0);
}

TEST_CASE("compute time is shift plus an exponential, both per sample", "[sim]") {
  const sim::CostModel cost{.shift = 0.5, .exp_mean = 0.25};
  const int trials = 20000;
  double sum = 0, sum_sq = 0;
  for (int k = 0; k < trials; ++k) {
    const double t = cost.compute(9, k, 3, 4);
    CHECK(t >= 2.0);
    sum += t - 2.0;
    sum_sq += (t - 2.0) * (t - 2.0);
  }
  // Exp with mean 4 · 0.25 = 1: mean 1, variance 1.
  const double mean = sum / trials;
  CHECK(std::abs(mean - 1.0) < 4 / std::sqrt(trials));
  CHECK(std::abs(sum_sq / trials - mean * mean - 1.0) < 0.1);
  CHECK(cost.compute(9, 5, 3, 4) == cost.compute(9, 5, 3, 4));
  CHECK(cost.compute(9, 5, 3, 0) == 0);
}

TEST_CASE("a skipped upload or an idle worker costs no time", "[sim]") {
  // LAG-PS at k = 1, 2 contacts nobody (tests/skip/lag.cpp): those rounds take no time.
  const LagPs method{.skip = {.threshold = {.D = 1, .xi = 1.0}, .smoothness = {1.0, 1.0}},
                     .server = {.step = server::StepSize::constant(0.5)}};
  std::vector<Points> workers = {Points({Vector::Constant(1, 1.0)}),
                                 Points({Vector::Constant(1, 3.0)})};
  const sim::CostModel cost{.shift = 1, .latency = 1};
  const auto result =
      sim::Simulation(method, workers, Vector::Zero(1), {.rounds = 4, .cost = cost}).run();
  const std::vector<double> time{0, 3, 3, 3, 6};
  for (std::size_t k = 0; k < time.size(); ++k) CHECK(result.history.rows[k].time == time[k]);
}

TEST_CASE("CostModel: invalid parameters name themselves, their value and the allowed range",
          "[sim]") {
  using Catch::Contains;
  // Checked by the Simulation's constructor through Options::validate().
  const auto refused = [](sim::CostModel cost) {
    return test::refusal([&] {
      sim::Simulation(Sgd{}, std::vector<Points>{Points({Vector::Zero(1)})}, Vector::Zero(1),
                      {.cost = cost});
    });
  };
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  CHECK_THAT(refused({.shift = -1}), Contains("cost.shift = -1: must be >= 0 and finite"));
  CHECK_THAT(refused({.shift = nan}), Contains("cost.shift = nan: must be >= 0 and finite"));
  CHECK_THAT(refused({.exp_mean = -1}), Contains("cost.exp_mean = -1: must be >= 0 and finite"));
  CHECK_THAT(refused({.exp_mean = inf}), Contains("cost.exp_mean = inf: must be >= 0 and finite"));
  CHECK_THAT(refused({.bandwidth_up = 0}),
             Contains("cost.bandwidth_up = 0: must be > 0 (may be infinite)"));
  CHECK_THAT(refused({.bandwidth_up = nan}), Contains("cost.bandwidth_up = nan: must be > 0"));
  CHECK_THAT(refused({.bandwidth_down = -1}),
             Contains("cost.bandwidth_down = -1: must be > 0 (may be infinite)"));
  CHECK_THAT(refused({.bandwidth_down = nan}), Contains("cost.bandwidth_down = nan: must be > 0"));
  CHECK_THAT(refused({.latency = -1}), Contains("cost.latency = -1: must be >= 0 and finite"));
  CHECK_THAT(refused({.latency = nan}), Contains("cost.latency = nan: must be >= 0 and finite"));
  CHECK_THAT(refused({.links = static_cast<sim::CostModel::Links>(2)}),
             Contains("cost.links = 2: must be parallel or shared"));
  CHECK(refused({.shift = 0,
                 .exp_mean = 0,
                 .bandwidth_up = 5e-324,
                 .bandwidth_down = inf,
                 .latency = 0,
                 .links = sim::CostModel::Links::shared}) == "accepted");
}
