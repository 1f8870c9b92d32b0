#include <laconic/data/libsvm.hpp>
#include <laconic/methods.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "skip/fixtures.hpp"
#include "support.hpp"

#include <cmath>
#include <vector>

using namespace laconic;
using objective::Logistic;
using test::logistic_workers;
using test::PlainServer;

namespace {

constexpr Index M = 4, n = 400, p = 6, D = 10, d_max = 10;

struct Plain {
  Vector theta;
  std::uint64_t uploads = 0;
  std::uint64_t downloads = 0;
  std::uint64_t gradients = 0;  // full local gradients evaluated
};

enum class Rule { wk1, wk2, ps, pse };

// Algorithms 1–4 of the LASG paper with full local gradients, as docs/skip-rules.md writes
// them: one loop, no library types beyond the objectives.
Plain plain_lasg(Rule rule, std::vector<Logistic> workers, double eta, Index rounds) {
  const double c = 1 / (eta * eta);
  PlainServer server(M, p, d_max, eta);
  std::vector<Vector> g_old(M, Vector::Zero(p)), theta_old(M, Vector::Zero(p)),
      delta_old(M, Vector::Zero(p));
  std::vector<Index> tau(M, D);
  std::vector<double> l_hat(M, 0.0);
  Vector snapshot = Vector::Zero(p), g(p), g_check(p);
  Plain out;
  for (Index k = 0; k < rounds; ++k) {
    const double rhs = c / d_max * server.window_sum();
    if (rule == Rule::wk1 && k % D == 0) snapshot = server.theta;
    Vector sum = Vector::Zero(p);
    for (Index m = 0; m < M; ++m) {
      Logistic& w = workers[static_cast<std::size_t>(m)];
      const Vector& theta = server.theta;
      bool up = false;
      if (rule == Rule::ps || rule == Rule::pse) {
        const double l = rule == Rule::ps ? w.smoothness() : l_hat[m];
        const bool contact = tau[m] >= D || l * l * (theta - theta_old[m]).squaredNorm() > rhs;
        if (!contact) {
          ++tau[m];
          continue;
        }
        ++out.downloads;
        w.full_gradient(theta, g);
        ++out.gradients;
        if (rule == Rule::pse && k > 0 && (theta - theta_old[m]).norm() > 0) {
          w.full_gradient(theta_old[m], g_check);
          ++out.gradients;
          const double ratio = (g - g_check).norm() / (theta - theta_old[m]).norm();
          l_hat[m] = std::max(l_hat[m], ratio);
        }
        up = true;
      } else {
        ++out.downloads;
        w.full_gradient(theta, g);
        ++out.gradients;
        if (rule == Rule::wk2) {
          if (tau[m] >= D) {
            up = true;
          } else {
            w.full_gradient(theta_old[m], g_check);
            ++out.gradients;
            up = (g - g_check).squaredNorm() > rhs;
          }
        } else if (k % D == 0) {  // WK1: θ̃ = θ^k, so δ̃ = 0, and the upload is forced
          delta_old[m].setZero();
          up = true;
        } else {
          w.full_gradient(snapshot, g_check);
          ++out.gradients;
          const Vector delta = g - g_check;
          up = (delta - delta_old[m]).squaredNorm() > rhs;
          if (up) delta_old[m] = delta;
        }
      }
      if (up) {
        sum += g - g_old[m];
        g_old[m] = g;
        theta_old[m] = theta;
        tau[m] = 1;
        ++out.uploads;
      } else {
        ++tau[m];
      }
    }
    server.update(sum);
  }
  out.theta = server.theta;
  return out;
}

template <class Method>
sim::RunResult simulate(Method method, double eta, Index rounds, int threads = 1) {
  method.server.step = server::StepSize::constant(eta);
  return sim::Simulation(method, logistic_workers(M, n, p), Vector::Zero(p),
                         {.rounds = rounds, .threads = threads, .record_every = rounds})
      .run();
}

void check_same(const sim::RunResult& run, const Plain& plain) {
  const Traffic& t = run.ledger.total();
  CHECK(t.uploads == plain.uploads);
  CHECK(t.downloads == plain.downloads);
  CHECK(t.gradient_samples == plain.gradients * static_cast<std::uint64_t>(n / M));
  CHECK((run.theta - plain.theta).norm() <= 1e-12 * plain.theta.norm());
}

}  // namespace

