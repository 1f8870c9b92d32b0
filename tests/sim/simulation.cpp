#include <laconic/compress/rand_k.hpp>
#include <laconic/compress/top_k.hpp>
#include <laconic/methods.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "sim/fixtures.hpp"
#include "support.hpp"

#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>

using namespace laconic;
using laconic::test::Points;

namespace {

// M workers with n points each in R^p; worker m's points are centred on (m, −m, 0, ...).
std::vector<Points> make_workers(int M, int n, int p) {
  std::vector<Points> workers;
  RandomStream rng(99, Purpose::user);
  for (int m = 0; m < M; ++m) {
    std::vector<Vector> points;
    for (int i = 0; i < n; ++i) {
      Vector c(p);
      for (int j = 0; j < p; ++j) c[j] = rng.normal();
      c[0] += m;
      c[1] -= m;
      points.push_back(c);
    }
    workers.emplace_back(std::move(points));
  }
  return workers;
}

Vector overall_mean(const std::vector<Points>& workers, int n, int p) {
  // Recomputed from the same stream, in the same order as make_workers.
  Vector mean = Vector::Zero(p);
  RandomStream rng(99, Purpose::user);
  for (std::size_t m = 0; m < workers.size(); ++m) {
    for (int i = 0; i < n; ++i) {
      Vector c(p);
      for (int j = 0; j < p; ++j) c[j] = rng.normal();
      c[0] += static_cast<double>(m);
      c[1] -= static_cast<double>(m);
      mean += c;
    }
  }
  return mean / static_cast<double>(workers.size() * static_cast<std::size_t>(n));
}

Sgd exact_gd(double eta) {
  return Sgd{.server = {.step = server::StepSize::constant(eta)}};
}

// f(θ) = ½‖θ − 1‖² on every worker, except that worker `bad` breaks the Objective contract
// as `fault` says, from its `from`-th call on.
struct Faulty {
  enum class Fault { wrong_size, nan_loss, huge_gradient };
  Index p = 3;
  Index bad = 1;
  Fault fault = Fault::wrong_size;
  int from = 0;
  Index worker = 0;
  int calls = 0;

  Index dim() const { return p; }
  Index size() const { return 2; }
  double gradient(const Vector& x, std::span<const Index>, Vector& g) {
    g = x - Vector::Ones(p);
    const double loss = 0.5 * g.squaredNorm();
    if (worker != bad || calls++ < from) return loss;
    switch (fault) {
      case Fault::wrong_size:
        g = Vector::Zero(p + 1);
        return loss;
      case Fault::nan_loss:
        return std::numeric_limits<double>::quiet_NaN();
      case Fault::huge_gradient:
        g.setConstant(1e300);
        return loss;
    }
    return loss;
  }
};

std::vector<Faulty> faulty_workers(Faulty::Fault fault, int from = 0) {
  std::vector<Faulty> workers;
  for (Index m = 0; m < 3; ++m) workers.push_back({.fault = fault, .from = from, .worker = m});
  return workers;
}

// compress::Identity behind a wrapper that counts compress() calls and declares verbatim() only
// when asked: the same link, with and without the engine's hand-over.
template <bool declares_verbatim>
class CountedIdentity {
 public:
  using Params = compress::Identity::Params;
  explicit CountedIdentity(const Params& params = {}, const compress::Wire& wire = {})
      : identity_(params, wire) {}
  Message encode(const Vector& x, RandomStream& rng) const { return identity_.encode(x, rng); }
  void decode(const Message& m, Vector& out) const { identity_.decode(m, out); }
  Bits compress(const Vector& x, Vector& out, RandomStream& rng) const {
    ++calls;
    return identity_.compress(x, out, rng);
  }
  bool unbiased() const { return true; }
  std::string describe() const { return identity_.describe(); }
  std::uint64_t paper_bits(Index p) const { return identity_.paper_bits(p); }
  std::optional<Bits> verbatim(Index p) const requires declares_verbatim {
    return identity_.verbatim(p);
  }
  inline static int calls = 0;

