// Every method the MPI transport supports, run over MPI and in process with the same seed:
// the histories, θ and ledgers must be identical bit for bit, and the bytes on the wire the
// ledger's bits rounded up to whole bytes per message. Run by ctest with 1 to 5 worker ranks
// (mpiexec -n 2 … 6) over M = 4 workers, so that with 5 one rank hosts none; every test case
// is collective.

#include <laconic/laconic.hpp>
#include <laconic/mpi/training.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "skip/fixtures.hpp"
#include "support.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

using namespace laconic;

namespace {

constexpr Index M = 4, n = 120, p = 10;

int world_rank() {
  return mpi::rank_in(MPI_COMM_WORLD);
}

std::function<objective::Logistic(Index)> logistic_factory() {
  return [](Index m) { return test::logistic_workers(M, n, p)[static_cast<std::size_t>(m)]; };
}

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

bool same_history(const sim::History& a, const sim::History& b) {
  if (a.rows.size() != b.rows.size() || a.description != b.description) return false;
  for (std::size_t i = 0; i < a.rows.size(); ++i) {
    const sim::Record &x = a.rows[i], &y = b.rows[i];
    if (x.round != y.round || !same_bits(x.loss, y.loss) ||
        !same_bits(x.grad_norm_sq, y.grad_norm_sq) || !(x.traffic == y.traffic) ||
        !same_bits(x.time, y.time)) {
      return false;
    }
  }
  return true;
}

std::uint64_t whole_bytes(std::uint64_t bits) {
  return (bits + 7) / 8;
}

// The bytes the messages of an in-process run take on the wire: each worker's upload of a
// round, and each round's broadcast, rounded up to whole bytes one message at a time.
struct Expected {
  std::uint64_t up = 0;
  std::uint64_t down_per_rank = 0;  // bytes of θ (or of the aggregate) each rank hears
};

template <class Method, class Obj>
sim::RunResult in_process(const Method& method, std::vector<Obj> workers,
                          const sim::Options& options, Expected& expected,
                          const sim::Callback& stop = {}) {
  sim::Simulation simulation(method, std::move(workers), Vector::Zero(p), options);
  Ledger before = simulation.ledger();
  return simulation.run([&](const sim::RoundView& view) {
    for (Index m = 0; m < M; ++m) {
      const Traffic &now = view.ledger.worker(m), &then = before.worker(m);
      if (now.uploads > then.uploads) expected.up += whole_bytes(now.up.total() - then.up.total());
    }
    const Traffic &now = view.ledger.total(), &then = before.total();
    if (now.downloads > then.downloads) {
      expected.down_per_rank +=
          whole_bytes((now.down.total() - then.down.total()) / (now.downloads - then.downloads));
    }
    before = view.ledger;
    return stop ? stop(view) : sim::Control::proceed;
  });
}

// The uplink bytes of every worker rank, summed on rank 0.
std::uint64_t sum_over_ranks(std::uint64_t mine) {
  std::uint64_t total = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  return total;
}

enum class Saves { nothing, uploads, downloads };

// A file of this test process (rank 0 writes it), apart from the other rank counts' runs.
std::filesystem::path scratch_file(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         fmt::format("laconic_mpi_{}ranks_{}", mpi::size_of(MPI_COMM_WORLD), name);
}

// Checkpoints halfway through `reference`'s rounds: the MPI run's file is the in-process run's
// byte for byte, and each resumes on the other transport to finish as `reference` did.
template <class Method>
void check_checkpoints(const Method& method, const sim::Options& options,
                       const sim::RunResult& reference) {
  const Index half = options.rounds / 2;
  const auto in_process_file = scratch_file("in_process.ckpt");
  const auto mpi_file = scratch_file("mpi.ckpt");
  const bool server = world_rank() == 0;
  if (server) {
    sim::Simulation saved(method, test::logistic_workers(M, n, p), Vector::Zero(p), options);
    saved.run_until(half);
    saved.save(in_process_file);
  }
  mpi::Training split(method, M, logistic_factory(), Vector::Zero(p), options);
  split.run_until(half);
  split.save(mpi_file);
  if (server) CHECK(test::read_file(mpi_file) == test::read_file(in_process_file));

  mpi::Training resumed(method, M, logistic_factory(), Vector::Zero(p), options);
  resumed.load(in_process_file);
  CHECK(resumed.round() == half);
  for (mpi::Training<Method, objective::Logistic>* t : {&split, &resumed}) {
    INFO((t == &split ? "the MPI run that was saved, going on" : "the MPI run resumed"));
    const mpi::RunResult result = t->run_until(options.rounds);
    CHECK(result.theta == reference.theta);
    if (server) {
      CHECK(same_history(result.history, reference.history));
      CHECK(result.ledger == reference.ledger);
    }
  }
  if (server) {
    sim::Simulation back(method, test::logistic_workers(M, n, p), Vector::Zero(p), options);
    back.load(mpi_file);
    const sim::RunResult result = back.run_until(options.rounds);
    CHECK(result.theta == reference.theta);
    CHECK(same_history(result.history, reference.history));
    CHECK(result.ledger == reference.ledger);
  }
}

// `saves` says what the method saves, to prove the runs exercise skipping and partial
// participation rather than agreeing trivially.
template <class Method>
void check_same(const Method& method, sim::Options options = {.seed = 7, .rounds = 25},
                Saves saves = Saves::nothing) {
  options.record_every = 4;
  Expected expected;
  const sim::RunResult reference =
      in_process(method, test::logistic_workers(M, n, p), options, expected);
  const auto every_round = static_cast<std::uint64_t>(M * options.rounds);
  REQUIRE(reference.history.rows.size() > 2);
  CHECK(reference.ledger.total().uploads ==
        (saves == Saves::nothing ? every_round : reference.ledger.total().uploads));
  if (saves == Saves::uploads) CHECK(reference.ledger.total().uploads < every_round);
  if (saves == Saves::downloads) {
    CHECK(reference.ledger.total().downloads < every_round);
  }
  const bool all_take_part = saves != Saves::downloads;
  mpi::Training training(method, M, logistic_factory(), Vector::Zero(p), options);
  const mpi::RunResult result = training.run();

  CHECK(result.status == reference.status);
  CHECK(result.message == reference.message);
  CHECK(result.theta == reference.theta);  // every rank knows the final θ
  CHECK(training.theta() == reference.theta);
  const std::uint64_t up_sent = sum_over_ranks(training.is_server() ? 0 : result.wire.payload_sent);
  if (training.is_server()) {
    CHECK(same_history(result.history, reference.history));
    CHECK(result.ledger == reference.ledger);
    CHECK(result.wire.payload_received == expected.up);
    CHECK(up_sent == expected.up);
    CHECK(result.wire.messages_received == reference.ledger.total().uploads);
    // θ^k goes to each rank hosting a worker (with more ranks than workers, not all); CD-Adam's
    // aggregate is broadcast to every rank.
    if (all_take_part) {
      const bool to_all = Method::ServerUpdate::shape == server::Shape::broadcast_aggregate;
      const Index hosting =
          to_all ? training.ranks() - 1 : std::min<Index>(training.ranks() - 1, M);
      CHECK(result.wire.payload_sent ==
            expected.down_per_rank * static_cast<std::uint64_t>(hosting));
    }
  } else if (all_take_part && training.block().size() > 0) {
    CHECK(result.wire.payload_received == expected.down_per_rank);
  }
  check_checkpoints(method, options, reference);
}

server::Sgd::Params minibatch_sgd(double eta = 0.5) {
  return {.step = server::StepSize::constant(eta), .batch = server::Batch::of(5)};
}

}  // namespace

