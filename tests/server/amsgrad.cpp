#include <laconic/methods.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "skip/fixtures.hpp"
#include "support.hpp"

#include <cmath>

#include <vector>

using namespace laconic;
using objective::Logistic;

namespace {

constexpr Index n = 5, samples = 500, p = 7, rounds = 150;
constexpr double alpha = 0.01, beta1 = 0.9, beta2 = 0.99, nu = 1e-8;

// CD-Adam's Algorithm 1 with full gradients, written out: Markov compression of each worker's
// gradient up and of the server's aggregate down, then AMSGrad on every worker. `compress`
// is C (the identity for plain AMSGrad). The server's ĝ_t is computed as (1/n) Σ ĝ_t^(i),
// which is the paper's recursion ĝ_t = ĝ_{t−1} + (1/n) Σ c_t^(i) in exact arithmetic.
template <class C>
Vector plain_cd_adam(std::vector<Logistic> workers, const C& compress) {
  RandomStream unused(0, Purpose::user);
  std::vector<Vector> g_hat(n, Vector::Zero(p));
  Vector x = Vector::Zero(p), g(p), c(p), server_g_hat(p), g_tilde = Vector::Zero(p);
  Vector m = Vector::Zero(p), v = Vector::Zero(p), v_hat = Vector::Zero(p);
  for (Index t = 0; t < rounds; ++t) {
    server_g_hat.setZero();
    for (Index i = 0; i < n; ++i) {
      workers[static_cast<std::size_t>(i)].full_gradient(x, g);
      compress(Vector(g - g_hat[i]), c, unused);
      g_hat[i] += c;
      server_g_hat += g_hat[i];
    }
    server_g_hat /= static_cast<double>(n);
    compress(Vector(server_g_hat - g_tilde), c, unused);
    g_tilde += c;
    m = beta1 * m + (1 - beta1) * g_tilde;
    v = beta2 * v + (1 - beta2) * g_tilde.cwiseAbs2();
    v_hat = v_hat.cwiseMax(v);
    x.array() -= alpha * m.array() / (v_hat.array() + nu).sqrt();
  }
  return x;
}

const server::Amsgrad::Params adam{
    .step = server::StepSize::constant(alpha), .beta1 = beta1, .beta2 = beta2, .nu = nu};

template <class Method>
sim::RunResult simulate(const Method& method) {
  return sim::Simulation(method, test::logistic_workers(n, samples, p), Vector::Zero(p),
                         {.rounds = rounds, .record_every = rounds})
      .run();
}

}  // namespace

TEST_CASE("CD-Adam equals a plain transcription of its Algorithm 1", "[server]") {
  const auto run = simulate(CdAdam<>{.server = adam});
  const auto plain = plain_cd_adam(test::logistic_workers(n, samples, p),
                                   [](const Vector& x, Vector& out, RandomStream& rng) {
                                     return compress::ScaledSign().compress(x, out, rng);
                                   });
  CHECK((run.theta - plain).norm() <= 1e-12 * plain.norm());
  // A scaled sign is 64 + p bits each way (the scale exact), per worker and round, which the
  // paper counts as 32 + p; the model is never sent.
  const Traffic& t = run.ledger.total();
  CHECK(t.uploads == n * rounds);
  CHECK(t.downloads == n * rounds);
  CHECK(t.up.total() == n * rounds * (64 + p));
  CHECK(t.down.total() == n * rounds * (64 + p));
  CHECK(t.up.paper == n * rounds * (32 + p));
  CHECK(t.down.paper == n * rounds * (32 + p));
  CHECK(run.history.rows.back().grad_norm_sq < run.history.rows.front().grad_norm_sq);
}

TEST_CASE("with exact links both ways it is distributed AMSGrad", "[server]") {
  const Amsgrad method{.server = adam};
  const auto run = simulate(method);
  const auto plain =
      plain_cd_adam(test::logistic_workers(n, samples, p), [](const Vector& x, Vector& out, auto&) {
        out = x;
        return Bits{};
      });
  CHECK((run.theta - plain).norm() <= 1e-12 * plain.norm());
  CHECK(run.ledger.total().down.total() == n * rounds * 64 * p);
}