 private:
  compress::Identity identity_;
};

}  // namespace

TEST_CASE("distributed GD follows the hand-worked trajectory and counts every bit", "[sim]") {
  // With f = (1/M) Σ f_m = ½‖θ − c̄‖² + const, GD gives θ^k − c̄ = (1 − η)^k (θ^0 − c̄).
  const int M = 4, n = 3, p = 5, rounds = 12;
  const double eta = 0.3;
  auto workers = make_workers(M, n, p);
  const Vector center = overall_mean(workers, n, p);
  const Vector theta0 = Vector::Ones(p);
  sim::Simulation sim(exact_gd(eta), workers, theta0, {.seed = 1, .rounds = rounds});
  const auto result = sim.run();

  REQUIRE(result.status == sim::Status::completed);
  REQUIRE(result.history.rows.size() == rounds + 1);
  for (const auto& row : result.history.rows) {
    const double factor = std::pow(1 - eta, static_cast<double>(row.round));
    const Vector expected_gradient = factor * (theta0 - center);
    CHECK(row.grad_norm_sq == Approx(expected_gradient.squaredNorm()).epsilon(1e-12));
    const auto k = static_cast<std::uint64_t>(row.round);
    CHECK(row.traffic.uploads == M * k);
    CHECK(row.traffic.downloads == M * k);
    // Exact doubles on the wire; the papers' convention counts 32 bits a float.
    CHECK(row.traffic.up == Bits{.values = M * k * p * 64, .paper = M * k * p * 32});
    CHECK(row.traffic.down == Bits{.values = M * k * p * 64, .paper = M * k * p * 32});
    CHECK(row.traffic.gradient_samples == M * k * n);
  }
  const Vector expected = center + std::pow(1 - eta, rounds) * (theta0 - center);
  CHECK((result.theta - expected).lpNorm<Eigen::Infinity>() < 1e-14);
  for (Index m = 0; m < M; ++m) CHECK(result.ledger.worker(m).uploads == rounds);
}

TEST_CASE("64-bit floats on every link by default; one setting makes them all 32-bit", "[sim]") {
  const int M = 3, n = 2, p = 4;
  const auto step = server::StepSize::constant(0.5);
  const auto run = [&](const auto& method) {
    return sim::Simulation(method, make_workers(M, n, p), Vector::Zero(p), {.rounds = 2}).run();
  };
  for (const int width : {64, 32}) {
    INFO("fp" << width);
    const auto w = static_cast<std::uint64_t>(width);
    const auto sgd = run(Sgd{.server = {.step = step}, .float_bits = width});
    CHECK(sgd.ledger.total().up.values == 2u * M * p * w);
    CHECK(sgd.ledger.total().down.values == 2u * M * p * w);
    CHECK(sgd.ledger.total().up.paper == 2u * M * p * 32);
    // EF21's exact start, its top-k values and the downlink: every float of the method.
    const Ef21<compress::TopK> ef21{
        .uplink = {.compressor = {.k = 1}, .start = compress::Markov<compress::TopK>::Start::exact},
        .server = {.step = step},
        .float_bits = width};
    const auto ef = run(ef21);
    CHECK(ef.ledger.total().up.values == M * (p * w + w));  // w_0 whole, then one value
    CHECK(ef.ledger.total().down.values == 2u * M * p * w);
    CHECK(ef.history.description.find(fmt::format("top_k(k=1, fp{})", width)) != std::string::npos);
  }
  CHECK(run(Sgd{.server = {.step = step}}).theta ==
        run(Sgd{.server = {.step = step}, .float_bits = 64}).theta);
}