TEST_CASE("SGD, QSGD and EF21 over MPI equal the in-process runs bit for bit", "[mpi]") {
  SECTION("SGD") {
    check_same(Sgd{.server = minibatch_sgd()});
  }
  SECTION("GD with exact doubles both ways") {
    check_same(Sgd{.server = {.step = server::StepSize::constant(1.0)}});
  }
  SECTION("GD with 32-bit floats both ways") {
    check_same(Sgd{.server = {.step = server::StepSize::constant(1.0)}, .float_bits = 32});
  }
  SECTION("QSGD") {
    check_same(Qsgd{.uplink = {.levels = 3}, .server = minibatch_sgd()});
  }
  SECTION("EF21 with top-k") {
    check_same(
        Ef21<compress::TopK>{.uplink = {.compressor = {.k = 3}}, .server = minibatch_sgd(0.3)});
  }
  // The server redraws the indices from the worker's stream: only the k values travel.
  SECTION("EF21 with rand-k from a shared seed") {
    check_same(Ef21<compress::RandK>{.uplink = {.compressor = {.k = 3, .shared_seed = true}},
                                     .server = minibatch_sgd(0.3)});
  }
  SECTION("compressed SGD with scaled rand-k from a shared seed, 32-bit values") {
    check_same(
        CompressedSgd<compress::RandK>{.uplink = {.k = 4, .scaled = true, .shared_seed = true},
                                       .server = minibatch_sgd(0.1),
                                       .float_bits = 32});
  }
  // The cost model runs on the server: devices that differ, a deadline and over-selection
  // drop uploads there, which are then not decoded.
  SECTION("QSGD with log-normal devices, a deadline and over-selection") {
    sim::CostModel cost{.shift = 0.01, .exp_mean = 0.01, .bandwidth_up = 2e3, .latency = 0.01};
    cost.devices = {.compute_sigma = 1, .bandwidth_sigma = 1};
    cost.deadline = 0.35;
    cost.keep = M - 1;
    const Qsgd method{.uplink = {.levels = 3}, .server = minibatch_sgd()};
    const sim::Options options{.seed = 7, .rounds = 25, .cost = cost};
    const auto dropped =
        sim::Simulation(method, test::logistic_workers(M, n, p), Vector::Zero(p), options)
            .run()
            .ledger.total()
            .dropped_uploads;
    CHECK(dropped > 0);
    CHECK(dropped < static_cast<std::uint64_t>(M * 25));
    check_same(method, options);
  }
  SECTION("EF-SGD with top-k") {
    check_same(EfSgd<compress::TopK>{
        .uplink = {.compressor = {.k = 3}},
        .server = {.step = server::StepSize::inverse_time(0.3, 5), .batch = server::Batch::of(5)}});
  }
}