TEST_CASE("each LASG rule equals a plain transcription of its algorithm", "[skip]") {
  const auto workers = logistic_workers(M, n, p);
  const double eta = 1 / test::largest_smoothness(workers);
  const Index rounds = 300;

  SECTION("WK1") {
    const auto run = simulate(LasgWk1{.skip = {.D = D, .d_max = d_max}}, eta, rounds);
    const Plain plain = plain_lasg(Rule::wk1, workers, eta, rounds);
    check_same(run, plain);
    CHECK(plain.uploads < M * rounds / 2);  // the rule does skip
  }
  SECTION("WK2") {
    const auto run = simulate(LasgWk2{.skip = {.D = D, .d_max = d_max}}, eta, rounds);
    const Plain plain = plain_lasg(Rule::wk2, workers, eta, rounds);
    check_same(run, plain);
    CHECK(plain.uploads < M * rounds / 2);
  }
  SECTION("PS") {
    const auto run = simulate(LasgPs{.skip = {.threshold = {.D = D, .d_max = d_max}}}, eta, rounds);
    const Plain plain = plain_lasg(Rule::ps, workers, eta, rounds);
    check_same(run, plain);
    CHECK(plain.downloads < M * rounds / 2);
  }
  SECTION("PSE") {
    const auto run =
        simulate(LasgPse{.skip = {.threshold = {.D = D, .d_max = d_max}}}, eta, rounds);
    const Plain plain = plain_lasg(Rule::pse, workers, eta, rounds);
    check_same(run, plain);
    CHECK(plain.downloads < M * rounds / 2);
    // Each upload carries L̂_m as one float of the links' width, which the paper counts as 32.
    CHECK(run.ledger.total().up.metadata == 64 * plain.uploads);
    CHECK(run.ledger.total().up.paper == (32 * p + 32) * plain.uploads);
    const auto narrow = simulate(
        LasgPse{.skip = {.threshold = {.D = D, .d_max = d_max}}, .float_bits = 32}, eta, rounds);
    CHECK(narrow.ledger.total().up.metadata == 32 * narrow.ledger.total().uploads);
  }
}

TEST_CASE("LASG forces an upload once a contribution is D rounds old", "[skip]") {
  // c = 0 would upload always; a huge c never wants to, so only forced uploads remain:
  // WK2/PS/PSE at k = 0, D, 2D, ... and WK1 at multiples of D.
  const Index rounds = 35, forced = M * 4;  // k = 0, 10, 20, 30
  const double eta = 0.1;
  const skip::LasgThreshold lazy{.D = D, .d_max = d_max, .c = 1e300};
  CHECK(simulate(LasgWk1{.skip = lazy}, eta, rounds).ledger.total().uploads == forced);
  CHECK(simulate(LasgWk2{.skip = lazy}, eta, rounds).ledger.total().uploads == forced);
  CHECK(simulate(LasgPs{.skip = {.threshold = lazy}}, eta, rounds).ledger.total().uploads ==
        forced);
  const auto pse = simulate(LasgPse{.skip = {.threshold = lazy}}, eta, rounds);
  CHECK(pse.ledger.total().uploads == forced);
  CHECK(pse.ledger.total().downloads == forced);  // and the others hear nothing
}

TEST_CASE("LASG's c given as c_eta2 follows the step: c = c_eta2/eta^2", "[skip]") {
  // Before a run starts, a rule describes its scale as given.
  CHECK(skip::LasgWk2({.c_eta2 = 1e-4}).describe() == "lasg_wk2(D=100, d_max=10, c_eta2=0.0001)");
  CHECK(skip::LasgWk1({.c = 3.0}).describe() == "lasg_wk1(D=100, d_max=10, c=3)");
  // The same run as c = 1e-4/η² written out, and not the default c = 1/η², at two steps.
  for (const double eta : {0.1, 0.4}) {
    const auto scaled = simulate(LasgWk2{.skip = {.c_eta2 = 1e-4}}, eta, 60);
    const auto written = simulate(LasgWk2{.skip = {.c = 1e-4 / (eta * eta)}}, eta, 60);
    CHECK(scaled.history == written.history);
    CHECK(scaled.theta == written.theta);
    CHECK(scaled.ledger.total().uploads > simulate(LasgWk2{}, eta, 60).ledger.total().uploads);
  }
}