TEST_CASE("minibatches are distinct samples drawn from each worker's own stream", "[sim]") {
  const int M = 3, n = 20, p = 2, b = 7;
  auto method =
      Sgd{.server = {.step = server::StepSize::constant(0.1), .batch = server::Batch::of(b)}};
  auto run_once = [&](std::uint64_t seed) {
    sim::Simulation sim(method, make_workers(M, n, p), Vector::Zero(p),
                        {.seed = seed, .rounds = 1});
    sim.run();
    std::vector<std::vector<Index>> batches;
    for (const auto& w : sim.workers()) batches.push_back(w.last_batch);
    return batches;
  };
  const auto first = run_once(5);
  for (const auto& batch : first) {
    CHECK(batch.size() == b);
    CHECK(std::set<Index>(batch.begin(), batch.end()).size() == b);
    for (Index i : batch) CHECK((i >= 0 && i < n));
  }
  CHECK(first[0] != first[1]);  // workers draw from different streams
  CHECK(run_once(5) == first);  // the same seed draws the same batches
  CHECK(run_once(6) != first);  // another seed draws others

  SECTION("every sample is equally likely") {
    // Over 2000 rounds each of the 20 samples of worker 0 is drawn 2000·7/20 = 700 times in
    // expectation (binomial sd ≈ 21.3).
    std::vector<int> count(n);
    sim::Simulation sim(method, make_workers(1, n, p), Vector::Zero(p), {.rounds = 1});
    for (int r = 0; r < 2000; ++r) {
      sim.run();
      for (Index i : sim.workers()[0].last_batch) ++count[static_cast<std::size_t>(i)];
    }
    for (int c : count) CHECK(std::abs(c - 700) < 100);
  }
}

TEST_CASE("the history is identical for 1 and 2 threads and for two runs with one seed", "[sim]") {
  const int M = 13, n = 9, p = 6;
  auto method = Sgd{
      .server = {.step = server::StepSize::inverse_time(0.5, 10), .batch = server::Batch::of(3)}};
  auto run = [&](int threads) {
    sim::Simulation sim(method, make_workers(M, n, p), Vector::Zero(p),
                        {.seed = 11, .rounds = 40, .threads = threads});
    return sim.run();
  };
  const auto one = run(1), two = run(2), again = run(2);
  CHECK(one.history == two.history);
  CHECK(two.history == again.history);
  CHECK(one.history.to_csv() == two.history.to_csv());
  CHECK((one.theta.array() == two.theta.array()).all());
}

TEST_CASE("callbacks observe every round and can stop the run", "[sim]") {
  sim::Simulation sim(exact_gd(0.1), make_workers(2, 2, 2), Vector::Zero(2),
                      {.rounds = 100, .record_every = 5});
  std::vector<Index> seen;
  int records = 0;
  const auto result = sim.run([&](const sim::RoundView& view) {
    seen.push_back(view.round);
    records += view.record != nullptr;
    return view.round == 12 ? sim::Control::stop : sim::Control::proceed;
  });
  CHECK(result.status == sim::Status::stopped);
  CHECK(seen.size() == 12);
  CHECK(seen.back() == 12);
  CHECK(records == 2);                         // rounds 5 and 10
  CHECK(result.history.rows.size() == 3);      // rounds 0, 5, 10
  CHECK(result.ledger.total().uploads == 24);  // 12 rounds of 2 workers
}

TEST_CASE("a non-finite gradient stops the run and keeps its history", "[sim]") {
  auto workers = make_workers(3, 2, 2);
  workers[1].poison_at_call = 4;  // the fifth minibatch of worker 1: round 4 (from 0)
  auto method = exact_gd(0.1);
  method.server.batch = server::Batch::of(1);
  sim::Simulation sim(method, workers, Vector::Zero(2), {.rounds = 50});
  const auto result = sim.run();
  CHECK(result.status == sim::Status::diverged);
  REQUIRE(result.divergence);
  CHECK(result.divergence->worker == 1);
  CHECK(result.divergence->round == 4);
  CHECK(result.divergence->quantity == "gradient");
  CHECK_THAT(result.message, Catch::Contains("worker 1") && Catch::Contains("round 4"));
  CHECK(result.history.rows.size() == 5);  // rounds 0..4, before the bad update
  CHECK(result.theta.allFinite());
}