TEST_CASE("lazily aggregated methods over MPI equal the in-process runs", "[mpi]") {
  const skip::LasgThreshold threshold{.D = 10, .d_max = 5};
  SECTION("LASG-WK2") {
    check_same(LasgWk2{.skip = threshold, .server = minibatch_sgd()}, {.seed = 3, .rounds = 40},
               Saves::uploads);
  }
  SECTION("LASG-WK2 with QSGD") {
    check_same(
        Laqsg<skip::LasgWk2>{.skip = threshold, .uplink = {.levels = 7}, .server = minibatch_sgd()},
        {.seed = 3, .rounds = 40}, Saves::uploads);
  }
  SECTION("LASG-WK1") {
    check_same(LasgWk1{.skip = threshold, .server = minibatch_sgd()}, {.seed = 3, .rounds = 40},
               Saves::uploads);
  }
  SECTION("LAG-WK, full gradients") {
    check_same(LagWk{.server = {.step = server::StepSize::constant(1.0)}},
               {.seed = 3, .rounds = 40}, Saves::uploads);
  }
  SECTION("LAQ: a candidate message compared with what the server holds") {
    check_same(Laq{.uplink = {.compressor = {.bits = 4}},
                   .server = {.step = server::StepSize::constant(1.0)}},
               {.seed = 3, .rounds = 40}, Saves::uploads);
  }
  SECTION("LASG-PS: the server sends theta only to the workers it contacts") {
    check_same(LasgPs{.skip = {.threshold = threshold}, .server = minibatch_sgd()},
               {.seed = 3, .rounds = 40}, Saves::downloads);
  }
  SECTION("LAG-PS") {
    check_same(LagPs{.server = {.step = server::StepSize::constant(1.0)}},
               {.seed = 3, .rounds = 40}, Saves::downloads);
  }
  // The contacted workers measure L̂_m on their own rank and send it beside their uploads.
  SECTION("LASG-PSE") {
    check_same(LasgPse{.skip = {.threshold = threshold}, .server = minibatch_sgd()},
               {.seed = 3, .rounds = 40}, Saves::downloads);
  }
  SECTION("LASG-PSE with 32-bit links") {
    check_same(
        LasgPse{.skip = {.threshold = threshold}, .server = minibatch_sgd(), .float_bits = 32},
        {.seed = 3, .rounds = 40}, Saves::downloads);
  }
  SECTION("QGD") {
    check_same(Qgd{.uplink = {.compressor = {.bits = 4}},
                   .server = {.step = server::StepSize::constant(1.0)}});
  }
}

