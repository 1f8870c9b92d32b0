#include <laconic/methods.hpp>
#include <laconic/runtime/spec.hpp>

#include <catch2/catch.hpp>

#include "runtime/fixtures.hpp"
#include "support.hpp"

#include <string>

using namespace laconic;

namespace {

// The method `text` specifies, run as the compile-time method `fixed`: the same run,
// checkpoints included.
template <class Fixed>
void check_spec(const Fixed& fixed, const std::string& text, const std::string& name) {
  INFO(text);
  test::check_same_run(fixed, runtime::read_method(text, {"test"}), name);
}

// What reading `text` refuses, with where.
std::string refusal(const std::string& text) {
  try {
    runtime::read_method(text, {"--method"});
  } catch (const ParseError& e) {
    return e.what();
  }
  return "accepted";
}

const server::Sgd::Params sgd{.step = server::StepSize::constant(0.5),
                              .batch = server::Batch::of(10)};
const std::string sgd_text = "sgd(step=0.5, batch=10)";
const skip::LasgThreshold lasg{.D = 10, .d_max = 5};

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
