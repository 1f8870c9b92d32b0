#include <laconic/methods.hpp>
#include <laconic/runtime/simulation.hpp>
#include <laconic/runtime/spec.hpp>

#include <catch2/catch.hpp>

#include "runtime/fixtures.hpp"
#include "support.hpp"

#include <string>

// The one instantiation every test file shares (LACONIC_RUNTIME_SIMULATION_EXTERN, set for
// the tests in tests/CMakeLists.txt): its seven compositions are compiled here only.
template class laconic::runtime::Simulation<laconic::runtime::Objective>;

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

// The method `text` specifies, run as the compile-time method `fixed`: the same run,
// checkpoints included.
template <class Fixed>
void check_spec(const Fixed& fixed, const std::string& text, const std::string& name) {
  INFO(text);
  test::check_same_run(fixed, runtime::read_method(text, {"test"}), name);
}

const std::string sgd_text = "sgd(step=0.5, batch=10)";

}  // namespace

TEST_CASE("every named method, chosen by its specification, runs as its compile-time type",
          "[runtime]") {
  check_spec(Sgd{.server = sgd}, sgd_text, "sgd");
  check_spec(Gd{.server = {.step = server::StepSize::constant(0.5)}}, "sgd(step=constant(0.5))",
             "gd");
  check_spec(CompressedSgd<compress::RandK>{.uplink = {.k = 2, .scaled = true}, .server = sgd},
             "rand_k(k=2, scaled=true) + " + sgd_text, "rand_k");
  check_spec(Qsgd{.uplink = {.levels = 7}, .server = sgd}, "qsgd(7) + " + sgd_text, "qsgd");
  check_spec(
      Ef21<compress::TopK>{.uplink = {.compressor = {.k = 2},
                                      .start = compress::Markov<compress::TopK>::Start::exact},
                           .server = sgd},
      "markov(top_k(k=2), start=exact) + " + sgd_text, "ef21");

  const server::PeriodicAverage::Params local{.step = server::StepSize::constant(0.3),
                                              .batch = server::Batch::of(10),
                                              .local_steps = 3,
                                              .participation = server::Participation::sample(2)};
  const std::string local_text =
      "periodic_average(step=0.3, batch=10, local_steps=3, participation=sample(2))";
  check_spec(EfSgd<compress::TopK>{.uplink = {.compressor = {.k = 2}}, .server = local},
             "error_feedback(top_k(2)) + " + local_text, "ef_sgd");
  check_spec(LocalSgd{.server = local}, local_text, "local_sgd");
  check_spec(FedPaq{.uplink = {.levels = 1}, .server = local}, "qsgd(levels=1) + " + local_text,
             "fedpaq");

  check_spec(LagWk{.server = sgd}, "lag-wk + " + sgd_text, "lag_wk");
  check_spec(LagPs{.skip = {.threshold = {.D = 5, .xi = 0.5}}, .server = sgd},
             "lag-ps(D=5, xi=0.5) + " + sgd_text, "lag_ps");
  const compress::Markov<compress::Uniform>::Params bits4{.compressor = {.bits = 4}};
  check_spec(Laq{.skip = {.t_bar = 20}, .uplink = bits4, .server = sgd},
             "laq(t_bar=20) + markov(uniform(bits=4)) + " + sgd_text, "laq");
  check_spec(Qgd{.uplink = bits4, .server = sgd}, "markov(uniform(4)) + " + sgd_text, "qgd");
  check_spec(LasgWk1{.skip = lasg, .server = sgd}, "lasg-wk1(D=10, d_max=5) + " + sgd_text,
             "lasg_wk1");
  check_spec(LasgWk2{.skip = lasg, .server = sgd}, "lasg-wk2(D=10, d_max=5) + " + sgd_text,
             "lasg_wk2");
  check_spec(LasgPs{.skip = {.threshold = lasg}, .server = sgd},
             "lasg-ps(D=10, d_max=5) + " + sgd_text, "lasg_ps");
  check_spec(LasgPse{.skip = {.threshold = lasg, .initial_estimate = 1}, .server = sgd},
             "lasg-pse(D=10, d_max=5, initial_estimate=1) + " + sgd_text, "lasg_pse");
  check_spec(Laqsg<skip::LasgWk2>{.skip = lasg, .uplink = {.levels = 7}, .server = sgd},
             "lasg-wk2(D=10, d_max=5) + qsgd(levels=7) + " + sgd_text, "laqsg");

  const server::Amsgrad::Params adam{.step = server::StepSize::constant(0.05),
                                     .batch = server::Batch::of(10)};
  const std::string adam_text = "amsgrad(step=0.05, batch=10)";
  check_spec(Amsgrad{.server = adam}, adam_text, "amsgrad");
  check_spec(CdAdam<>{.server = adam, .float_bits = 32},
             adam_text + " + markov(scaled_sign) + down:markov(scaled_sign) + float_bits=32",
             "cdadam");
  const compress::ErrorFeedback<compress::TopK>::Params ef_top2{.compressor = {.k = 2}};
  check_spec(AmsgradEf<compress::TopK>{.uplink = ef_top2, .server = adam, .downlink = ef_top2},
             adam_text + " + error_feedback(top_k(k=2)) + downlink:error_feedback(top_k(k=2))",
             "amsgrad_ef");
  check_spec(AmsgradNaive<>{.server = adam}, adam_text + " + scaled_sign + down:scaled_sign",
             "amsgrad_naive");
}