TEST_CASE("LASG-WK2 never lets a contribution get older than D - 1 rounds", "[skip]") {
  LasgWk2 method{.skip = {.D = 5, .d_max = 3}, .server = {.batch = server::Batch::of(10)}};
  sim::Simulation sim(method, logistic_workers(M, n, p), Vector::Zero(p), {.rounds = 1});
  Index skipped = 0;
  test::each_round(sim, 60, [&] {
    for (Index m = 0; m < M; ++m) {
      const Index tau = sim.skip_rule().last_uploads().staleness(m);
      CHECK(tau >= 1);
      CHECK(tau <= 5);  // τ = 5 forces the next round's upload
      skipped += tau > 1;
    }
  });
  CHECK(skipped > 0);
}

TEST_CASE("lazy rules give the same history on 1 and 2 threads", "[skip]") {
  const Index rounds = 120;
  auto same = [&](auto method) {
    method.server.batch = server::Batch::of(20);
    const auto a = simulate(method, 0.5, rounds, 1);
    const auto b = simulate(method, 0.5, rounds, 2);
    CHECK(a.history == b.history);
    CHECK(a.theta == b.theta);
  };
  same(LasgWk1{});
  same(LasgWk2{});
  same(LasgPs{});
  same(LasgPse{});
  same(LagWk{});
  same(LagPs{});
}

TEST_CASE("LAQSG uploads QSGD messages only when its LASG rule says so", "[skip]") {
  Laqsg<skip::LasgWk2> method{
      .skip = {.D = D, .d_max = d_max},
      .uplink = {.levels = 7, .encoding = compress::Qsgd::Encoding::fixed},
      .server = {.step = server::StepSize::constant(0.5), .batch = server::Batch::of(20)}};
  const auto run = sim::Simulation(method, logistic_workers(M, n, p), Vector::Zero(p),
                                   {.seed = 4, .rounds = 200, .record_every = 200})
                       .run();
  const Traffic& t = run.ledger.total();
  CHECK(t.uploads < M * 200);
  CHECK(t.uploads >= M * 200 / D);
  // Fixed width: a 64-bit norm, a 2-bit header, and per coordinate a sign and ⌈log₂ 8⌉ bits;
  // LASG counts 32 + b·p with b = 4.
  CHECK(t.up.total() == t.uploads * (64 + 2 + p * (1 + 3)));
  CHECK(t.up.paper == t.uploads * (32 + p * 4));
}

