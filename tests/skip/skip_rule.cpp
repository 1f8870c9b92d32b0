#include <laconic/skip/skip_rule.hpp>

#include <catch2/catch.hpp>

using namespace laconic;

TEST_CASE("the window sums the last D squared steps, missing ones counting as zero", "[skip]") {
  skip::Window window(3);
  CHECK(window.sum() == 0);
  CHECK(window.filled() == 0);
  window.push(1);
  window.push(2);
  CHECK(window.sum() == 3);
  CHECK(window.filled() == 2);
  window.push(4);
  window.push(8);  // drops the 1
  CHECK(window.sum() == 14);
  CHECK(window.filled() == 3);
  for (int i = 0; i < 10; ++i) window.push(0.5);
  CHECK(window.sum() == 1.5);
  CHECK_THROWS_WITH(skip::Window(0), Catch::Contains("= 0: must be >= 1"));
}

TEST_CASE("c defaults to 1/eta^2 of the server's first step", "[skip]") {
  const skip::Setup setup{.workers = 2, .dim = 3, .step = 0.25};
  CHECK(skip::resolve_scale(std::nullopt, setup) == 16);
  CHECK(skip::resolve_scale(2.5, setup) == 2.5);
  CHECK_THROWS_WITH(skip::resolve_scale(std::nullopt, skip::Setup{}),
                    Catch::Contains("give the skip rule's c explicitly"));
}

TEST_CASE("last uploads track the model and the rounds since", "[skip]") {
  skip::LastUploads last;
  last.start({.workers = 2, .dim = 2});
  CHECK(last.never(0));
  last.skipped(0);
  CHECK(last.staleness(0) == 0);  // still never
  const Vector theta = Vector::Constant(2, 3.0);
  last.uploaded(1, theta);
  CHECK(last.staleness(1) == 1);
  last.skipped(1);
  last.skipped(1);
  CHECK(last.staleness(1) == 3);
  CHECK(last.distance_sq(1, Vector::Zero(2)) == 18);
}
