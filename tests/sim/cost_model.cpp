#include <laconic/methods.hpp>
#include <laconic/sim/cost_model.hpp>
#include <laconic/sim/simulation.hpp>

#include <catch2/catch.hpp>

#include "sim/fixtures.hpp"
#include "support.hpp"

#include <cmath>
#include <limits>
#include <vector>

using namespace laconic;
using laconic::test::Points;

namespace {

// Worker 0 holds one point, worker 1 three: full gradients cost 1 and 3 sample gradients.
std::vector<Points> uneven_workers() {
  const Vector a = Vector::Constant(1, 1.0), b = Vector::Constant(1, 2.0);
  return {Points({a}), Points({a, b, b})};
}

sim::RunResult run(const sim::CostModel& cost, Index rounds) {
  return sim::Simulation(Gd{}, uneven_workers(), Vector::Zero(1), {.rounds = rounds, .cost = cost})
      .run();
}

}  // namespace

// One 64-bit float each way; 64 bits at 16 bits per unit down is 4 units, at 32 up is 2,
// each plus a latency of ½; a sample gradient takes 1.
//   parallel: max(4.5 + 1 + 2.5, 4.5 + 3 + 2.5) = 10 per round
//   shared:   4.5 (one broadcast) + 3 (slowest computation) + 2.5 + 2.5 (uploads in turn) = 12.5
TEST_CASE("round time is the slowest participant, or the shared link's sum", "[sim]") {
  sim::CostModel cost{.shift = 1, .bandwidth_up = 32, .bandwidth_down = 16, .latency = 0.5};
  const auto parallel = run(cost, 3);
  CHECK(parallel.history.rows[1].time == 10);
  CHECK(parallel.history.rows.back().time == 30);
  cost.links = sim::CostModel::Links::shared;
  CHECK(run(cost, 3).history.rows.back().time == 3 * 12.5);
  CHECK(run({}, 3).history.rows.back().time == 0);
}

TEST_CASE("compute time is shift plus an exponential, both per sample", "[sim]") {
  const sim::CostModel cost{.shift = 0.5, .exp_mean = 0.25};
  const int trials = 20000;
  double sum = 0, sum_sq = 0;
  for (int k = 0; k < trials; ++k) {
    const double t = cost.compute(9, k, 3, 4);
    CHECK(t >= 2.0);
    sum += t - 2.0;
    sum_sq += (t - 2.0) * (t - 2.0);
  }
  // Exp with mean 4 · 0.25 = 1: mean 1, variance 1.
  const double mean = sum / trials;
  CHECK(std::abs(mean - 1.0) < 4 / std::sqrt(trials));
  CHECK(std::abs(sum_sq / trials - mean * mean - 1.0) < 0.1);
  CHECK(cost.compute(9, 5, 3, 4) == cost.compute(9, 5, 3, 4));
  CHECK(cost.compute(9, 5, 3, 0) == 0);
}

TEST_CASE("a skipped upload or an idle worker costs no time", "[sim]") {
  // LAG-PS at k = 1, 2 contacts nobody (tests/skip/lag.cpp): those rounds take no time.
  const LagPs method{.skip = {.threshold = {.D = 1, .xi = 1.0}, .smoothness = {1.0, 1.0}},
                     .server = {.step = server::StepSize::constant(0.5)}};
  std::vector<Points> workers = {Points({Vector::Constant(1, 1.0)}),
                                 Points({Vector::Constant(1, 3.0)})};
  const sim::CostModel cost{.shift = 1, .latency = 1};
  const auto result =
      sim::Simulation(method, workers, Vector::Zero(1), {.rounds = 4, .cost = cost}).run();
  const std::vector<double> time{0, 3, 3, 3, 6};
  for (std::size_t k = 0; k < time.size(); ++k) CHECK(result.history.rows[k].time == time[k]);
}

