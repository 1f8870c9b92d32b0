#include <laconic/methods.hpp>
#include <laconic/runtime/simulation.hpp>

#include <catch2/catch.hpp>

#include "runtime/fixtures.hpp"
#include "support.hpp"

#include <string>

using namespace laconic;
using runtime::channel;
using runtime::rule;

namespace {

const server::Sgd::Params sgd{.step = server::StepSize::constant(0.5),
                              .batch = server::Batch::of(10)};
const skip::LasgThreshold lasg{.D = 10, .d_max = 5};

// The named method `fixed`, the same method chosen at run time by `chosen` (uplink, skip rule
// and downlink from the fixed method's types): the same run, checkpoints included.
template <class Fixed>
void check_named(const Fixed& fixed, runtime::Method chosen, const std::string& name) {
  chosen.float_bits = fixed.float_bits;
  test::check_same_run(fixed, chosen, name);
}

}  // namespace

// Every named method, chosen by its specification, is checked in spec.cpp; here, methods built
// in C++ from the runtime policies.
TEST_CASE("methods chosen at run time in C++ run as their compile-time types, bit for bit",
          "[runtime]") {
  check_named(Sgd{.server = sgd}, {.server = sgd}, "sgd");
  const compress::Markov<compress::TopK>::Params top2{
      .compressor = {.k = 2}, .start = compress::Markov<compress::TopK>::Start::exact};
  check_named(Ef21<compress::TopK>{.uplink = top2, .server = sgd},
              {.uplink = channel<compress::Markov<compress::TopK>>(top2), .server = sgd}, "ef21");
  const server::PeriodicAverage::Params local{.step = server::StepSize::constant(0.3),
                                              .batch = server::Batch::of(10),
                                              .local_steps = 3,
                                              .participation = server::Participation::sample(2)};
  check_named(FedPaq{.uplink = {.levels = 1}, .server = local},
              {.uplink = channel<compress::Qsgd>({.levels = 1}), .server = local}, "fedpaq");
  // LAG-PS reads each worker's L_m from its objective, through runtime::Objective.
  check_named(LagPs{.server = sgd}, {.skip = rule<skip::LagPs>(), .server = sgd}, "lag_ps");
  check_named(LasgWk2{.skip = lasg, .server = sgd},
              {.skip = rule<skip::LasgWk2>(lasg), .server = sgd}, "lasg_wk2");
  // CD-Adam on 32-bit links with the paper's 32-bit indices (the default of AMSGrad's
  // methods, chosen or fixed).
  const server::Amsgrad::Params adam{.step = server::StepSize::constant(0.05),
                                     .batch = server::Batch::of(10)};
  check_named(CdAdam<>{.server = adam, .float_bits = 32},
              {.uplink = channel<compress::Markov<compress::ScaledSign>>(),
               .server = adam,
               .downlink = channel<compress::Markov<compress::ScaledSign>>()},
              "cdadam");
}

TEST_CASE("a skip rule with local steps is refused at run time for the compile-time reason",
          "[runtime]") {
  const auto workers = test::logistic_workers(4, 200, 6);
  const runtime::Method lazy_local{.skip = rule<skip::LasgWk2>(),
                                   .server = server::PeriodicAverage::Params{.local_steps = 2}};
  const std::string why = test::refusal(
      [&] { runtime::Simulation<objective::Logistic>(lazy_local, workers, Vector::Zero(6)); });
  CHECK_THAT(why, Catch::StartsWith("invalid parameter skip = lasg_wk2("));
  CHECK_THAT(why, Catch::Contains("must be never when the server update takes local steps "
                                  "(periodic_average("));
  CHECK_THAT(why, Catch::EndsWith(LACONIC_WHY_NO_SKIP_RULE_WITH_LOCAL_STEPS));
  // A server-side rule too; and the same rules with a gradient server run.
  const runtime::Method lazy_local_ps{.skip = rule<skip::LasgPs>(),
                                      .server = server::PeriodicAverage::Params{}};
  CHECK_THAT(test::refusal([&] {
               runtime::Simulation<objective::Logistic>(lazy_local_ps, workers, Vector::Zero(6));
             }),
             Catch::StartsWith("invalid parameter skip = lasg_ps("));
  const runtime::Method lazy{.skip = rule<skip::LasgWk2>()};
  CHECK(test::refusal([&] {
          runtime::Simulation<objective::Logistic>(lazy, workers, Vector::Zero(6));
        }) == "accepted");
}

TEST_CASE("a method chosen at run time names its invalid parameters by their path", "[runtime]") {
  const auto workers = test::logistic_workers(4, 200, 6);
  const runtime::Method wide{.uplink = channel<compress::TopK>({.k = 7})};
  CHECK_THAT(test::refusal(
                 [&] { runtime::Simulation<objective::Logistic>(wide, workers, Vector::Zero(6)); }),
             Catch::Contains("invalid parameter uplink.top_k.k = 7"));
  const runtime::Method slow{.server = server::Amsgrad::Params{.beta1 = 1.5}};
  CHECK_THAT(test::refusal(
                 [&] { runtime::Simulation<objective::Logistic>(slow, workers, Vector::Zero(6)); }),
             Catch::Contains("invalid parameter server.beta1 = 1.5"));
  const runtime::Method narrow{.float_bits = 16};
  CHECK_THAT(test::refusal([&] {
               runtime::Simulation<objective::Logistic>(narrow, workers, Vector::Zero(6));
             }),
             Catch::Contains("float_bits = 16"));
}
