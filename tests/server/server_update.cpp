#include <laconic/server/sgd.hpp>

#include <catch2/catch.hpp>

#include "support.hpp"

#include <cmath>
#include <limits>

using namespace laconic;
using server::Batch;
using server::StepSize;

TEST_CASE(
    "StepSize and Batch: invalid parameters name themselves, their value and the allowed range",
    "[server]") {
  using Catch::Contains;
  // Validated by every server update's constructor; Sgd stands for them all.
  const auto step = [](StepSize s) { return test::refusal([&] { server::Sgd{{.step = s}}; }); };
  const auto batch = [](Batch b) { return test::refusal([&] { server::Sgd{{.batch = b}}; }); };
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  CHECK_THAT(step(StepSize::constant(0)), Contains("step.eta = 0: must be positive and finite"));
  CHECK_THAT(step(StepSize::constant(nan)), Contains("step.eta = nan: must be positive"));
  CHECK_THAT(step(StepSize::constant(inf)), Contains("step.eta = inf: must be positive"));
  CHECK_THAT(step(StepSize::inverse_time(-1, 10)), Contains("step.eta = -1: must be positive"));
  CHECK_THAT(step(StepSize::inverse_time(0.1, 0)), Contains("step.k0 = 0: must be positive"));
  CHECK_THAT(step(StepSize::inverse_time(0.1, nan)), Contains("step.k0 = nan: must be positive"));
  CHECK_THAT(step(StepSize::strongly_convex(-2, 1)), Contains("step.mu = -2: must be positive"));
  CHECK_THAT(step(StepSize::strongly_convex(1, nan)), Contains("step.K0 = nan: must be positive"));
  CHECK_THAT(step({.kind = static_cast<StepSize::Kind>(3)}),
             Contains("step.kind = 3: must be constant, inverse_time or strongly_convex"));
  CHECK(step(StepSize::constant(5e-324)) == "accepted");
  CHECK(step(StepSize::inverse_time(1e-3, 1e-3)) == "accepted");
  CHECK(step(StepSize::strongly_convex(1e-3, 1e-3)) == "accepted");

  CHECK_THAT(batch(Batch::of(0)), Contains("batch.samples = 0: must be >= 1"));
  CHECK_THAT(batch(Batch::share(0)), Contains("batch.fraction = 0: must be in (0, 1]"));
  CHECK_THAT(batch(Batch::share(1.5)), Contains("batch.fraction = 1.5: must be in (0, 1]"));
  CHECK_THAT(batch(Batch::share(nan)), Contains("batch.fraction = nan: must be in (0, 1]"));
  CHECK_THAT(batch({.kind = static_cast<Batch::Kind>(3)}),
             Contains("batch.kind = 3: must be full, samples or fraction"));
  CHECK(batch(Batch::of(1)) == "accepted");
  CHECK(batch(Batch::share(1)) == "accepted");
  CHECK(batch(Batch::full()) == "accepted");
}