TEST_CASE("FedPAQ and CD-Adam over MPI equal the in-process runs", "[mpi]") {
  SECTION("FedPAQ: 2 of 4 workers, 3 local steps, QSGD") {
    check_same(FedPaq{.uplink = {.levels = 2},
                      .server = {.step = server::StepSize::constant(0.3),
                                 .batch = server::Batch::of(5),
                                 .local_steps = 3,
                                 .participation = server::Participation::sample(2)}},
               {.seed = 5, .rounds = 20}, Saves::downloads);
  }
  SECTION("local SGD, every worker") {
    check_same(LocalSgd{.server = {.step = server::StepSize::constant(0.3),
                                   .batch = server::Batch::of(5),
                                   .local_steps = 2}});
  }
  SECTION("CD-Adam: Markov scaled sign both ways") {
    check_same(CdAdam<>{
        .server = {.step = server::StepSize::constant(0.05), .batch = server::Batch::of(5)}});
  }
  const server::Amsgrad::Params adam{.step = server::StepSize::constant(0.05),
                                     .batch = server::Batch::of(5)};
  SECTION("AMSGrad") {
    check_same(Amsgrad{.server = adam});
  }
  SECTION("AMSGrad with error feedback both ways") {
    check_same(AmsgradEf<>{.server = adam});
  }
  SECTION("AMSGrad with plain top-k both ways") {
    check_same(
        AmsgradNaive<compress::TopK>{.uplink = {.k = 3}, .server = adam, .downlink = {.k = 3}});
  }
}

namespace {

// A logistic worker whose gradient becomes NaN on its `poison_at`-th minibatch.
class Poisoned {
 public:
  Poisoned(objective::Logistic inner, int poison_at) : inner_(std::move(inner)), at_(poison_at) {}
  Index dim() const { return inner_.dim(); }
  Index size() const { return inner_.size(); }
  double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
    const double loss = inner_.gradient(x, batch, g);
    if (static_cast<Index>(batch.size()) < size() && calls_++ == at_) {
      g[0] = std::numeric_limits<double>::quiet_NaN();
    }
    return loss;
  }

 private:
  objective::Logistic inner_;
  int at_;
  int calls_ = 0;
};

std::vector<Poisoned> poisoned_workers(Index worker, int at) {
  std::vector<Poisoned> out;
  for (Index m = 0; m < M; ++m) {
    out.emplace_back(test::logistic_workers(M, n, p)[static_cast<std::size_t>(m)],
                     m == worker ? at : -1);
  }
  return out;
}

}  // namespace

