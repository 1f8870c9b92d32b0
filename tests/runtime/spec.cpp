#include <laconic/runtime/channel.hpp>
#include <laconic/runtime/skip_rule.hpp>
#include <laconic/runtime/spec.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <variant>

using namespace laconic;

// Every named method, chosen by its specification, runs as its compile-time type:
// tests/runtime/simulation.cpp. Here, what a specification sets and what it refuses.

namespace {

// What reading `text` refuses, with where.
std::string refusal(const std::string& text) {
  try {
    runtime::read_method(text, {"--method"});
  } catch (const ParseError& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace

TEST_CASE("a specification sets each policy's parameters", "[runtime]") {
  const runtime::Method m = runtime::read_method(
      " down : fp16 + lasg-wk2(10, d_max=5, c=2.5) + sgd( step = inverse-time(0.5, k0=20), "
      "batch=fraction(0.05), participation=available(0.5) ) + rand-k(k=3, shared-seed=true) + "
      "float_bits=32",
      {"test"});
  CHECK(m.float_bits == 32);
  CHECK_FALSE(m.paper_index_bits);
  const compress::Wire wire{.float_bits = 32};
  CHECK(runtime::Channel(m.uplink, wire).describe() ==
        compress::channel_t<compress::RandK>({.k = 3, .shared_seed = true}, wire).describe());
  CHECK(runtime::Channel(m.downlink, wire).describe() == compress::Fp16().describe());
  const auto& skip = std::get<runtime::WorkerRule::Params>(m.skip);
  CHECK(runtime::WorkerRule(skip).describe() ==
        skip::LasgWk2({.D = 10, .d_max = 5, .c = 2.5}).describe());
  const auto& sgd = std::get<server::Sgd::Params>(m.server);
  CHECK(sgd.step.kind == server::StepSize::Kind::inverse_time);
  CHECK(sgd.step.eta == 0.5);
  CHECK(sgd.step.k0 == 20);
  CHECK(sgd.batch.kind == server::Batch::Kind::fraction);
  CHECK(sgd.batch.fraction == 0.05);
  CHECK(sgd.participation.kind == server::Participation::Kind::available);
  CHECK(sgd.participation.probability == 0.5);

  // Bare numbers choose a kind; AMSGrad's paper counts indices as 32 bits unless told.
  const runtime::Method a =
      runtime::read_method("amsgrad(step=0.01, batch=32, participation=3, beta1=0.5)", {"test"});
  const auto& adam = std::get<server::Amsgrad::Params>(a.server);
  CHECK(adam.step.kind == server::StepSize::Kind::constant);
  CHECK(adam.step.eta == 0.01);
  CHECK(adam.batch.kind == server::Batch::Kind::samples);
  CHECK(adam.batch.samples == 32);
  CHECK(adam.participation.kind == server::Participation::Kind::sample);
  CHECK(adam.participation.count == 3);
  CHECK(adam.beta1 == 0.5);
  CHECK_FALSE(a.paper_index_bits);  // the server's default, 32, applies when the run is built
  CHECK(std::holds_alternative<skip::Never::Params>(a.skip));
  CHECK(runtime::Channel(a.uplink).describe() == compress::Identity().describe());
}

TEST_CASE("a specification that cannot be read is refused with where and why", "[runtime]") {
  CHECK(refusal("qsgd(levels=0)") ==
        "--method:1:13: invalid parameter uplink.qsgd.levels = 0: must be in 1..1048576 (2^20)");
  CHECK(refusal("qsgd(levls=3)") ==
        "--method:1:12: unknown parameter uplink.qsgd.levls: its parameters are levels, encoding");
  CHECK(refusal("qsgd(7, cheaper, 3)") ==
        "--method:1:18: uplink.qsgd takes at most 2 values in order (its parameters are levels, "
        "encoding): 3 is one too many");
  CHECK(refusal("qsgd(levels=3, levels=4)") == "--method:1:23: uplink.qsgd.levels is given twice");
  CHECK(refusal("qsgd(encoding=eliass)") ==
        "--method:1:15: invalid parameter uplink.qsgd.encoding = eliass: must be one of fixed, "
        "elias, cheaper, elias_gamma");
  CHECK(refusal("markov(top_k(k=-1))") ==
        "--method:1:16: invalid parameter uplink.top_k.k = -1: must be ≥ 1, or 0 when "
        "top_k.fraction is set");
  CHECK(refusal("markov(foo)") ==
        "--method:1:8: invalid parameter uplink.markov.compressor = foo: must be one of "
        "identity, qsgd, top_k, rand_k, scaled_sign, uniform, fp16");
  CHECK(refusal("markov") ==
        "--method:1:1: uplink.markov needs the compressor it wraps, e.g. markov(top_k(k=1))");
  CHECK(refusal("sgd(step=constant(eta=-1))") ==
        "--method:1:23: invalid parameter server.step.eta = -1: must be positive and finite");
  CHECK(refusal("sgd(step=inverse_time(mu=1))") ==
        "--method:1:26: unknown parameter server.step.mu: its parameters are eta, k0");
  CHECK(refusal("sgd(batch=0.5)") ==
        "--method:1:11: invalid parameter server.batch.samples = 0.5: must be an integer");
  CHECK(refusal("sgd(batch=some)") ==
        "--method:1:11: invalid parameter server.batch = some: must be a number or one of full, "
        "samples, fraction (with its parameters)");
  CHECK(refusal("lasg_wk2(D=1e3)") ==
        "--method:1:12: invalid parameter skip.D = 1e3: must be an integer");
  CHECK(refusal("lasg_wk2(D=99999999999999999999)") ==
        "--method:1:12: invalid parameter skip.D = 99999999999999999999: must be an integer in "
        "[-9223372036854775808, 9223372036854775807]");
  CHECK(refusal("laq(average_warmup=yes)") ==
        "--method:1:20: invalid parameter skip.average_warmup = yes: must be true or false");
  CHECK(refusal("lag_ps(smoothness=[1, 2, x])") ==
        "--method:1:26: invalid parameter skip.smoothness[2] = x: must be a number");
  CHECK(refusal("lag_ps(smoothness=2)") ==
        "--method:1:19: invalid parameter skip.smoothness = 2: must be a list, e.g. [1, 2]");
  CHECK(refusal("top_k(1) + top_k(2)") ==
        "--method:1:12: a second uplink (top_k(2), after top_k(1)): write down:NAME for a "
        "channel on the downlink");
  CHECK(refusal("lasg_wk2 + foo") ==
        "--method:1:12: unknown policy 'foo': not a skip rule, channel or server update (the "
        "names are in docs/running-experiments.md)");
  CHECK(refusal("side:qsgd") ==
        "--method:1:1: unknown slot 'side': must be skip, uplink (up), server, downlink (down), "
        "float_bits or paper_index_bits");
  CHECK(refusal("skip:qsgd") ==
        "--method:1:6: invalid parameter skip = qsgd: must be a skip rule: one of lag_wk, "
        "lag_ps, laq, lasg_wk1, lasg_wk2, lasg_ps, lasg_pse, never");
  CHECK(refusal("lasg_wk2 + float_bits=16") ==
        "--method:1:23: invalid parameter float_bits = 16: must be 32 or 64");
  CHECK(refusal("qsgd(7") == "--method:1:7: expected ',' or ')', found the end");
  CHECK(refusal("qsgd(7) qsgd") ==
        "--method:1:9: expected the end of the specification or '+', found 'qsgd'");
  CHECK(refusal("+") == "--method:1:1: expected a name, found '+'");
  // The compile-time check's reason, at the skip rule.
  const std::string lazy_local = refusal("periodic_average(local_steps=3) + lasg_wk2");
  CHECK_THAT(lazy_local, Catch::StartsWith("--method:1:35: invalid parameter skip = lasg_wk2("));
  CHECK_THAT(lazy_local, Catch::EndsWith(LACONIC_WHY_NO_SKIP_RULE_WITH_LOCAL_STEPS));
  // Where a specification begins elsewhere (a line of a file), its columns count from there.
  try {
    runtime::read_method("qsgd(0)", {"exp.toml", 12, 9});
    FAIL("accepted");
  } catch (const ParseError& e) {
    CHECK(e.file() == "exp.toml");
    CHECK(e.line() == 12);
    CHECK(e.column() == 14);
  }
}