TEST_CASE("a specification reads every kind of value", "[runtime]") {
  // Server parameters of every kind, in any order of the items, with spaces and hyphens.
  using Fixed = Method<skip::LasgWk2, compress::RandK, server::Sgd, compress::Fp16>;
  const Fixed fixed{.skip = {.D = 10, .d_max = 5, .c = 2.5},
                    .uplink = {.fraction = 0.5, .shared_seed = true},
                    .server = {.step = server::StepSize::inverse_time(0.5, 20),
                               .batch = server::Batch::share(0.05),
                               .participation = server::Participation::all()},
                    .float_bits = 32,
                    .paper_index_bits = 32};
  check_spec(fixed,
             "  float_bits = 32 + down : fp16 + sgd( step = inverse-time(0.5, k0=20), "
             "batch=fraction(0.05), participation=all ) + lasg-wk2(10, 5, 2.5) + "
             "rand-k(fraction=0.5, shared-seed=true) + paper_index_bits=32",
             "every_kind");
  // The defaults: plain SGD on exact links.
  check_spec(Sgd{}, "sgd", "defaults");
}

// Methods built in C++ from the runtime policies.
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
  const auto logistic = test::logistic_workers(4, 200, 6);
  const std::vector<runtime::Objective> workers(logistic.begin(), logistic.end());
  const runtime::Method lazy_local{.skip = rule<skip::LasgWk2>(),
                                   .server = server::PeriodicAverage::Params{.local_steps = 2}};
  const std::string why =
      test::refusal([&] { runtime::Simulation<>(lazy_local, workers, Vector::Zero(6)); });
  // The rule as given: c is resolved only when a rule starts.
  CHECK_THAT(why, Catch::StartsWith("invalid parameter skip = lasg_wk2(D=100, d_max=10, c=auto): "
                                    "must be never"));
  CHECK_THAT(why, Catch::Contains("must be never when the server update takes local steps "
                                  "(periodic_average("));
  CHECK_THAT(why, Catch::EndsWith(LACONIC_WHY_NO_SKIP_RULE_WITH_LOCAL_STEPS));
  // A server-side rule too; and the same rules with a gradient server run.
  const runtime::Method lazy_local_ps{.skip = rule<skip::LasgPs>(),
                                      .server = server::PeriodicAverage::Params{}};
  CHECK_THAT(test::refusal([&] { runtime::Simulation<>(lazy_local_ps, workers, Vector::Zero(6)); }),
             Catch::StartsWith("invalid parameter skip = lasg_ps("));
  const runtime::Method lazy{.skip = rule<skip::LasgWk2>()};
  CHECK(test::refusal([&] { runtime::Simulation<>(lazy, workers, Vector::Zero(6)); }) ==
        "accepted");
}

TEST_CASE("a method chosen at run time names its invalid parameters by their path", "[runtime]") {
  const auto logistic = test::logistic_workers(4, 200, 6);
  const std::vector<runtime::Objective> workers(logistic.begin(), logistic.end());
  const runtime::Method wide{.uplink = channel<compress::TopK>({.k = 7})};
  CHECK_THAT(test::refusal([&] { runtime::Simulation<>(wide, workers, Vector::Zero(6)); }),
             Catch::Contains("invalid parameter uplink.top_k.k = 7"));
  const runtime::Method slow{.server = server::Amsgrad::Params{.beta1 = 1.5}};
  CHECK_THAT(test::refusal([&] { runtime::Simulation<>(slow, workers, Vector::Zero(6)); }),
             Catch::Contains("invalid parameter server.beta1 = 1.5"));
  const runtime::Method narrow{.float_bits = 16};
  CHECK_THAT(test::refusal([&] { runtime::Simulation<>(narrow, workers, Vector::Zero(6)); }),
             Catch::Contains("float_bits = 16"));
}