TEST_CASE("every rank returns when the server stops early", "[mpi]") {
  const Sgd method{.server = minibatch_sgd()};
  const sim::Options options{.seed = 2, .rounds = 50, .record_every = 3};

  SECTION("a callback stops the run") {
    Expected expected;
    const auto stop_at_7 = [](const sim::RoundView& v) {
      return v.round == 7 ? sim::Control::stop : sim::Control::proceed;
    };
    const auto reference =
        in_process(method, test::logistic_workers(M, n, p), options, expected, stop_at_7);
    mpi::Training training(method, M, logistic_factory(), Vector::Zero(p), options);
    const auto result = training.run(stop_at_7);
    CHECK(result.status == sim::Status::stopped);
    CHECK(result.theta == reference.theta);
    if (training.is_server()) CHECK(same_history(result.history, reference.history));
  }
  SECTION("the target loss is reached") {
    Expected expected;
    const auto target = [](const sim::RoundView& v) {
      return v.record && v.record->loss < 0.45 ? sim::Control::stop : sim::Control::proceed;
    };
    const auto reference =
        in_process(method, test::logistic_workers(M, n, p), options, expected, target);
    REQUIRE(reference.status == sim::Status::stopped);
    mpi::Training training(method, M, logistic_factory(), Vector::Zero(p), options);
    const auto result = training.run(target);
    CHECK(result.status == sim::Status::stopped);
    CHECK(result.theta == reference.theta);
    if (training.is_server()) CHECK(same_history(result.history, reference.history));
  }
  SECTION("a worker's gradient becomes NaN") {
    Expected expected;
    const auto reference = in_process(method, poisoned_workers(3, 6), options, expected);
    REQUIRE(reference.status == sim::Status::diverged);
    mpi::Training training(
        method, M,
        [](Index m) { return std::move(poisoned_workers(3, 6)[static_cast<std::size_t>(m)]); },
        Vector::Zero(p), options);
    const auto result = training.run();
    CHECK(result.status == sim::Status::diverged);
    CHECK(result.message == reference.message);
    CHECK(result.message == "diverged: non-finite gradient at worker 3 in round 6");
    CHECK(result.theta == reference.theta);
    if (training.is_server()) {
      CHECK(same_history(result.history, reference.history));
      CHECK(result.ledger == reference.ledger);
    }
  }
  // The verdicts sim/run.hpp gives, the same on every rank: a model the 32-bit downlink cannot
  // carry, a loss far above its start (with the step warning), and a target reached.
  const auto same_verdict = [&](const auto& other, const sim::Options& o, const Vector& theta0,
                                sim::Status status) {
    sim::Simulation simulation(other, test::logistic_workers(M, n, p), theta0, o);
    const auto reference = simulation.run();
    REQUIRE(reference.status == status);
    mpi::Training training(other, M, logistic_factory(), theta0, o);
    const auto result = training.run();
    CHECK(result.status == reference.status);
    CHECK(result.divergence == reference.divergence);
    CHECK(result.message == reference.message);
    CHECK(result.theta == reference.theta);
    if (training.is_server()) CHECK(same_history(result.history, reference.history));
  };
  SECTION("a model the 32-bit downlink cannot carry") {
    same_verdict(Sgd{.server = minibatch_sgd(), .float_bits = 32}, options,
                 Vector::Constant(p, 1e300), sim::Status::diverged);
  }
  SECTION("a loss far above its start, after a warning about the step") {
    same_verdict(Gd{.server = {.step = server::StepSize::constant(1e5)}}, options, Vector::Zero(p),
                 sim::Status::diverged);
  }
  SECTION("a target reached") {
    sim::Options target = options;
    target.target_grad_norm_sq = 1e-3;
    same_verdict(Gd{.server = {.step = server::StepSize::constant(1)}}, target, Vector::Zero(p),
                 sim::Status::reached);
  }
}

// Shards of 8, 16, …, 48 samples: the weights n_m/N differ, and the lazy rule's thresholds
// with them.
TEST_CASE("sample weighting over MPI equals the in-process run", "[mpi]") {
  const auto uneven = [](Index m) {
    static const auto data =
        data::make_logistic({.samples = 8 * M * (M + 1) / 2, .features = p, .seed = 4}).data;
    const Index begin = 8 * m * (m + 1) / 2;
    return objective::Logistic(data::Shard{data, begin, begin + 8 * (m + 1)},
                               objective::Logistic::Params{.lambda = 1e-3});
  };
  std::vector<objective::Logistic> workers;
  for (Index m = 0; m < M; ++m) workers.push_back(uneven(m));
  const LagWk method{.server = {.step = server::StepSize::constant(1.0)}};
  const sim::Options options{
      .seed = 3, .rounds = 40, .record_every = 4, .weighting = sim::Weighting::samples};
  const auto reference = sim::Simulation(method, workers, Vector::Zero(p), options).run();
  REQUIRE(reference.ledger.total().uploads < static_cast<std::uint64_t>(M * 40));
  mpi::Training training(method, M, uneven, Vector::Zero(p), options);
  const auto result = training.run();
  CHECK(result.theta == reference.theta);
  if (training.is_server()) {
    CHECK(same_history(result.history, reference.history));
    CHECK(result.ledger == reference.ledger);
  }
}