TEST_CASE("an objective that writes a gradient of the wrong size is refused, naming it", "[sim]") {
  for (const int threads : {1, 2}) {
    // In a training round (from the first call), and when the History is measured (the first
    // call is the History's row 0).
    for (const int from : {0, 1}) {
      INFO(threads << " threads, from call " << from);
      sim::Simulation sim(exact_gd(0.5), faulty_workers(Faulty::Fault::wrong_size, from),
                          Vector::Zero(3), {.rounds = 5, .threads = threads});
      CHECK_THROWS_AS(sim.run(), std::logic_error);
    }
    sim::Simulation sim(exact_gd(0.5), faulty_workers(Faulty::Fault::wrong_size, 1),
                        Vector::Zero(3), {.rounds = 5, .threads = threads});
    CHECK_THROWS_WITH(sim.run(), Catch::Contains("objective of worker 1") &&
                                     Catch::Contains("gradient of size 4") &&
                                     Catch::Contains("dim() is 3"));
  }
}

TEST_CASE("a non-finite loss from an objective stops the run, naming the worker", "[sim]") {
  sim::Simulation sim(exact_gd(0.5), faulty_workers(Faulty::Fault::nan_loss, 3), Vector::Zero(3),
                      {.rounds = 10});
  const auto result = sim.run();
  CHECK(result.status == sim::Status::diverged);
  REQUIRE(result.divergence);
  CHECK(result.divergence->quantity == "loss");
  CHECK(result.divergence->worker == 1);
  CHECK(result.divergence->round == 1);  // calls: row 0, round 0, row 1, round 1
  CHECK_THAT(result.message, Catch::Contains("non-finite loss at worker 1"));
}

TEST_CASE("a finite vector its link cannot carry stops the run, naming the worker", "[sim]") {
  // 1e300 fits a 64-bit float, not a 32-bit one: the 32-bit uplink cannot send it.
  const auto run = [](auto method) {
    // From the second call on: the first is the History's row 0.
    return sim::Simulation(method, faulty_workers(Faulty::Fault::huge_gradient, 1), Vector::Zero(3),
                           {.rounds = 10})
        .run();
  };
  const auto step = server::StepSize::constant(1e-310);
  for (const auto& result :
       {run(Sgd{.server = {.step = step}, .float_bits = 32}),
        run(CompressedSgd<compress::TopK>{
            .uplink = {.k = 2}, .server = {.step = step}, .float_bits = 32}),
        run(Ef21<compress::TopK>{
            .uplink = {.compressor = {.k = 2}}, .server = {.step = step}, .float_bits = 32})}) {
    CHECK(result.status == sim::Status::diverged);
    REQUIRE(result.divergence);
    CHECK(result.divergence->quantity == "message");
    CHECK(result.divergence->worker == 1);
    CHECK_THAT(result.message, Catch::Contains("at worker 1") && Catch::Contains("cannot be sent"));
    CHECK(result.divergence->round == 0);
    CHECK(result.history.rows.size() == 1);  // row 0 is kept
  }
}

TEST_CASE("exact links hand over the vector itself: the same run, no compress() call", "[sim]") {
  // SGD, LASG-WK2 (the server keeps each upload) and local steps (a model's change, checked
  // for finiteness on the way), each with exact uplinks and downlinks handing over the worker's
  // vector and θ, and each through compress().
  const auto same_run = [](auto with, auto without, Index threads) {
    const auto workers = make_workers(6, 5, 4);
    CountedIdentity<true>::calls = CountedIdentity<false>::calls = 0;
    const sim::Options options{
        .rounds = 30, .threads = static_cast<int>(threads), .record_every = 3};
    const auto a = sim::Simulation(with, workers, Vector::Zero(4), options).run();
    const auto b = sim::Simulation(without, workers, Vector::Zero(4), options).run();
    CHECK(CountedIdentity<true>::calls == 0);
    CHECK(CountedIdentity<false>::calls > 0);
    CHECK(a.theta == b.theta);
    CHECK(a.ledger.total() == b.ledger.total());
    REQUIRE(a.history.rows.size() == b.history.rows.size());
    for (std::size_t r = 0; r < a.history.rows.size(); ++r) {
      CHECK(a.history.rows[r].grad_norm_sq == b.history.rows[r].grad_norm_sq);
    }
  };
  const server::Sgd::Params sgd{.step = server::StepSize::constant(0.2),
                                .batch = server::Batch::of(2)};
  const server::PeriodicAverage::Params local{
      .step = server::StepSize::constant(0.2), .batch = server::Batch::of(2), .local_steps = 3};
  for (const Index threads : {1, 2}) {
    using Exact = CountedIdentity<true>;
    using Copied = CountedIdentity<false>;
    same_run(Method<skip::Never, Exact, server::Sgd, Exact>{.server = sgd},
             Method<skip::Never, Copied, server::Sgd, Copied>{.server = sgd}, threads);
    same_run(Method<skip::LasgWk2, Exact, server::Sgd, Exact>{.server = sgd},
             Method<skip::LasgWk2, Copied, server::Sgd, Copied>{.server = sgd}, threads);
    same_run(Method<skip::Never, Exact, server::PeriodicAverage, Exact>{.server = local},
             Method<skip::Never, Copied, server::PeriodicAverage, Copied>{.server = local},
             threads);
  }
}

