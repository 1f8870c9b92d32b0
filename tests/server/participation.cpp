#include <laconic/server/amsgrad.hpp>
#include <laconic/server/participation.hpp>
#include <laconic/server/periodic_average.hpp>
#include <laconic/server/sgd.hpp>

#include <catch2/catch.hpp>

#include "support.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

using namespace laconic;
using server::Participation;

TEST_CASE("all workers take part by default", "[server]") {
  std::vector<Index> out;
  Participation::all().draw(1, 0, 5, out);
  CHECK(out == std::vector<Index>{0, 1, 2, 3, 4});
  Participation::available(1).draw(1, 0, 3, out);
  CHECK(out == std::vector<Index>{0, 1, 2});
  Participation::available(0).draw(1, 0, 3, out);
  CHECK(out.empty());
}

TEST_CASE("r of n: every r-subset equally likely, ascending, reproducible", "[server]") {
  // n = 5, r = 2: 10 subsets, each with probability 1/10.
  const Participation p = Participation::sample(2);
  std::map<std::vector<Index>, int> seen;
  const int trials = 20000;
  std::vector<Index> out;
  for (int k = 0; k < trials; ++k) {
    p.draw(7, k, 5, out);
    REQUIRE(out.size() == 2);
    REQUIRE(out[0] < out[1]);
    REQUIRE(out[1] < 5);
    ++seen[out];
  }
  REQUIRE(seen.size() == 10);
  const double expected = trials / 10.0, sd = std::sqrt(trials * 0.1 * 0.9);
  for (const auto& [subset, count] : seen) CHECK(std::abs(count - expected) < 4 * sd);
  std::vector<Index> again;
  p.draw(7, 123, 5, out);
  p.draw(7, 123, 5, again);
  CHECK(out == again);
  // Large n costs O(r): the draw touches r indices only.
  Participation::sample(100).draw(1, 0, 100'000, out);
  CHECK(out.size() == 100);
  CHECK(std::adjacent_find(out.begin(), out.end()) == out.end());
}

TEST_CASE("stragglers: each worker is available with probability q", "[server]") {
  const Participation p = Participation::available(0.3);
  const Index n = 50;
  const int trials = 4000;
  std::vector<int> count(n, 0);
  std::vector<Index> out;
  for (int k = 0; k < trials; ++k) {
    p.draw(3, k, n, out);
    REQUIRE(std::is_sorted(out.begin(), out.end()));
    for (Index m : out) ++count[static_cast<std::size_t>(m)];
  }
  const double sd = std::sqrt(trials * 0.3 * 0.7);
  for (int c : count) CHECK(std::abs(c - trials * 0.3) < 4.5 * sd);
}

TEST_CASE("Participation: invalid parameters name themselves, their value and the allowed range",
          "[server]") {
  using Catch::Contains;
  // Without n, as the server updates' constructors check; with n, as a run's set-up does.
  const auto alone = [](Participation p) { return test::refusal([&] { p.validate(); }); };
  const auto of_10 = [](Participation p) { return test::refusal([&] { p.validate(10); }); };
  CHECK_THAT(alone(Participation::sample(0)), Contains("participation.count = 0: must be >= 1"));
  CHECK_THAT(of_10(Participation::sample(0)), Contains("participation.count = 0: must be >= 1"));
  CHECK_THAT(of_10(Participation::sample(11)),
             Contains("participation.count = 11: must be in 1..10"));
  CHECK_THAT(alone(Participation::available(1.5)),
             Contains("participation.probability = 1.5: must be in [0, 1]"));
  CHECK_THAT(of_10(Participation::available(-0.1)), Contains("participation.probability = -0.1"));
  CHECK_THAT(alone(Participation::available(std::nan(""))),
             Contains("participation.probability = nan: must be in [0, 1]"));
  CHECK_THAT(alone({.kind = static_cast<Participation::Kind>(3)}),
             Contains("participation.kind = 3: must be all, sample or available"));
  CHECK(alone(Participation::sample(11)) == "accepted");  // n is not known yet
  CHECK(of_10(Participation::sample(10)) == "accepted");
  CHECK(of_10(Participation::sample(1)) == "accepted");
  CHECK(of_10(Participation::available(0)) == "accepted");
  CHECK(of_10(Participation::available(1)) == "accepted");
  // Every server update's constructor checks what it can.
  CHECK_THAT(test::refusal([] { server::Sgd{{.participation = Participation::sample(0)}}; }),
             Contains("participation.count = 0"));
  CHECK_THAT(test::refusal([] { server::Amsgrad{{.participation = Participation::available(2)}}; }),
             Contains("participation.probability = 2"));
  CHECK_THAT(
      test::refusal([] { server::PeriodicAverage{{.participation = Participation::sample(-1)}}; }),
      Contains("participation.count = -1"));
}