TEST_CASE("the lazy aggregate stays the mean of the latest contributions over 1e5 rounds",
          "[skip]") {
  LasgWk2 method{
      .skip = {.D = 20, .d_max = 5},
      .server = {.step = server::StepSize::constant(0.2), .batch = server::Batch::of(5)}};
  const Index workers = 5;
  sim::Simulation sim(method, logistic_workers(workers, 100, 3), Vector::Zero(3),
                      {.rounds = 100'000, .record_every = 100'000});
  const auto result = sim.run();
  REQUIRE(result.status == sim::Status::completed);
  Vector mean = Vector::Zero(3);
  for (Index m = 0; m < workers; ++m) mean += sim.contribution(m);
  mean /= static_cast<double>(workers);
  INFO("uploads " << result.ledger.total().uploads);
  CHECK((sim.aggregate() - mean).norm() <= 1e-12 * mean.norm());
  CHECK(result.ledger.total().uploads < workers * 100'000 / 2);
}

TEST_CASE("LASG: invalid parameters name themselves, their value and the allowed range", "[skip]") {
  using Catch::Contains;
  using skip::LasgThreshold;
  const auto wk1 = [](LasgThreshold t) { return test::refusal([&] { skip::LasgWk1{t}; }); };
  const auto wk2 = [](LasgThreshold t) { return test::refusal([&] { skip::LasgWk2{t}; }); };
  const auto ps = [](skip::LasgPs::Params p) { return test::refusal([&] { skip::LasgPs{p}; }); };
  const auto pse = [](skip::LasgPse::Params p) { return test::refusal([&] { skip::LasgPse{p}; }); };
  CHECK_THAT(wk2({.D = 0}), Contains("D = 0: must be >= 1"));
  CHECK_THAT(wk1({.d_max = 0}), Contains("d_max = 0: must be >= 1"));
  CHECK_THAT(wk1({.c = -1.0}), Contains("c = -1: must be >= 0 and finite"));
  CHECK_THAT(wk2({.c = std::nan("")}), Contains("c = nan: must be >= 0 and finite"));
  CHECK(wk1({.D = 1, .d_max = 1, .c = 0.0}) == "accepted");
  CHECK(wk2({.D = 1, .d_max = 1, .c = 0.0}) == "accepted");
  CHECK_THAT(wk2({.c_eta2 = std::nan("")}), Contains("c_eta2 = nan: must be >= 0 and finite"));
  CHECK_THAT(wk1({.c = 2.0, .c_eta2 = 1e-4}), Contains("c_eta2 = 0.0001: must be unset when c"));
  CHECK_THAT(ps({.threshold = {.c = -1.0}}), Contains("c = -1: must be >= 0"));
  CHECK_THAT(ps({.smoothness = {-1}}), Contains("smoothness[0] = -1: must be >= 0 and finite"));
  CHECK_THAT(ps({.smoothness = {1, std::nan("")}}), Contains("smoothness[1] = nan: must be >= 0"));
  CHECK(ps({.threshold = {.D = 1, .d_max = 1}, .smoothness = {0}}) == "accepted");
  CHECK_THAT(pse({.threshold = {.d_max = 0}}), Contains("d_max = 0: must be >= 1"));
  CHECK_THAT(pse({.initial_estimate = -1}),
             Contains("initial_estimate = -1: must be >= 0 and finite"));
  CHECK_THAT(pse({.initial_estimate = std::nan("")}), Contains("initial_estimate = nan: must be"));
  CHECK(pse({.threshold = {.D = 1, .d_max = 1, .c = 0.0}, .initial_estimate = 0}) == "accepted");
}

TEST_CASE("on ijcnn1, LASG-WK2 and LASG-PSE match SGD's loss with far fewer uploads",
          "[skip][data]") {
  // LASG §IV-A's setting: M = 10, batch 1% of local data, λ = 1e-5, η = 0.1, D = 100,
  // d_max = 10, c = 1/η²; 1000 iterations.
  const auto path = test::data_file("ijcnn1/ijcnn1.trn");
  if (!path) return;
  const auto data = std::make_shared<const data::Dataset>(data::read_libsvm(*path));
  std::vector<Logistic> workers;
  for (const data::Shard& shard : data::partition(data, {.workers = 10})) {
    workers.emplace_back(shard, Logistic::Params{.lambda = 1e-5});
  }
  const server::Sgd::Params sgd_params{.step = server::StepSize::constant(0.1),
                                       .batch = server::Batch::share(0.01)};
  const sim::Options options{.seed = 1, .rounds = 1000, .record_every = 1000};
  const Vector theta0 = Vector::Zero(data->cols());
  auto run = [&](auto method) {
    method.server = sgd_params;
    const auto r = sim::Simulation(method, workers, theta0, options).run();
    return std::pair{r.history.rows.back().loss, r.ledger.total().uploads};
  };
  const auto [sgd_loss, sgd_uploads] = run(Sgd{});
  const auto [lag_loss, lag_uploads] = run(LagWk{});
  const auto [wk2_loss, wk2_uploads] = run(LasgWk2{});
  const auto [pse_loss, pse_uploads] = run(LasgPse{});
  INFO("SGD " << sgd_loss << " / " << sgd_uploads << ", LAG-WK " << lag_loss << " / " << lag_uploads
              << ", WK2 " << wk2_loss << " / " << wk2_uploads << ", PSE " << pse_loss << " / "
              << pse_uploads);
  CHECK(wk2_loss <= 1.01 * sgd_loss);
  CHECK(pse_loss <= 1.01 * sgd_loss);
  CHECK(wk2_uploads * 5 <= sgd_uploads);
  CHECK(pse_uploads * 5 <= sgd_uploads);
  CHECK(lag_uploads * 2 > sgd_uploads);  // stochastic LAG-WK saves little
}