// Points with a full gradient of its own, counting those calls in a counter its copies share
// (and the pool's threads).
struct FullPoints : Points {
  std::shared_ptr<std::atomic<int>> full_calls = std::make_shared<std::atomic<int>>(0);
  double full_gradient(const Vector& x, Vector& g) {
    full_calls->fetch_add(1);
    std::vector<Index> all(static_cast<std::size_t>(size()));
    std::iota(all.begin(), all.end(), Index{0});
    return gradient(x, all, g);
  }
};

TEST_CASE("a full-batch round takes the History's gradients at θ^k: the same run, half the calls",
          "[sim]") {
  // M workers, K rounds, a History row every round: rows 0..K evaluate M full gradients each;
  // round k needs the same M at the same θ^k, so M (K + 1) calls in all rather than M (2K + 1),
  // and θ, ledger and History as when rows are rare. Also through a load() onto a run whose
  // kept gradients are for the same round at another θ.
  const int M = 4, n = 3, p = 3, K = 12;
  const auto workers = [&] {
    std::vector<FullPoints> team;
    const auto shared = std::make_shared<std::atomic<int>>(0);
    for (Points& w : make_workers(M, n, p)) team.push_back({w, shared});
    return team;
  };
  const auto check = [&](const auto& method, int full_calls) {
    for (const int threads : {1, 2}) {
      auto team = workers();
      const auto calls = team.front().full_calls;
      const sim::Options every{.rounds = K, .threads = threads, .record_every = 1};
      const auto a = sim::Simulation(method, team, Vector::Zero(p), every).run();
      CHECK(*calls == full_calls);
      auto rare = every;
      rare.record_every = K;
      const auto b = sim::Simulation(method, workers(), Vector::Zero(p), rare).run();
      CHECK(a.theta == b.theta);
      CHECK(a.ledger.total() == b.ledger.total());
      CHECK(a.history.rows.front() == b.history.rows.front());
      CHECK(a.history.rows.back() == b.history.rows.back());

      const auto path = test::write_temp("kept_gradients.ckpt", "");
      sim::Options half = every;
      half.rounds = K / 2;
      sim::Simulation first(method, workers(), Vector::Zero(p), half);
      first.run();
      first.save(path);
      sim::Simulation other(method, workers(), Vector::Ones(p), half);
      other.run();  // keeps its gradients at its own θ^{K/2} for round K/2
      other.load(path);
      const auto resumed = other.run();
      CHECK(resumed.theta == a.theta);
      CHECK(resumed.history.rows.back() == a.history.rows.back());
    }
  };
  const auto step = server::StepSize::constant(0.3);
  const int kept = M * (K + 1), not_kept = M * (2 * K + 1);
  check(Gd{.server = {.step = step}}, kept);
  check(LagWk{.server = {.step = step}}, kept);
  check(Ef21<compress::TopK>{.uplink = {.compressor = {.k = 1}}, .server = {.step = step}}, kept);
  // A minibatch round computes other gradients (and no full ones); a sparsified θ broadcast
  // reaches the workers changed.
  check(Sgd{.server = {.step = step, .batch = server::Batch::of(2)}}, M * (K + 1));
  check(
      Method<skip::Never, compress::Identity, server::Sgd, compress::TopK>{.server = {.step = step},
                                                                           .downlink = {.k = 2}},
      not_kept);
}