namespace {

// What each rank raised from run(), as "type: message" (a PeerError's nested exception, the
// failing rank's own, after " <- ").
template <class F>
std::string raised_by(F&& f) {
  try {
    f();
  } catch (const DecodeError& e) {
    return std::string("DecodeError: ") + e.what();
  } catch (const CheckpointError& e) {
    return std::string("CheckpointError: ") + e.what();
  } catch (const mpi::PeerError& e) {
    std::string what = std::string("PeerError: ") + e.what();
    try {
      std::rethrow_if_nested(e);
    } catch (const std::exception& own) {
      what += std::string(" <- ") + own.what();
    }
    return what;
  } catch (const std::exception& e) {
    return std::string("other: ") + e.what();
  }
  return "returned";
}
template <class T>
std::string raised(T& training) {
  return raised_by([&] { training.run(); });
}

// Runs QSGD with `tamper` applied to worker 1's upload in round 3; returns what each rank
// raised.
std::string run_tampered(const std::function<void(Message&)>& tamper) {
  const Qsgd method{.uplink = {.levels = 3, .encoding = compress::Qsgd::Encoding::fixed},
                    .server = minibatch_sgd()};
  mpi::Training training(method, M, logistic_factory(), Vector::Zero(p), {.seed = 1, .rounds = 10},
                         {.tamper_upload = [&](Index k, Index m, Message& message) {
                           if (k == 3 && m == 1) tamper(message);
                         }});
  return raised(training);
}

}  // namespace

TEST_CASE("a malformed upload stops every rank with a clear error", "[mpi]") {
  const bool server = world_rank() == 0;
  SECTION("a truncated message: its size contradicts its declared bits") {
    const std::string what = run_tampered([](Message& m) { m.bytes.pop_back(); });
    if (server) {
      CHECK_THAT(what, Catch::StartsWith("DecodeError: laconic::mpi: the upload of worker 1 in "
                                         "round 3 from rank") &&
                           Catch::Contains("bytes where its"));
    } else {
      CHECK_THAT(what, Catch::StartsWith("PeerError: laconic::mpi: the server stopped the run"));
    }
  }
  SECTION("a message cut short together with its declared bits reaches the decoder") {
    const std::string what = run_tampered([](Message& m) {
      m.bytes.resize(3);
      m.bits = Bits{.metadata = 24};
    });
    if (server) {
      CHECK_THAT(what, Catch::Contains("worker 1 in round 3") && Catch::Contains("truncated"));
    } else {
      CHECK_THAT(what,
                 Catch::Contains("the server stopped the run") && Catch::Contains("truncated"));
    }
  }
  SECTION("a corrupted header") {
    const std::string what = run_tampered([](Message& m) { m.bytes[0] |= 3; });
    CHECK_THAT(what, Catch::Contains("qsgd: unknown encoding 3"));
  }
}

