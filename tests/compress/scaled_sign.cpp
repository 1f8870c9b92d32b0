#include <laconic/compress/scaled_sign.hpp>

#include "compress/fixtures.hpp"

#include <vector>

using namespace laconic;
using compress::ScaledSign;

static_assert(compress::Compressor<ScaledSign>);

namespace {

bool same_bits(const Vector& a, const Vector& b) {
  if (a.size() != b.size()) return false;
  for (Index i = 0; i < a.size(); ++i) {
    if (std::bit_cast<std::uint64_t>(a[i]) != std::bit_cast<std::uint64_t>(b[i])) return false;
  }
  return true;
}

// s̃ · sign(x) with sign(0) = +1, for the scale s̃ the wire carries, which is ‖x‖₁/p rounded.
Vector reference(const Vector& x, int float_bits) {
  const Index p = x.size();
  const double scale = ScaledSign({}, {.float_bits = float_bits}).scale(x);
  const double l1 = x.lpNorm<1>() / static_cast<double>(p);
  CHECK(scale == Approx(l1).epsilon(float_bits == 32 ? 0x1.0p-23 : 1e-14));
  Vector y(p);
  for (Index i = 0; i < p; ++i) y[i] = x[i] < 0 ? -scale : scale;
  return y;
}

}  // namespace

TEST_CASE("ScaledSign round trips at every contract size", "[compress][scaled_sign]") {
  for (const int width : {32, 64}) {
    const ScaledSign sign({}, {.float_bits = width});
    for (const Index p : test::contract_sizes()) {
      INFO("p = " << p << ", fp" << width);
      const Vector x = test::awkward_vector(p, 17);
      const Vector y = test::check_round_trip(sign, x, 1);
      CHECK(same_bits(y, reference(x, width)));
      CHECK(((y.array() < 0) == (x.array() < 0)).all());
      RandomStream rng(0, Purpose::compress);
      const Bits bits{.values = static_cast<std::uint64_t>(p),
                      .metadata = static_cast<std::uint64_t>(width)};
      CHECK(sign.encode(x, rng).bits == bits);
      CHECK(sign.bits(p) == bits);
    }
  }
}

TEST_CASE("ScaledSign maps zeros, negative zeros included, to +scale", "[compress][scaled_sign]") {
  const ScaledSign sign;
  Vector x(5);
  x << 0.0, -0.0, 1.5, -2.5, 0.0;
  const Vector y = test::check_round_trip(sign, x, 0);
  Vector expected(5);
  expected << 0.8, 0.8, 0.8, -0.8, 0.8;
  CHECK(same_bits(y, expected));
  // The zero vector: scale 0, and every coordinate +0.
  const Vector zeros = Vector::Zero(70);
  const Vector z = test::check_round_trip(sign, zeros, 0);
  CHECK(same_bits(z, zeros));
  // compress into x itself.
  RandomStream rng(0, Purpose::compress);
  sign.compress(x, x, rng);
  CHECK(same_bits(x, y));
}

TEST_CASE("ScaledSign meets ‖C(x) − x‖² = ‖x‖² − ‖x‖₁²/p", "[compress][scaled_sign]") {
  for (std::uint64_t seed = 0; seed < 100; ++seed) {
    RandomStream rng(seed, Purpose::user);
    const auto p = static_cast<Index>(1 + rng.below(5000));
    Vector x(p);
    for (Index i = 0; i < p; ++i) {
      x[i] = seed % 4 == 0 ? static_cast<double>(rng.below(3)) - 1  // zeros and ties
                           : rng.normal() * std::exp(rng.normal());
    }
    long double l1 = 0;
    long double l2 = 0;
    for (Index i = 0; i < p; ++i) {
      l1 += std::abs(static_cast<long double>(x[i]));
      l2 += static_cast<long double>(x[i]) * x[i];
    }
    if (l2 == 0) continue;
    const long double exact_scale = l1 / p;
    INFO("seed " << seed << ", p = " << p);
    for (const int width : {64, 32}) {
      Vector y(p);
      ScaledSign({}, {.float_bits = width}).compress(x, y, rng);
      long double error = 0;
      for (Index i = 0; i < p; ++i) {
        const long double d = static_cast<long double>(y[i]) - x[i];
        error += d * d;
      }
      // ‖x‖² − ‖x‖₁²/p, plus p(s̃ − s)² for the scale s̃ the wire carries (0 in fp64 up to the
      // rounding of s itself).
      const long double rounding = static_cast<long double>(y.cwiseAbs().maxCoeff()) - exact_scale;
      const long double identity = l2 - l1 * l1 / p + p * rounding * rounding;
      CHECK(static_cast<double>(std::abs(error - identity) / l2) <= 1e-12);
      if (width == 32) {
        // The scale rounded to float moves the error by at most p · (2⁻²⁴ s)².
        const long double bound = p * std::pow(0x1.0p-24L * exact_scale, 2);
        CHECK(static_cast<double>(std::abs(error - (l2 - l1 * l1 / p))) <=
              static_cast<double>(bound + 1e-12L * l2));
      }
    }
  }
}