TEST_CASE("CostModel: invalid parameters name themselves, their value and the allowed range",
          "[sim]") {
  using Catch::Contains;
  // Checked by the Simulation's constructor through Options::validate().
  const auto refused = [](sim::CostModel cost) {
    return test::refusal([&] {
      sim::Simulation(Sgd{}, std::vector<Points>{Points({Vector::Zero(1)})}, Vector::Zero(1),
                      {.cost = cost});
    });
  };
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  CHECK_THAT(refused({.shift = -1}), Contains("cost.shift = -1: must be >= 0 and finite"));
  CHECK_THAT(refused({.shift = nan}), Contains("cost.shift = nan: must be >= 0 and finite"));
  CHECK_THAT(refused({.exp_mean = -1}), Contains("cost.exp_mean = -1: must be >= 0 and finite"));
  CHECK_THAT(refused({.exp_mean = inf}), Contains("cost.exp_mean = inf: must be >= 0 and finite"));
  CHECK_THAT(refused({.bandwidth_up = 0}),
             Contains("cost.bandwidth_up = 0: must be > 0 (may be infinite)"));
  CHECK_THAT(refused({.bandwidth_up = nan}), Contains("cost.bandwidth_up = nan: must be > 0"));
  CHECK_THAT(refused({.bandwidth_down = -1}),
             Contains("cost.bandwidth_down = -1: must be > 0 (may be infinite)"));
  CHECK_THAT(refused({.bandwidth_down = nan}), Contains("cost.bandwidth_down = nan: must be > 0"));
  CHECK_THAT(refused({.latency = -1}), Contains("cost.latency = -1: must be >= 0 and finite"));
  CHECK_THAT(refused({.latency = nan}), Contains("cost.latency = nan: must be >= 0 and finite"));
  CHECK_THAT(refused({.links = static_cast<sim::CostModel::Links>(2)}),
             Contains("cost.links = 2: must be parallel or shared"));
  CHECK(refused({.shift = 0,
                 .exp_mean = 0,
                 .bandwidth_up = 5e-324,
                 .bandwidth_down = inf,
                 .latency = 0,
                 .links = sim::CostModel::Links::shared}) == "accepted");
}

// ---- Heterogeneous time: devices, availability, deadlines and over-selection ---------------

