#include <laconic/methods.hpp>
#include <laconic/runtime/channel.hpp>
#include <laconic/runtime/skip_rule.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "runtime/fixtures.hpp"
#include "support.hpp"

#include <string>

using namespace laconic;

namespace {

template <class R, class Uplink = compress::Identity>
void check_rule(const typename R::Params& params, const std::string& name,
                const typename Uplink::Params& uplink = {}) {
  const server::Sgd::Params sgd{.step = server::StepSize::constant(0.5)};
  const Method<R, Uplink, server::Sgd> fixed{.skip = params, .uplink = uplink, .server = sgd};
  Method<runtime::rule_for<R>, Uplink, server::Sgd> chosen{.uplink = uplink, .server = sgd};
  chosen.skip = runtime::rule<R>(params);
  const sim::RunResult run = test::check_same_run(fixed, chosen, name);
  CHECK(run.ledger.total().uploads < 4 * 40);  // the rule skipped
}

}  // namespace

TEST_CASE("a skip rule chosen at run time decides as the chosen type, bit for bit", "[runtime]") {
  const skip::LasgThreshold lasg{.D = 10, .d_max = 5};
  check_rule<skip::LagWk>({}, "lag_wk");
  check_rule<skip::LasgWk1>(lasg, "lasg_wk1");
  check_rule<skip::LasgWk2>(lasg, "lasg_wk2");
  check_rule<skip::Laq, compress::Markov<compress::Uniform>>({}, "laq",
                                                             {.compressor = {.bits = 4}});
  check_rule<skip::LagPs>({}, "lag_ps");
  check_rule<skip::LasgPs>({.threshold = lasg}, "lasg_ps");
  check_rule<skip::LasgPse>({.threshold = lasg}, "lasg_pse");
}

TEST_CASE("LAQ with its rule and its channel both chosen at run time is LAQ", "[runtime]") {
  const Laq laq{.uplink = {.compressor = {.bits = 4}},
                .server = {.step = server::StepSize::constant(0.5)}};
  Method<runtime::WorkerRule, runtime::Channel, server::Sgd> chosen{.server = laq.server};
  chosen.skip = runtime::rule<skip::Laq>(laq.skip);
  chosen.uplink = runtime::channel<compress::Markov<compress::Uniform>>(laq.uplink);
  test::check_same_run(laq, chosen, "laq_all_runtime");
}

TEST_CASE("a runtime skip rule must be chosen", "[runtime]") {
  CHECK_THAT(test::refusal([] { runtime::WorkerRule rule; }),
             Catch::Contains("skip = none: must be a chosen skip rule"));
  CHECK_THAT(test::refusal([] { runtime::ServerRule rule; }),
             Catch::Contains("skip = none: must be a chosen skip rule"));
}