TEST_CASE("ScaledSign rejects malformed messages and bad input", "[compress][scaled_sign]") {
  for (const int width : {32, 64}) {
    const ScaledSign sign({}, {.float_bits = width});
    test::check_rejects_non_finite(sign, 5);
    test::check_rejects_non_finite(sign, 200);
    for (const Index p : {Index{3}, Index{64}, Index{130}}) {
      test::check_rejects_truncation(sign, test::awkward_vector(p, 3));
    }
  }
  const ScaledSign sign({}, {.float_bits = 32});
  Vector out(3);
  const auto with_scale = [](float scale) {
    Message message;
    BitWriter writer(message);
    writer.write_f32(scale, Field::metadata);
    writer.write(0b101, 3, Field::values);
    writer.finish();
    return message;
  };
  CHECK_NOTHROW(sign.decode(with_scale(2), out));
  CHECK(out == Eigen::Vector3d(-2, 2, -2));
  CHECK_THROWS_WITH(sign.decode(with_scale(-2), out), Catch::Contains("bad scale"));
  CHECK_THROWS_WITH(sign.decode(with_scale(-0.0f), out), Catch::Contains("bad scale"));
  CHECK_THROWS_WITH(sign.decode(with_scale(std::numeric_limits<float>::infinity()), out),
                    Catch::Contains("bad scale"));
  CHECK_THROWS_WITH(sign.decode(with_scale(std::numeric_limits<float>::quiet_NaN()), out),
                    Catch::Contains("bad scale"));
  Message padded = with_scale(2);  // 35 bits
  padded.bytes.back() |= 0x10;
  CHECK_THROWS_WITH(sign.decode(padded, out), Catch::Contains("padding"));

  // A finite x whose scale does not fit the wire, or whose ‖x‖₁ overflows.
  RandomStream rng(0, Purpose::compress);
  Vector y(2);
  const Vector big = Eigen::Vector2d(1e300, 1);
  CHECK_THROWS_WITH(sign.compress(big, y, rng), Catch::Contains("does not fit in a 32-bit float"));
  CHECK_NOTHROW(ScaledSign().compress(big, y, rng));
  const Vector huge = Eigen::Vector2d(1.5e308, -1.5e308);
  CHECK_THROWS_AS(ScaledSign().encode(huge, rng), std::domain_error);
}

TEST_CASE("ScaledSign: invalid parameters name themselves, their value and the allowed range",
          "[compress][scaled_sign]") {
  const auto refused = [](int bits) {
    return test::refusal([&] { ScaledSign({}, {.float_bits = bits}); });
  };
  CHECK_THAT(refused(16), Catch::Contains("float_bits = 16: must be 32 or 64"));
  CHECK(refused(32) == "accepted");
  CHECK(refused(64) == "accepted");
  CHECK(ScaledSign({}, {.float_bits = 32}).describe() == "scaled_sign(fp32)");
  CHECK(ScaledSign().describe() == "scaled_sign(fp64)");
  CHECK_FALSE(ScaledSign().unbiased());
}

TEST_CASE("ScaledSign accepts p = 0", "[compress][scaled_sign]") {
  const ScaledSign sign;
  const Vector empty(0);
  test::check_round_trip(sign, empty, 0);
  CHECK(sign.bits(0) == Bits{.metadata = 64});
  CHECK(sign.scale(empty) == 0);
}