namespace {

sim::Options timed(const sim::CostModel& cost, Index rounds) {
  return {.rounds = rounds, .cost = cost};
}

// What building `make` throws, or "accepted".
template <class F>
std::string error_of(F&& make) {
  try {
    make();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "accepted";
}

// A trace file under the temporary directory, named for the test.
std::string trace_file(const std::string& name, const std::string& text) {
  return test::write_temp("laconic_trace_" + name + ".csv", text).string();
}

// 8 workers of 6 points in 3 dimensions.
std::vector<Points> eight_workers() {
  std::vector<Points> workers;
  RandomStream rng(4, Purpose::user);
  for (int m = 0; m < 8; ++m) {
    std::vector<Vector> points;
    for (int i = 0; i < 6; ++i) {
      Vector c(3);
      for (Index j = 0; j < 3; ++j) c[j] = rng.normal() + m;
      points.push_back(c);
    }
    workers.emplace_back(points);
  }
  return workers;
}

}  // namespace

// The example of the first test case: per round worker 0 takes 4.5 + 1 + 2.5 = 8, worker 1
// 4.5 + 3 + 2.5 = 10. The average participant downloads 4.5, computes 2, uploads 2.5 and waits
// 1 for worker 1; on the shared link it computes 2 and waits 1 for the slowest computation,
// the broadcast is 4.5 and the two uploads in turn 5.
TEST_CASE("time's parts: the average participant's download, computation, upload and wait",
          "[sim]") {
  sim::CostModel cost{.shift = 1, .bandwidth_up = 32, .bandwidth_down = 16, .latency = 0.5};
  const auto parallel = run(cost, 3);
  CHECK(parallel.history.rows[1].time_parts == sim::TimeParts{4.5, 2, 2.5, 1});
  CHECK(parallel.history.rows[3].time_parts == sim::TimeParts{13.5, 6, 7.5, 3});
  cost.links = sim::CostModel::Links::shared;
  CHECK(run(cost, 1).history.rows[1].time_parts == sim::TimeParts{4.5, 2, 5, 1});
  // The default (homogeneous, no deadline) is the model above: nothing is dropped.
  CHECK(parallel.ledger.total().dropped_uploads == 0);
}

// Worker 0 takes row 0 (shift 1, no latency), worker 1 row 1 (shift 0.5, latency 2); links
// are infinitely fast. Per round: worker 0 computes 1 sample for 1; worker 1 downloads for 2,
// computes 3 samples for 1.5 and uploads for 2: 5.5.
TEST_CASE("a device trace sets each worker's times as written", "[sim]") {
  sim::CostModel cost{.shift = 7, .latency = 9};
  cost.devices.trace = trace_file("devices", "# per worker\nshift, latency\n1, 0\n\n0.5,2\n");
  const auto result = run(cost, 2);
  CHECK(result.history.rows[1].time == 5.5);
  CHECK(result.history.rows[2].time == 11);
  CHECK(result.history.rows[1].time_parts == sim::TimeParts{1, 1.25, 1, 2.25});
  CHECK_THAT(result.history.description, Catch::Contains("devices=trace("));
  // Rows repeat when the trace is shorter than the run: a third worker takes row 0.
  sim::Clock clock(cost, 3, 0);
  CHECK(clock.device(2).shift == 1);
  CHECK(clock.device(2).latency == 0);
  CHECK(clock.device(1).bandwidth_up == sim::infinite_time);  // not in the trace: the model's
}

TEST_CASE("log-normal devices: factors of mean 1 with the given spread", "[sim]") {
  sim::CostModel cost{.shift = 2, .exp_mean = 1, .bandwidth_up = 100, .bandwidth_down = 10};
  cost.devices = {.compute_sigma = 0.8, .bandwidth_sigma = 0.5};
  const Index n = 40000;
  const sim::Clock clock(cost, n, 11);
  double compute = 0, bandwidth = 0, log_sq = 0;
  for (Index m = 0; m < n; ++m) {
    const sim::Device& d = clock.device(m);
    CHECK(d.exp_mean == d.shift / 2);  // one factor for both parts of the compute time
    CHECK(d.bandwidth_up / d.bandwidth_down == Approx(10));
    compute += d.shift / 2;
    bandwidth += d.bandwidth_up / 100;
    const double l = std::log(d.shift / 2) + 0.8 * 0.8 / 2;
    log_sq += l * l;
  }
  // E[factor] = 1, with standard deviations √(e^{σ²} − 1) = 0.947 and 0.533 per worker.
  CHECK(std::abs(compute / n - 1) < 4 * 0.947 / std::sqrt(n));
  CHECK(std::abs(bandwidth / n - 1) < 4 * 0.533 / std::sqrt(n));
  CHECK(std::abs(std::sqrt(log_sq / n) - 0.8) < 0.01);
  // Deterministic from the seed, and another seed draws other devices.
  CHECK(sim::Clock(cost, n, 11).device(5).shift == clock.device(5).shift);
  CHECK(sim::Clock(cost, n, 12).device(5).shift != clock.device(5).shift);
}

// Worker 1 is late every round (10 > 9, with shift 1 it computes 3 samples and uploads for
// 2.5 + latency): with a deadline of 9 the server counts worker 0 alone, so θ follows gradient
// descent on worker 0's objective, and each round lasts 9.
TEST_CASE("a deadline drops exactly the late uploads", "[sim]") {
  sim::CostModel cost{.shift = 1, .bandwidth_up = 32, .bandwidth_down = 16, .latency = 0.5};
  cost.deadline = 9;
  const auto result = run(cost, 3);
  const auto alone = sim::Simulation(Gd{}, std::vector<Points>{uneven_workers()[0]},
                                     Vector::Zero(1), {.rounds = 3})
                         .run();
  CHECK(result.theta == alone.theta);
  CHECK(result.history.rows.back().time == 27);
  // Worker 0 arrives at 8 and waits 1 for the deadline.
  CHECK(result.history.rows[1].time_parts == sim::TimeParts{4.5, 1, 2.5, 1});
  const Traffic& t = result.ledger.total();
  CHECK(t.uploads == 6);  // sent, the late ones included
  CHECK(t.dropped_uploads == 3);
  CHECK(t.dropped_bits_up == 3 * 64);
  CHECK(t.gradient_samples == 12);
  CHECK(t.dropped_samples == 9);
  CHECK(result.ledger.worker(0).dropped_uploads == 0);
  CHECK(result.ledger.worker(1).dropped_uploads == 3);
  // A deadline nobody misses changes nothing.
  cost.deadline = 10;
  CHECK(run(cost, 3).history.rows == run({cost.shift, 0, 32, 16, 0.5}, 3).history.rows);
}

TEST_CASE("over-selection keeps the first uploads to arrive", "[sim]") {
  sim::CostModel cost{.shift = 1, .bandwidth_up = 32, .bandwidth_down = 16, .latency = 0.5};
  cost.keep = 1;
  const auto result = run(cost, 3);
  const auto alone = sim::Simulation(Gd{}, std::vector<Points>{uneven_workers()[0]},
                                     Vector::Zero(1), {.rounds = 3})
                         .run();
  CHECK(result.theta == alone.theta);
  CHECK(result.history.rows.back().time == 24);  // the round ends with worker 0's upload at 8
  CHECK(result.ledger.total().dropped_uploads == 3);
  // Ties go to the lower worker: with equal times worker 0 is kept.
  sim::CostModel tie{.latency = 1, .keep = 1};
  const auto tied = run(tie, 1);
  CHECK(tied.ledger.worker(0).dropped_uploads == 0);
  CHECK(tied.ledger.worker(1).dropped_uploads == 1);
}

// Worker 1 is online in [0, 1) only. Round 0 (at 0) has both workers and lasts 3 (worker 1's
// 3 samples); round 1 (at 3) worker 0 alone, 1.
TEST_CASE("participants are drawn among the workers online when a round starts", "[sim]") {
  sim::CostModel cost{.shift = 1};
  cost.availability.trace = trace_file("online", "worker,start,end\n1,0,1\n");
  const auto result = run(cost, 3);
  CHECK(result.history.rows[1].time == 3);
  CHECK(result.history.rows[2].time == 4);
  CHECK(result.ledger.worker(0).downloads == 3);
  CHECK(result.ledger.worker(1).downloads == 1);
  CHECK_THAT(result.history.description, Catch::Contains("availability=trace("));

  // When nobody is online the round starts when the first worker comes: worker 0 online in
  // [0, 1) and [5, 6). Round 0 lasts 1; round 1 waits 4 (t = 1 to 5) and computes 1; after 6
  // no one is online again and rounds pass with no participant and no time.
  cost.availability.trace = trace_file("gaps", "worker,start,end\n0,0,1\n0,5,6\n");
  const auto gaps = sim::Simulation(Gd{}, std::vector<Points>{uneven_workers()[0]}, Vector::Zero(1),
                                    timed(cost, 3))
                        .run();
  const std::vector<double> time{0, 1, 6, 6};
  for (std::size_t k = 0; k < time.size(); ++k) CHECK(gaps.history.rows[k].time == time[k]);
  CHECK(gaps.history.rows[2].time_parts == sim::TimeParts{0, 2, 0, 4});
  CHECK(gaps.ledger.total().downloads == 2);
}

TEST_CASE("the on/off cycle: each worker online for its share of every period", "[sim]") {
  sim::CostModel cost;
  cost.availability = {.period = 24, .online = 0.3};
  const Index n = 20000;
  const sim::Clock clock(cost, n, 5);
  for (const double t : {0.0, 7.5, 100.25}) {
    Index online = 0;
    for (Index m = 0; m < n; ++m) online += clock.online(m, t) ? 1 : 0;
    CHECK(std::abs(static_cast<double>(online) / n - 0.3) < 4 * std::sqrt(0.21 / n));
  }
  // A worker's pattern repeats with the period, and it is online 30% of any period.
  Index on = 0;
  for (int i = 0; i < 2400; ++i) {
    const double t = i * 0.01;
    CHECK(clock.online(7, t) == clock.online(7, t + 24));
    on += clock.online(7, t) ? 1 : 0;
  }
  CHECK(std::abs(on - 720) <= 1);
  // next_online() finds when the first worker of an offline fleet comes back.
  const sim::Clock one(cost, 1, 5);
  double t = 0;
  while (one.online(0, t)) t += 0.5;
  const double next = one.next_online(t);
  CHECK(next > t);
  CHECK(one.online(0, next + 1e-9));
  CHECK(!one.online(0, next - 1e-6));
}

TEST_CASE("heterogeneous time is deterministic for any thread count and across save/load",
          "[sim]") {
  sim::CostModel cost{
      .shift = 0.01, .exp_mean = 0.02, .bandwidth_up = 1e4, .bandwidth_down = 1e5, .latency = 0.05};
  cost.devices = {.compute_sigma = 1, .bandwidth_sigma = 1};
  cost.availability = {.period = 5, .online = 0.7};
  cost.deadline = 0.6;
  cost.keep = 4;
  const Qsgd method{.uplink = {.levels = 4},
                    .server = {.step = server::StepSize::constant(0.1),
                               .batch = server::Batch::of(2),
                               .participation = server::Participation::sample(6)}};
  const auto make = [&](int threads, Index rounds) {
    sim::Options options{.seed = 3, .rounds = rounds, .threads = threads, .cost = cost};
    return sim::Simulation(method, eight_workers(), Vector::Zero(3), options);
  };
  auto one = make(1, 20);
  const auto whole = one.run();
  CHECK(whole.ledger.total().dropped_uploads > 0);
  CHECK(whole.ledger.total().dropped_uploads < whole.ledger.total().uploads);
  const auto two = make(2, 20).run();
  CHECK(two.theta == whole.theta);
  CHECK(two.history.rows == whole.history.rows);
  auto first = make(2, 9);
  first.run();
  const auto path = std::filesystem::temp_directory_path() / "laconic_time_checkpoint.bin";
  first.save(path);
  auto resumed = make(1, 20);
  resumed.load(path);
  const auto rest = resumed.run_until(20);
  CHECK(rest.theta == whole.theta);
  CHECK(rest.history.rows == whole.history.rows);
}

TEST_CASE("heterogeneous time: invalid settings and refused compositions say why", "[sim]") {
  using Catch::Contains;
  const auto refused = [](sim::CostModel cost, auto method) {
    return test::refusal(
        [&] { sim::Simulation(method, uneven_workers(), Vector::Zero(1), {.cost = cost}); });
  };
  sim::CostModel c;
  c.deadline = 0;
  CHECK_THAT(refused(c, Gd{}), Contains("cost.deadline = 0: must be > 0"));
  c = {};
  c.keep = -1;
  CHECK_THAT(refused(c, Gd{}), Contains("cost.keep = -1: must be >= 0"));
  c = {.links = sim::CostModel::Links::shared, .deadline = 3};
  CHECK_THAT(refused(c, Gd{}), Contains("cost.links = shared: must be parallel under a deadline"));
  c = {};
  c.devices = {.compute_sigma = -1};
  CHECK_THAT(refused(c, Gd{}), Contains("cost.devices.compute_sigma = -1: must be in [0, 10]"));
  c.devices = {.bandwidth_sigma = 1, .trace = "devices.csv"};
  CHECK_THAT(refused(c, Gd{}), Contains("cost.devices.trace = devices.csv: must be unset when"));
  c = {};
  c.availability = {.online = 0.5};
  CHECK_THAT(refused(c, Gd{}), Contains("cost.availability.period = 0: must be > 0 and finite"));
  c.availability = {.online = 0};
  CHECK_THAT(refused(c, Gd{}), Contains("cost.availability.online = 0: must be in (0, 1]"));
  // Leaving workers out is refused where partial participation is, and dropping an upload
  // where the uplink keeps state.
  c = {.deadline = 2};
  CHECK_THAT(refused(c, LasgWk2{}), Contains("cost.deadline = 2: must be unset under a skip rule"));
  c = {.keep = 1};
  CHECK_THAT(refused(c, Ef21<compress::TopK>{.uplink = {.compressor = {.k = 1}}}),
             Contains("cost.keep = 1: must be unset when the uplink keeps state"));
  // Offline workers are fine with a stateful uplink: the refusal names the deadline.
  c.availability = {.period = 4, .online = 0.5};
  c.keep = 0;
  c.deadline = 2;
  CHECK_THAT(refused(c, Ef21<compress::TopK>{.uplink = {.compressor = {.k = 1}}}),
             Contains("cost.deadline = 2: must be unset when the uplink keeps state"));
  c = {};
  c.availability = {.period = 4, .online = 0.5};
  CHECK_THAT(refused(c, LasgWk2{}),
             Contains("cost.availability = availability=cycle(period=4, online=0.5): must be "
                      "unset under a skip rule"));
}

TEST_CASE("a malformed trace names the file, line and column", "[sim]") {
  using Catch::Contains;
  const auto devices = [](const std::string& name, const std::string& text) {
    sim::CostModel cost;
    cost.devices.trace = trace_file(name, text);
    return error_of([&] { sim::Clock(cost, 2, 0); });
  };
  CHECK_THAT(devices("unknown", "shift,speed\n1,2\n"),
             Contains("laconic_trace_unknown.csv:1:7: unknown column 'speed'"));
  CHECK_THAT(devices("twice", "shift, shift\n1,2\n"),
             Contains("twice.csv:1:8: column 'shift' given twice"));
  CHECK_THAT(devices("number", "shift,latency\n1,2\n1, x\n"),
             Contains("number.csv:3:4: latency is 'x', allowed: >= 0 and finite"));
  CHECK_THAT(devices("negative", "shift\n-1\n"),
             Contains("negative.csv:2:1: shift is '-1', allowed: >= 0 and finite"));
  CHECK_THAT(devices("zero", "bandwidth_up\n0\n"),
             Contains("zero.csv:2:1: bandwidth_up is '0', allowed: > 0 (may be inf)"));
  CHECK_THAT(devices("short", "shift,latency\n1\n"),
             Contains("short.csv:2:2: 1 fields, the header has 2 columns"));
  CHECK_THAT(devices("long", "shift\n1,2\n"),
             Contains("long.csv:2:3: more fields than the header's 1 columns"));
  CHECK_THAT(devices("empty", "# nothing\n"), Contains("empty.csv:1:1: no header line"));
  CHECK_THAT(devices("rows", "shift\n"), Contains("rows.csv:1:1: a header but no rows"));
  CHECK(devices("valid", "shift\n1\n") == "accepted");
  sim::CostModel absent;
  absent.devices.trace = "/nonexistent/devices.csv";
  CHECK_THAT(error_of([&] { sim::Clock(absent, 2, 0); }),
             Contains("cannot open /nonexistent/devices.csv: No such file"));

  const auto online = [](const std::string& name, const std::string& text) {
    sim::CostModel cost;
    cost.availability.trace = trace_file(name, text);
    return error_of([&] { sim::Clock(cost, 2, 0); });
  };
  CHECK_THAT(online("no_end", "worker,start\n0,1\n"),
             Contains("no_end.csv:1:1: the header has no column 'end'"));
  CHECK_THAT(online("fraction", "worker,start,end\n0.5,0,1\n"),
             Contains("fraction.csv:2:1: worker is '0.5', allowed: a worker's index, >= 0"));
  CHECK_THAT(online("backwards", "worker,start,end\n0,0,1\n1, 3, 2\n"),
             Contains("backwards.csv:3:7: end is 2, allowed: after start (3)"));
}
