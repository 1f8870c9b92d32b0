#include <laconic/compress/top_k.hpp>
#include <laconic/methods.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "skip/fixtures.hpp"
#include "support.hpp"

#include <filesystem>
#include <fstream>
#include <string>

using namespace laconic;

namespace {

constexpr Index M = 4, n = 200, p = 5, total = 40, cut = 17;

std::filesystem::path checkpoint_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "laconic_tests";
  std::filesystem::create_directories(dir);
  return dir / (name + ".ckpt");
}

// A History row every 5 rounds, which divides neither `cut` nor `total − cut`.
template <class Method>
sim::Simulation<Method, objective::Logistic> make(const Method& method, Index rounds,
                                                  int threads = 1, sim::Options options = {}) {
  options.seed = 9;
  options.rounds = rounds;
  options.threads = threads;
  if (options.record_every == 1) options.record_every = 5;
  options.cost = {.shift = 1, .exp_mean = 0.5, .bandwidth_up = 1e3};
  return sim::Simulation(method, test::logistic_workers(M, n, p), Vector::Zero(p), options);
}

// Runs `total` rounds at once, and `cut` rounds, a save, a load into a fresh simulation and the
// rest; the two must agree bit for bit, History rows included.
template <class Method>
void check_resume(const Method& method, const std::string& name) {
  INFO(name);
  const auto whole = make(method, total).run();
  auto first = make(method, cut);
  first.run();
  const auto path = checkpoint_path(name);
  first.save(path);
  auto second = make(method, total - cut, 2);
  second.load(path);
  CHECK(second.round() == cut);
  const auto rest = second.run();
  CHECK(rest.theta == whole.theta);
  CHECK(rest.history == whole.history);
  CHECK(rest.ledger == whole.ledger);
}

}  // namespace

TEST_CASE("a run stopped, saved and resumed equals the uninterrupted run", "[sim]") {
  const auto step = server::StepSize::constant(0.3);
  const auto batch = server::Batch::of(10);
  check_resume(Sgd{.server = {.step = step, .batch = batch}}, "sgd");
  check_resume(Qsgd{.uplink = {.levels = 3}, .server = {.step = step, .batch = batch}}, "qsgd");
  check_resume(Ef21<compress::TopK>{.uplink = {.compressor = {.k = 2}}, .server = {.step = step}},
               "ef21");
  check_resume(EfSgd<compress::TopK>{.uplink = {.compressor = {.k = 2}}, .server = {.step = step}},
               "ef_sgd");
  check_resume(LagWk{.server = {.step = step}}, "lag_wk");
  check_resume(LagPs{.server = {.step = step}}, "lag_ps");
  check_resume(Laq{.server = {.step = step}}, "laq");
  check_resume(Qgd{.server = {.step = step}}, "qgd");
  check_resume(LasgWk1{.skip = {.D = 10}, .server = {.step = step, .batch = batch}}, "lasg_wk1");
  check_resume(LasgWk2{.skip = {.D = 10}, .server = {.step = step, .batch = batch}}, "lasg_wk2");
  check_resume(LasgPs{.skip = {.threshold = {.D = 10}}, .server = {.step = step, .batch = batch}},
               "lasg_ps");
  check_resume(LasgPse{.skip = {.threshold = {.D = 10}}, .server = {.step = step, .batch = batch}},
               "lasg_pse");
  check_resume(
      Laqsg<skip::LasgWk2>{
          .skip = {.D = 10}, .uplink = {.levels = 7}, .server = {.step = step, .batch = batch}},
      "laqsg");
  check_resume(LocalSgd{.server = {.step = step, .batch = batch, .local_steps = 3}}, "local_sgd");
  check_resume(FedPaq{.uplink = {.levels = 1},
                      .server = {.step = step,
                                 .batch = batch,
                                 .local_steps = 3,
                                 .participation = server::Participation::sample(2)}},
               "fedpaq");
  const server::Amsgrad::Params adam{.step = server::StepSize::constant(0.01)};
  check_resume(Amsgrad{.server = adam}, "amsgrad");
  check_resume(CdAdam<>{.server = adam}, "cd_adam");
  check_resume(AmsgradEf<>{.server = adam}, "amsgrad_ef");
  check_resume(AmsgradNaive<>{.server = adam}, "amsgrad_naive");
}