// The "paper" count is the method's paper's: CD-Adam's Table 2 counts top-k as k values and
// k indices of 32 bits each, EF21's plots k values only.
TEST_CASE("CD-Adam's paper count includes top-k's indices, EF21's does not", "[server]") {
  constexpr Index k = 2;
  const auto cd_adam = simulate(CdAdam<compress::TopK>{
      .uplink = {.compressor = {.k = k}}, .server = adam, .downlink = {.compressor = {.k = k}}});
  const Traffic& t = cd_adam.ledger.total();
  CHECK(t.up.paper == t.uploads * 2 * 32 * k);
  CHECK(t.down.paper == t.downloads * 2 * 32 * k);
  const auto ef21 =
      sim::Simulation(Ef21<compress::TopK>{.uplink = {.compressor = {.k = k}}},
                      test::logistic_workers(n, samples, p), Vector::Zero(p), {.rounds = rounds})
          .run();
  CHECK(ef21.ledger.total().up.paper == ef21.ledger.total().uploads * 32 * k);
  // Chosen per method, and settable.
  CHECK(CdAdam<compress::TopK>{}.paper_index_bits == 32);
  CHECK(Ef21<compress::TopK>{}.paper_index_bits == 0);
  const auto counted = simulate(CdAdam<compress::TopK>{.uplink = {.compressor = {.k = k}},
                                                       .server = adam,
                                                       .downlink = {.compressor = {.k = k}},
                                                       .paper_index_bits = 0});
  CHECK(counted.ledger.total().up.paper == counted.ledger.total().uploads * 32 * k);
}

TEST_CASE("CD-Adam's baselines run and count their messages", "[server]") {
  const auto ef = simulate(AmsgradEf<>{.server = adam});
  const auto naive = simulate(AmsgradNaive<>{.server = adam});
  for (const auto* run : {&ef, &naive}) {
    REQUIRE(run->status == sim::Status::completed);
    CHECK(run->ledger.total().up.total() == n * rounds * (64 + p));
    CHECK(run->ledger.total().down.total() == n * rounds * (64 + p));
    CHECK(run->ledger.total().up.paper == n * rounds * (32 + p));
  }
}

TEST_CASE("AMSGrad: invalid parameters name themselves, their value and the allowed range",
          "[server]") {
  using Catch::Contains;
  const auto refused = [](server::Amsgrad::Params p) {
    return test::refusal([&] { server::Amsgrad{p}; });
  };
  const double nan = std::nan("");
  CHECK_THAT(refused({.beta1 = 1}), Contains("beta1 = 1: must be in [0, 1)"));
  CHECK_THAT(refused({.beta1 = -0.1}), Contains("beta1 = -0.1: must be in [0, 1)"));
  CHECK_THAT(refused({.beta1 = nan}), Contains("beta1 = nan: must be in [0, 1)"));
  CHECK_THAT(refused({.beta2 = -0.1}), Contains("beta2 = -0.1: must be in [0, 1)"));
  CHECK_THAT(refused({.beta2 = nan}), Contains("beta2 = nan: must be in [0, 1)"));
  CHECK_THAT(refused({.nu = 0}), Contains("nu = 0: must be positive and finite"));
  CHECK_THAT(refused({.nu = nan}), Contains("nu = nan: must be positive and finite"));
  CHECK_THAT(refused({.step = server::StepSize::constant(nan)}), Contains("step.eta = nan"));
  CHECK_THAT(refused({.batch = server::Batch::of(0)}), Contains("batch.samples = 0"));
  CHECK(refused({.beta1 = 0, .beta2 = 0, .nu = 5e-324}) == "accepted");
  CHECK(refused({.beta1 = std::nextafter(1.0, 0.0), .beta2 = std::nextafter(1.0, 0.0)}) ==
        "accepted");
}