TEST_CASE("a local model's change that overflows stops the run at an exact uplink", "[sim]") {
  // One local step of η = 1e308 from θ = 0 takes the model past the largest double: the
  // change is infinite although every gradient was finite.
  const LocalSgd method{.server = {.step = server::StepSize::constant(1e308), .local_steps = 1}};
  const auto result =
      sim::Simulation(method, make_workers(3, 2, 2), Vector::Constant(2, 5.0), {.rounds = 5}).run();
  CHECK(result.status == sim::Status::diverged);
  REQUIRE(result.divergence);
  CHECK(result.divergence->quantity == "message");
  CHECK(result.divergence->round == 0);
  CHECK(result.history.rows.size() == 1);
}

// The server redraws rand-k's indices from the worker's stream, so only the k values travel.
TEST_CASE("rand-k from a shared seed runs in process and sends the values only", "[sim]") {
  const int M = 3, n = 4, p = 5, rounds = 10;
  const compress::RandK::Params shared{.k = 2, .shared_seed = true};
  const auto step = server::StepSize::constant(0.2);
  const auto check = [&](const auto& method) {
    const auto result =
        sim::Simulation(method, make_workers(M, n, p), Vector::Zero(p), {.rounds = rounds}).run();
    REQUIRE(result.status == sim::Status::completed);
    const Traffic& t = result.ledger.total();
    CHECK(t.uploads == M * rounds);
    CHECK(t.up.indices == 0);
    CHECK(t.up.values == t.uploads * 2 * 64);
    CHECK(t.up.paper == t.uploads * 2 * 32);
  };
  check(Ef21<compress::RandK>{.uplink = {.compressor = shared}, .server = {.step = step}});
  check(CompressedSgd<compress::RandK>{.uplink = shared, .server = {.step = step}});
}

TEST_CASE("a step size that blows up is reported as divergence of the loss", "[sim]") {
  // η = 3 on ½‖θ − c‖²: the distance to the optimum doubles every round. By default the run
  // stops once the loss is more than 100 |f₀| above f₀, naming the round and the loss.
  sim::Simulation sim(exact_gd(3.0), make_workers(2, 2, 2), Vector::Ones(2), {.rounds = 5000});
  const auto result = sim.run();
  CHECK(result.status == sim::Status::diverged);
  REQUIRE(result.divergence);
  const sim::Record& last = result.history.rows.back();
  CHECK(result.divergence->round == last.round);
  CHECK(result.divergence->loss == last.loss);
  CHECK(last.loss > 101 * result.history.rows.front().loss);
  CHECK(result.history.rows[static_cast<std::size_t>(last.round) - 1].loss <=
        101 * result.history.rows.front().loss);
  CHECK(last.round < 10);
  CHECK_THAT(result.message, Catch::StartsWith("diverged: the loss rose from") &&
                                 Catch::Contains(fmt::format("at round {}", last.round)));
  // Without that limit it runs until the numbers overflow, and stops there.
  sim::Simulation unlimited(exact_gd(3.0), make_workers(2, 2, 2), Vector::Ones(2),
                            {.rounds = 5000, .max_loss_growth = 0});
  const auto overflow = unlimited.run();
  CHECK(overflow.status == sim::Status::diverged);
  CHECK(overflow.history.rows.size() > 100);
  CHECK(overflow.history.rows.size() < 5000);
}