TEST_CASE("a resumed run stops for a rising loss where the uninterrupted run stops", "[sim]") {
  // A step far too large: the loss rises from row to row. Rows every 3 rounds; the run is cut
  // at every round, none of which (but the multiples of 3) is a row of the whole run.
  const Sgd method{.server = {.step = server::StepSize::constant(60)}};
  const sim::Options options{.record_every = 3, .stop_after_loss_rises = 3};
  const auto whole = make(method, total, 1, options).run();
  REQUIRE(whole.status == sim::Status::diverged);
  REQUIRE(whole.divergence->rises == 3);
  const Index stop = whole.divergence->round;
  for (Index at = 1; at < stop; ++at) {
    INFO("cut at round " << at);
    auto first = make(method, at, 1, options);
    REQUIRE(first.run().status == sim::Status::completed);
    const auto path = checkpoint_path("rising");
    first.save(path);
    auto second = make(method, total - at, 1, options);
    second.load(path);
    const auto rest = second.run();
    CHECK(rest.status == sim::Status::diverged);
    CHECK(rest.divergence == whole.divergence);
    CHECK(rest.history == whole.history);
    CHECK(rest.theta == whole.theta);
  }
}

TEST_CASE("a checkpoint of another run, a truncated or a corrupted one is refused", "[sim]") {
  const LasgWk2 method{.skip = {.D = 10}, .server = {.batch = server::Batch::of(10)}};
  auto original = make(method, cut);
  original.run();
  const auto path = checkpoint_path("refused");
  original.save(path);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto fresh = make(method, 1);
  auto refused = [&](const std::string& contents, const std::string& why) {
    const auto bad = checkpoint_path("bad");
    std::ofstream(bad, std::ios::binary) << contents;
    CHECK_THROWS_WITH(fresh.load(bad), Catch::Contains(why));
    CHECK(fresh.round() == 0);  // untouched
    CHECK(fresh.history().rows.empty());
  };
  refused(bytes.substr(0, bytes.size() / 2), "truncated");
  refused(bytes.substr(0, 10), "not a laconic checkpoint");
  refused("hello, world: certainly not a checkpoint", "not a laconic checkpoint");
  for (const std::size_t at : {std::size_t{40}, bytes.size() / 2, bytes.size() - 3}) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    refused(flipped, "corrupted");
  }
  std::string newer = bytes;
  newer[19] = static_cast<char>(sim::checkpoint_version + 1);  // the format version
  refused(newer, fmt::format("format version {}", sim::checkpoint_version + 1));
  // A missing or unreadable checkpoint names the operating system's reason.
  CHECK_THROWS_WITH(fresh.load(checkpoint_path("does_not_exist")),
                    Catch::Contains("cannot open") && Catch::Contains("No such file or directory"));
  CHECK_THROWS_WITH(fresh.load(std::filesystem::temp_directory_path()),
                    Catch::Contains("cannot open") && Catch::Contains("is a directory"));

  const LasgWk2 other{.skip = {.D = 11}, .server = {.batch = server::Batch::of(10)}};
  auto different = make(other, 1);
  CHECK_THROWS_WITH(different.load(path), Catch::Contains("written by a different run"));
  CHECK_THROWS_WITH(different.load(path), Catch::Contains("D=11"));

  fresh.load(path);  // and the genuine one still loads
  CHECK(fresh.round() == cut);
}

