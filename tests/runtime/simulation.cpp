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

TEST_CASE("every named method chosen at run time runs as its compile-time type, bit for bit",
          "[runtime]") {
  check_named(Sgd{.server = sgd}, {.server = sgd}, "sgd");
  const compress::RandK::Params rand2{.k = 2, .scaled = true};
  check_named(CompressedSgd<compress::RandK>{.uplink = rand2, .server = sgd},
              {.uplink = channel<compress::RandK>(rand2), .server = sgd}, "rand_k");
  check_named(Qsgd{.uplink = {.levels = 7}, .server = sgd},
              {.uplink = channel<compress::Qsgd>({.levels = 7}), .server = sgd}, "qsgd");
  const compress::Markov<compress::TopK>::Params top2{
      .compressor = {.k = 2}, .start = compress::Markov<compress::TopK>::Start::exact};
  check_named(Ef21<compress::TopK>{.uplink = top2, .server = sgd},
              {.uplink = channel<compress::Markov<compress::TopK>>(top2), .server = sgd}, "ef21");

  const server::PeriodicAverage::Params local{.step = server::StepSize::constant(0.3),
                                              .batch = server::Batch::of(10),
                                              .local_steps = 3,
                                              .participation = server::Participation::sample(2)};
  check_named(EfSgd<compress::TopK>{.uplink = {.compressor = {.k = 2}}, .server = local},
              {.uplink = channel<compress::ErrorFeedback<compress::TopK>>({.compressor = {.k = 2}}),
               .server = local},
              "ef_sgd");
  check_named(LocalSgd{.server = local}, {.server = local}, "local_sgd");
  check_named(FedPaq{.uplink = {.levels = 1}, .server = local},
              {.uplink = channel<compress::Qsgd>({.levels = 1}), .server = local}, "fedpaq");

  check_named(LagWk{.server = sgd}, {.skip = rule<skip::LagWk>(), .server = sgd}, "lag_wk");
  // LAG-PS reads each worker's L_m from its objective, through runtime::Objective.
  check_named(LagPs{.server = sgd}, {.skip = rule<skip::LagPs>(), .server = sgd}, "lag_ps");
  const compress::Markov<compress::Uniform>::Params bits4{.compressor = {.bits = 4}};
  check_named(Laq{.uplink = bits4, .server = sgd},
              {.skip = rule<skip::Laq>(),
               .uplink = channel<compress::Markov<compress::Uniform>>(bits4),
               .server = sgd},
              "laq");
  check_named(Qgd{.uplink = bits4, .server = sgd},
              {.uplink = channel<compress::Markov<compress::Uniform>>(bits4), .server = sgd},
              "qgd");
  check_named(LasgWk1{.skip = lasg, .server = sgd},
              {.skip = rule<skip::LasgWk1>(lasg), .server = sgd}, "lasg_wk1");
  check_named(LasgWk2{.skip = lasg, .server = sgd},
              {.skip = rule<skip::LasgWk2>(lasg), .server = sgd}, "lasg_wk2");
  check_named(LasgPs{.skip = {.threshold = lasg}, .server = sgd},
              {.skip = rule<skip::LasgPs>({.threshold = lasg}), .server = sgd}, "lasg_ps");
  check_named(LasgPse{.skip = {.threshold = lasg}, .server = sgd},
              {.skip = rule<skip::LasgPse>({.threshold = lasg}), .server = sgd}, "lasg_pse");
  check_named(Laqsg<skip::LasgWk2>{.skip = lasg, .uplink = {.levels = 7}, .server = sgd},
              {.skip = rule<skip::LasgWk2>(lasg),
               .uplink = channel<compress::Qsgd>({.levels = 7}),
               .server = sgd},
              "laqsg");

  // CD-Adam and its baselines, on 32-bit links with the paper's 32-bit indices (the default
  // of AMSGrad's methods, chosen or fixed).
  const server::Amsgrad::Params adam{.step = server::StepSize::constant(0.05),
                                     .batch = server::Batch::of(10)};
  check_named(Amsgrad{.server = adam}, {.server = adam}, "amsgrad");
  check_named(CdAdam<>{.server = adam, .float_bits = 32},
              {.uplink = channel<compress::Markov<compress::ScaledSign>>(),
               .server = adam,
               .downlink = channel<compress::Markov<compress::ScaledSign>>()},
              "cdadam");
  const compress::ErrorFeedback<compress::TopK>::Params ef_top2{.compressor = {.k = 2}};
  check_named(
      AmsgradEf<compress::TopK>{
          .uplink = ef_top2, .server = adam, .downlink = ef_top2, .float_bits = 32},
      {.uplink = channel<compress::ErrorFeedback<compress::TopK>>(ef_top2),
       .server = adam,
       .downlink = channel<compress::ErrorFeedback<compress::TopK>>(ef_top2)},
      "amsgrad_ef");
  check_named(AmsgradNaive<>{.server = adam},
              {.uplink = channel<compress::ScaledSign>(),
               .server = adam,
               .downlink = channel<compress::ScaledSign>()},
              "amsgrad_naive");
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