TEST_CASE("a loss that keeps rising can stop the run before it overflows", "[sim]") {
  // η = 3 on ½‖θ − c‖²: θ − θ* doubles in size and flips sign every round, so the loss
  // rises fourfold at every row.
  const auto workers = make_workers(2, 2, 2);
  const sim::Options options{.rounds = 50, .max_loss_growth = 0, .stop_after_loss_rises = 5};
  sim::Simulation sim(exact_gd(3.0), workers, Vector::Ones(2), options);
  const auto result = sim.run();
  CHECK(result.status == sim::Status::diverged);
  REQUIRE(result.divergence);
  CHECK(result.divergence->rises == 5);
  CHECK(result.divergence->round == 5);
  CHECK(result.message == "diverged: the loss rose at 5 recorded rounds in a row, up to round 5");
  CHECK(result.history.rows.size() == 6);  // rows 0..5 kept
  CHECK(result.theta.allFinite());

  // Counted from the History, so a run resumed in between stops at the same round.
  sim::Simulation first(exact_gd(3.0), workers, Vector::Ones(2), {.rounds = 3});
  first.run();
  const auto path = std::filesystem::temp_directory_path() / "laconic_rising_loss.ckpt";
  first.save(path);
  sim::Simulation resumed(exact_gd(3.0), workers, Vector::Ones(2), options);
  resumed.load(path);
  std::filesystem::remove(path);
  const auto rest = resumed.run();
  CHECK(rest.divergence == result.divergence);
  CHECK(rest.history == result.history);

  // A converging run is not stopped, and the limit is validated.
  sim::Simulation calm(exact_gd(0.5), workers, Vector::Ones(2),
                       {.rounds = 10, .stop_after_loss_rises = 1});
  CHECK(calm.run().status == sim::Status::completed);
  CHECK_THROWS_WITH(
      sim::Simulation(exact_gd(0.5), workers, Vector::Ones(2), {.stop_after_loss_rises = -1}),
      Catch::Contains("stop_after_loss_rises = -1"));
}