TEST_CASE("a checksummed state of another shape or an unreachable round is refused, not run",
          "[sim]") {
  // The state of a run with other workers or another dimension, in an envelope made for this
  // run (right description, right checksum): only the lengths inside can tell.
  const auto check = [](const auto& method) {
    const auto build = [&](Index workers, Index dim) {
      return sim::Simulation(method, test::logistic_workers(workers, n, dim), Vector::Zero(dim),
                             {.seed = 9, .rounds = 3});
    };
    auto target = build(M, p);
    target.run();
    const auto before = checkpoint_path("shape_before");
    target.save(before);
    for (const auto& [workers, dim] : {std::pair{M, p + 1}, std::pair{M - 1, p}}) {
      auto other = build(workers, dim);
      other.run();
      const auto path = checkpoint_path("shape_other");
      other.save(path);
      sim::write_checkpoint(path, target.describe(), sim::read_checkpoint(path, other.describe()));
      CHECK_THROWS_WITH(target.load(path), Catch::Contains("differ in length"));
      const auto after = checkpoint_path("shape_after");
      target.save(after);
      CHECK(sim::read_checkpoint(after, target.describe()) ==
            sim::read_checkpoint(before, target.describe()));  // restored as it was
    }
    // The state starts with the round, a little-endian u64: 2^62 would overflow the step
    // index of local steps (k·τ) within a few rounds.
    std::string state = sim::read_checkpoint(before, target.describe());
    state[7] = 0x40;
    const auto path = checkpoint_path("far_round");
    sim::write_checkpoint(path, target.describe(), state);
    CHECK_THROWS_WITH(target.load(path), Catch::Contains("outside 0..2^40"));
  };
  check(LasgWk2{.skip = {.D = 3}});
  check(Laq{});
  check(CdAdam<>{});
  check(LocalSgd{.server = {.local_steps = 3}});
}

TEST_CASE("saving replaces a checkpoint in one step", "[sim]") {
  auto sim = make(Sgd{}, 3);
  const auto path = checkpoint_path("replace");
  sim.run();
  sim.save(path);
  sim.run();
  sim.save(path);
  CHECK_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  auto fresh = make(Sgd{}, 1);
  fresh.load(path);
  CHECK(fresh.round() == 6);
}

// A job killed between two periodic checkpoints: the History file on disk holds every row
// recorded before the kill, and run_until() from the last checkpoint finishes as the
// uninterrupted run, rewriting the file to the same bytes.
TEST_CASE("a run killed between periodic checkpoints loses no recorded row and resumes exactly",
          "[sim]") {
  const LasgWk2 method{
      .skip = {.D = 10},
      .server = {.step = server::StepSize::constant(0.3), .batch = server::Batch::of(10)}};
  const auto whole = make(method, 23, 1, {.record_every = 2}).run();
  const sim::Options options{.record_every = 2,
                             .checkpoint_every = 5,
                             .checkpoint_path = checkpoint_path("periodic"),
                             .history_path = checkpoint_path("periodic_history")};
  std::filesystem::remove(options.checkpoint_path);
  auto killed = make(method, 23, 1, options);
  const auto kill_at_13 = [](const sim::RoundView& v) -> sim::Control {
    if (v.round == 13) throw std::runtime_error("killed");
    return sim::Control::proceed;
  };
  CHECK_THROWS_WITH(killed.run(kill_at_13), "killed");
  sim::History recorded{whole.history.description, {}};
  for (const sim::Record& row : whole.history.rows) {
    if (row.round <= 13) recorded.rows.push_back(row);
  }
  CHECK(test::read_file(options.history_path) == recorded.to_csv());  // rows 0, 2, …, 12

  auto resumed = make(method, 23, 2, options);
  resumed.load(options.checkpoint_path);
  CHECK(resumed.round() == 10);
  const auto rest = resumed.run_until(23);
  CHECK(rest.theta == whole.theta);
  CHECK(rest.history == whole.history);
  CHECK(rest.ledger == whole.ledger);
  CHECK(test::read_file(options.history_path) == whole.history.to_csv());

  CHECK_THROWS_WITH(resumed.run_until(22),
                    Catch::Contains("run_until round = 22: must be in 23..2^40"));
  CHECK_THROWS_WITH(make(method, 1, 1, {.checkpoint_every = 5}),
                    Catch::Contains("checkpoint_path = empty"));
}
