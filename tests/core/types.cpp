#include <laconic/core/types.hpp>

#include <catch2/catch.hpp>

#include <limits>

using namespace laconic;

TEST_CASE("all_finite agrees with an entry-by-entry check", "[core]") {
  constexpr double inf = std::numeric_limits<double>::infinity();
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  constexpr double big = std::numeric_limits<double>::max();
  CHECK(all_finite(Vector()));
  CHECK(all_finite(Vector::LinSpaced(1000, -5, 5)));
  // Finite entries whose sum overflows: the fast test fails, the exact one answers.
  CHECK(all_finite(Vector::Constant(4, big)));
  for (const double bad : {inf, -inf, nan}) {
    for (const Index at : {0, 1, 500, 999}) {
      Vector v = Vector::LinSpaced(1000, -5, 5);
      v[at] = bad;
      CHECK_FALSE(all_finite(v));
    }
  }
  // +inf and −inf together sum to NaN; a NaN among huge finite values stays NaN.
  CHECK_FALSE(all_finite(Vector{{inf, -inf, 1.0}}));
  CHECK_FALSE(all_finite(Vector{{big, big, nan}}));
}