// Each phase's failure reaches every rank, which raises it naming the rank, the round and the
// phase; ctest's timeout bounds each, so a rank left waiting fails the test.
TEST_CASE("a failure on a worker rank stops every rank", "[mpi]") {
  // Worker 1's objective throws on its third minibatch gradient (round 2) or on its third full
  // gradient (the History row of round 2).
  struct Throwing {
    objective::Logistic inner;
    Index worker;
    bool in_measurement;
    Index dim() const { return inner.dim(); }
    Index size() const { return inner.size(); }
    double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
      if (!in_measurement && worker == 1 && ++calls == 3)
        throw std::runtime_error("out of memory, say");
      return inner.gradient(x, batch, g);
    }
    double full_gradient(const Vector& x, Vector& g) {
      if (in_measurement && worker == 1 && ++calls == 3) throw std::runtime_error("disk gone, say");
      return inner.full_gradient(x, g);
    }
    int calls = 0;
  };
  const auto factory = [](bool in_measurement) {
    return [in_measurement](Index m) {
      return Throwing{test::logistic_workers(M, n, p)[static_cast<std::size_t>(m)], m,
                      in_measurement};
    };
  };
  const bool failing_rank =
      mpi::Block::of(world_rank(), mpi::size_of(MPI_COMM_WORLD), M).contains(1);
  SECTION("in training") {
    mpi::Training training(Sgd{.server = minibatch_sgd()}, M, factory(false), Vector::Zero(p),
                           {.seed = 1, .rounds = 10});
    const std::string what = raised(training);
    CHECK_THAT(what, Catch::StartsWith("PeerError: ") &&
                         Catch::Contains("failed in round 2 (training): out of memory, say"));
    CHECK((what.find(" <- out of memory, say") != std::string::npos) == failing_rank);
  }
  SECTION("in measurement") {
    mpi::Training training(LasgWk2{.server = minibatch_sgd()}, M, factory(true), Vector::Zero(p),
                           {.seed = 1, .rounds = 10});
    const std::string what = raised(training);
    CHECK_THAT(what, Catch::StartsWith("PeerError: ") &&
                         Catch::Contains("failed in round 2 (measurement): disk gone, say"));
    CHECK((what.find(" <- disk gone, say") != std::string::npos) == failing_rank);
  }
  // A failed run's errors are reported once: a later failure carries its own.
  SECTION("twice") {
    struct Again {
      objective::Logistic inner;
      Index worker;
      int calls = 0;
      Index dim() const { return inner.dim(); }
      Index size() const { return inner.size(); }
      double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
        ++calls;
        if (worker == 1 && calls == 3) throw std::runtime_error("first failure");
        if (worker == 1 && calls == 6) throw std::runtime_error("second failure");
        return inner.gradient(x, batch, g);
      }
    };
    const auto twice = [](Index m) {
      return Again{test::logistic_workers(M, n, p)[static_cast<std::size_t>(m)], m};
    };
    mpi::Training training(Sgd{.server = minibatch_sgd()}, M, twice, Vector::Zero(p),
                           {.seed = 1, .rounds = 10});
    CHECK_THAT(raised(training), Catch::Contains("): first failure"));
    const std::string what = raised(training);
    CHECK_THAT(what, Catch::Contains("): second failure"));
    CHECK((what.find(" <- second failure") != std::string::npos) == failing_rank);
    CHECK(what.find("<- first failure") == std::string::npos);
  }
}

// A worker's accounting is checked against the bytes that arrived: a count with 2^63 added is
// refused, naming the worker and its rank, before it reaches the ledger.
TEST_CASE("the server refuses an upload whose accounting the bytes contradict", "[mpi]") {
  const bool server = world_rank() == 0;
  const std::uint64_t huge = std::uint64_t{1} << 63;
  SECTION("a bit field") {
    const std::string what = run_tampered([&](Message& m) { m.bits.values += huge; });
    if (server) {
      CHECK_THAT(what, Catch::StartsWith("DecodeError: laconic::mpi: the upload of worker 1 in "
                                         "round 3 from rank") &&
                           Catch::Contains("beyond its"));
    } else {
      CHECK_THAT(what, Catch::Contains("the server stopped the run in round 3 (training)"));
    }
  }
  SECTION("the paper count") {
    const std::string what = run_tampered([&](Message& m) { m.bits.paper += huge; });
    if (server) CHECK_THAT(what, Catch::Contains("a paper count"));
  }
}