TEST_CASE("invalid parameters name themselves, their value and the allowed range", "[sim]") {
  auto workers = make_workers(2, 3, 2);
  auto error_of = [&](auto&& make) -> std::string {
    try {
      make();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(error_of([&] {
          sim::Simulation(Sgd{.server = {.step = server::StepSize::constant(-1)}}, workers,
                          Vector::Zero(2));
        }) == "invalid parameter server.step.eta = -1: must be positive and finite");
  CHECK_THAT(error_of([&] {
               sim::Simulation(Sgd{.server = {.batch = server::Batch::of(4)}}, workers,
                               Vector::Zero(2));
             }),
             Catch::Contains("server.batch.samples = 4") && Catch::Contains("at most the 3"));
  CHECK_THAT(error_of([&] { sim::Simulation(Sgd{}, workers, Vector::Zero(3)); }),
             Catch::Contains("workers[0].dim() = 2") && Catch::Contains("theta0.size() = 3"));
  CHECK_THAT(error_of([&] { sim::Simulation(Sgd{}, workers, Vector::Zero(2), {.threads = 0}); }),
             Catch::Contains("threads = 0"));
  CHECK_THAT(error_of([&] { sim::Simulation(Sgd{.float_bits = 16}, workers, Vector::Zero(2)); }),
             Catch::Contains("float_bits = 16") && Catch::Contains("32 or 64"));

  // Every field of Options (seed, label and test_accuracy take any value; cost: cost_model.cpp).
  const auto options = [&](sim::Options o) {
    return error_of([&] { sim::Simulation(Sgd{}, workers, Vector::Zero(2), o); });
  };
  CHECK_THAT(options({.rounds = -1}), Catch::Contains("rounds = -1: must be in 0..2^40"));
  CHECK_THAT(options({.rounds = sim::max_round + 1}), Catch::Contains("rounds = 1099511627777"));
  CHECK_THAT(options({.threads = 0}), Catch::Contains("threads = 0: must be in [1, 1024]"));
  CHECK_THAT(options({.threads = 1025}), Catch::Contains("threads = 1025: must be in [1, 1024]"));
  CHECK_THAT(options({.record_every = 0}), Catch::Contains("record_every = 0: must be >= 1"));
  CHECK_THAT(options({.eval_every = 0}), Catch::Contains("eval_every = 0: must be >= 1"));
  CHECK_THAT(options({.stop_after_loss_rises = -1}),
             Catch::Contains("stop_after_loss_rises = -1: must be >= 0"));
  CHECK(options({.rounds = 0, .threads = 1, .record_every = 1, .eval_every = 1}) == "no error");

  // k > p is refused when the run is set up, on either link, not at its first message.
  CHECK(error_of([&] {
          sim::Simulation(CompressedSgd<compress::TopK>{.uplink = {.k = 3}}, workers,
                          Vector::Zero(2));
        }) == "invalid parameter uplink.top_k.k = 3: must be at most the dimension p = 2");
  using Sparse = CdAdam<compress::RandK>;
  CHECK_THAT(error_of([&] {
               sim::Simulation(
                   Sparse{.uplink = {.compressor = {.k = 2}}, .downlink = {.compressor = {.k = 3}}},
                   workers, Vector::Zero(2));
             }),
             Catch::Contains("downlink.rand_k.k = 3: must be at most the dimension p = 2"));
  CHECK(error_of([&] {
          sim::Simulation(
              Sparse{.uplink = {.compressor = {.k = 2}}, .downlink = {.compressor = {.k = 2}}},
              workers, Vector::Zero(2));
        }) == "no error");
}

// An error names the parameter from the method down: which link, which policy, which field.
TEST_CASE("invalid parameters are named by their full path from the method", "[sim]") {
  const auto workers = make_workers(2, 3, 4);
  const auto error_of = [&](const auto& method) {
    return test::refusal([&] { sim::Simulation(method, workers, Vector::Zero(4)); });
  };
  using Catch::Contains;
  using Sparse = CdAdam<compress::TopK>;
  CHECK_THAT(
      error_of(Sparse{.uplink = {.compressor = {.k = 5}}, .downlink = {.compressor = {.k = 2}}}),
      Contains("invalid parameter uplink.top_k.k = 5"));
  CHECK_THAT(
      error_of(Sparse{.uplink = {.compressor = {.k = 2}}, .downlink = {.compressor = {.k = 5}}}),
      Contains("invalid parameter downlink.top_k.k = 5"));
  CHECK_THAT(error_of(Sparse{.uplink = {.compressor = {.k = 2}},
                             .server = {.beta1 = 1.5},
                             .downlink = {.compressor = {.k = 2}}}),
             Contains("invalid parameter server.beta1 = 1.5"));
  CHECK_THAT(error_of(LasgWk2{.skip = {.D = 0}}), Contains("invalid parameter skip.D = 0"));
  CHECK_THAT(error_of(Ef21<compress::TopK>{
                 .uplink = {.compressor = {.k = 2},
                            .start = static_cast<compress::Markov<compress::TopK>::Start>(7)}}),
             Contains("invalid parameter uplink.markov.start = 7"));
  CHECK_THAT(error_of(LocalSgd{.server = {.participation = server::Participation::sample(3)}}),
             Contains("invalid parameter server.participation.count = 3"));
  CHECK_THAT(error_of(Qsgd{.uplink = {.levels = 0}}),
             Contains("invalid parameter uplink.qsgd.levels = 0"));
  CHECK_THAT(error_of(Sgd{.float_bits = 8}), Contains("invalid parameter float_bits = 8"));
  CHECK_THAT(error_of(LagPs{.skip = {.smoothness = {1.0, -1.0}}}),
             Contains("invalid parameter skip.smoothness[1] = -1"));
}

TEST_CASE("the CSV names what ran and holds one row per record", "[sim]") {
  sim::Simulation sim(exact_gd(0.2), make_workers(2, 2, 3), Vector::Zero(3),
                      {.seed = 77, .rounds = 4, .label = "tiny-gd"});
  const auto csv = sim.run().history.to_csv();
  CHECK_THAT(csv, Catch::StartsWith("# laconic 0.1.0; label=tiny-gd; skip=never"));
  CHECK_THAT(csv, Catch::Contains("seed=77"));
  CHECK_THAT(csv, Catch::Contains("\nround,loss,grad_norm_sq,"));
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 2 + 5);
}
