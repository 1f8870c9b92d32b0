#include <laconic/methods.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "skip/fixtures.hpp"
#include "support.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace laconic;
using objective::Logistic;
using test::logistic_workers;

namespace {

constexpr Index M = 4, n = 400, p = 6;

struct Plain {
  Vector theta;
  std::uint64_t uploads = 0;
};

// LAQ as docs/skip-rules.md writes it, with the library's Uniform grid as the quantizer:
// Q_new = Q_ref + Q(∇f_m − Q_ref); skip iff ‖Q_ref − Q_new‖² ≤ RHS + 3(‖ε‖² + ‖ε̂‖²) and
// t_m ≤ t̄, with the LAQ code's warm-up ξ = 0.8/min(k, D).
Plain plain_laq(std::vector<Logistic> workers, int bits, double eta, Index D, Index t_bar,
                Index rounds) {
  const compress::Uniform quantizer({.bits = bits});
  RandomStream unused(0, Purpose::user);
  test::PlainServer server(M, p, D, eta);
  std::vector<Vector> q_ref(M, Vector::Zero(p));
  std::vector<double> error_at_upload(M, 0.0);
  std::vector<Index> t(M, 1);
  Vector g(p), dq(p);
  Plain out;
  for (Index k = 0; k < rounds; ++k) {
    const double xi = 0.8 / static_cast<double>(std::max<Index>(1, std::min(k, D)));
    const double rhs = xi / (eta * eta) * server.window_sum();
    Vector sum = Vector::Zero(p);
    for (Index m = 0; m < M; ++m) {
      workers[static_cast<std::size_t>(m)].full_gradient(server.theta, g);
      quantizer.compress(g - q_ref[m], dq, unused);
      const Vector q_new = q_ref[m] + dq;
      const double error = (g - q_new).squaredNorm();
      const bool skip =
          (q_ref[m] - q_new).squaredNorm() <= rhs + 3 * (error + error_at_upload[m]) &&
          t[m] <= t_bar;
      if (skip) {
        ++t[m];
        continue;
      }
      sum += q_new - q_ref[m];
      q_ref[m] = q_new;
      error_at_upload[m] = error;
      t[m] = 1;
      ++out.uploads;
    }
    server.update(sum);
  }
  out.theta = server.theta;
  return out;
}

Laq laq(int bits, double eta, Index D, Index t_bar) {
  return Laq{.skip = {.threshold = {.D = D}, .t_bar = t_bar},
             .uplink = {.compressor = {.bits = bits}},
             .server = {.step = server::StepSize::constant(eta)}};
}

}  // namespace

TEST_CASE("LAQ equals a plain transcription of criterion (7a)/(7b)", "[skip]") {
  const auto workers = logistic_workers(M, n, p);
  const double eta = 1 / test::largest_smoothness(workers);
  const Index rounds = 300;
  for (int bits : {2, 4, 8}) {
    const auto run = sim::Simulation(laq(bits, eta, 10, 100), workers, Vector::Zero(p),
                                     {.rounds = rounds, .record_every = rounds})
                         .run();
    const Plain plain = plain_laq(workers, bits, eta, 10, 100, rounds);
    INFO("bits " << bits << ": " << plain.uploads << " uploads");
    CHECK(run.ledger.total().uploads == plain.uploads);
    CHECK((run.theta - plain.theta).norm() <= 1e-12 * plain.theta.norm());
    CHECK(plain.uploads < M * rounds / 2);
    // Each upload is R and b bits a coordinate: LAQ's 32 + b·p bits, sent with R exact.
    CHECK(run.ledger.total().up.total() == plain.uploads * (64 + bits * p));
    CHECK(run.ledger.total().up.paper == plain.uploads * (32 + bits * p));
  }
}

TEST_CASE("LAQ uploads after t_bar skips in a row", "[skip]") {
  // A huge c makes (7a) always hold after the first round, so only (7b) uploads:
  // k = 0, then every t̄ + 1 rounds.
  const Index t_bar = 4, rounds = 23;  // uploads at k = 0, 5, 10, 15, 20
  Laq method = laq(4, 0.1, 10, t_bar);
  method.skip.threshold.c = 1e300;
  const auto run =
      sim::Simulation(method, logistic_workers(M, n, p), Vector::Zero(p), {.rounds = rounds}).run();
  CHECK(run.ledger.total().uploads == M * 5);
}

TEST_CASE("without quantization error and warm-up averaging, LAQ is LAG-WK", "[skip]") {
  const auto workers = logistic_workers(M, n, p);
  const double eta = 1 / test::largest_smoothness(workers);
  using ExactLaq = Method<skip::Laq, compress::Identity, server::Sgd>;
  const ExactLaq laq_exact{
      .skip = {.threshold = {.D = 10, .xi = 0.1}, .t_bar = 1000, .average_warmup = false},
      .server = {.step = server::StepSize::constant(eta)}};
  const LagWk lag{.skip = {.D = 10, .xi = 0.1},
                  .server = {.step = server::StepSize::constant(eta)}};
  const sim::Options options{.rounds = 200, .record_every = 10};
  const auto a = sim::Simulation(laq_exact, workers, Vector::Zero(p), options).run();
  const auto b = sim::Simulation(lag, workers, Vector::Zero(p), options).run();
  CHECK(a.theta == b.theta);
  CHECK(a.ledger == b.ledger);
  CHECK(a.ledger.total().uploads < M * 200 / 2);
}

TEST_CASE("LAQ: invalid parameters name themselves, their value and the allowed range", "[skip]") {
  using Catch::Contains;
  const auto refused = [](skip::Laq::Params p) { return test::refusal([&] { skip::Laq{p}; }); };
  CHECK_THAT(refused({.t_bar = -1}), Contains("t_bar = -1: must be >= 0"));
  CHECK_THAT(refused({.error_weight = -1}), Contains("error_weight = -1: must be >= 0 and finite"));
  CHECK_THAT(refused({.error_weight = std::nan("")}), Contains("error_weight = nan: must be >= 0"));
  CHECK_THAT(refused({.threshold = {.D = 0}}), Contains("D = 0: must be >= 1"));
  CHECK_THAT(refused({.threshold = {.xi = -0.5}}), Contains("xi = -0.5: must be >= 0 and finite"));
  CHECK_THAT(refused({.threshold = {.c = std::nan("")}}), Contains("c = nan: must be >= 0"));
  CHECK(refused({.threshold = {.D = 1, .xi = 0.0, .c = 0.0},
                 .t_bar = 0,
                 .error_weight = 0,
                 .average_warmup = false}) == "accepted");
}