TEST_CASE("invalid parameters are refused on every rank", "[mpi]") {
  const Sgd method{.server = {.batch = server::Batch::of(1000)}};
  CHECK_THROWS_WITH(mpi::Training(method, M, logistic_factory(), Vector::Zero(p)),
                    Catch::Contains("server.batch.samples"));
  CHECK_THROWS_WITH(mpi::Training(Sgd{}, M, logistic_factory(), Vector::Zero(p + 1)),
                    Catch::Contains("workers[0].dim()"));
  CHECK_THROWS_WITH(mpi::Training(CompressedSgd<compress::TopK>{.uplink = {.k = p + 1}}, M,
                                  logistic_factory(), Vector::Zero(p)),
                    Catch::Contains("top_k.k = 11: must be at most the dimension p = 10"));
  CHECK_THROWS_WITH(
      mpi::Training(Sgd{}, M, logistic_factory(), Vector::Zero(p), {}, {.comm = MPI_COMM_NULL}),
      Catch::Contains("mpi.comm = MPI_COMM_NULL: must be a communicator"));
}

TEST_CASE("a worker that cannot be built is refused on every rank", "[mpi]") {
  const auto factory = [](Index m) {
    if (m == 3) throw std::runtime_error("no data for worker 3");
    return test::logistic_workers(M, n, p)[static_cast<std::size_t>(m)];
  };
  CHECK_THROWS_WITH(mpi::Training(Sgd{}, M, factory, Vector::Zero(p)),
                    Catch::Contains(": no data for worker 3"));
}

// Options::checkpoint_every saves while running, as save() does, and Options::history_path
// keeps every recorded row on disk; a checkpoint that cannot be written, or one that cannot
// be read, reaches every rank.
TEST_CASE("checkpoints while running over MPI, and checkpoints that fail", "[mpi]") {
  const bool server = world_rank() == 0;
  const LasgWk2 method{.skip = {.D = 10, .d_max = 5}, .server = minibatch_sgd()};
  sim::Options options{.seed = 3,
                       .rounds = 23,
                       .record_every = 2,
                       .checkpoint_every = 5,
                       .checkpoint_path = scratch_file("periodic.ckpt"),
                       .history_path = scratch_file("periodic.csv")};
  SECTION("every 5 rounds and at the end, with the History on disk row by row") {
    mpi::Training training(method, M, logistic_factory(), Vector::Zero(p), options);
    const mpi::RunResult result = training.run();
    if (server) {
      CHECK(test::read_file(options.history_path) == result.history.to_csv());
      sim::Simulation last(method, test::logistic_workers(M, n, p), Vector::Zero(p), options);
      last.load(options.checkpoint_path);
      CHECK(last.round() == 23);
      CHECK(last.history() == result.history);
      CHECK(last.theta() == result.theta);
    }
  }
  SECTION("a checkpoint that cannot be written stops every rank") {
    const auto file = scratch_file("a_file");
    if (server) std::ofstream(file) << "not a directory";
    options.checkpoint_path = file / "run.ckpt";
    mpi::Training training(method, M, logistic_factory(), Vector::Zero(p), options);
    const std::string what = raised(training);
    CHECK_THAT(what, Catch::Contains("run.ckpt: cannot write the checkpoint: "));
    if (server) {
      CHECK_THAT(what, Catch::StartsWith("CheckpointError: "));
    } else {
      CHECK_THAT(what, Catch::StartsWith("PeerError: laconic::mpi: the server stopped the run in "
                                         "round 5 (checkpoint)"));
    }
  }
  SECTION("a file that is no checkpoint is refused on every rank, which stay as they were") {
    const auto file = scratch_file("not_a_checkpoint");
    if (server) std::ofstream(file) << "hello";
    options = {.seed = 3, .rounds = 12, .record_every = 2};
    mpi::Training training(method, M, logistic_factory(), Vector::Zero(p), options);
    const std::string what = raised_by([&] { training.load(file); });
    CHECK_THAT(what, Catch::Contains("not_a_checkpoint: not a laconic checkpoint"));
    if (!server) CHECK_THAT(what, Catch::Contains("(checkpoint)"));
    Expected expected;
    const sim::RunResult reference =
        in_process(method, test::logistic_workers(M, n, p), options, expected);
    const mpi::RunResult result = training.run();
    CHECK(result.theta == reference.theta);
    if (server) CHECK(same_history(result.history, reference.history));
  }
}
