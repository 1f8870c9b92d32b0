#include <laconic/compress/uniform.hpp>

#include "compress/fixtures.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace laconic;
using compress::Uniform;

static_assert(compress::Compressor<Uniform>);

namespace {

// The radius on the wire: the message's first float, of the given width.
double wire_radius(const Message& message, int width = 32) {
  BitReader reader(message.bytes);
  return width == 32 ? static_cast<double>(reader.read_f32()) : reader.read_f64();
}

const compress::Wire narrow{.float_bits = 32};

Message grid_message(float radius, int bits, const std::vector<std::uint64_t>& q) {
  Message message;
  BitWriter writer(message);
  writer.write_f32(radius, Field::metadata);
  for (const std::uint64_t v : q) writer.write(v, bits, Field::values);
  writer.finish();
  return message;
}

}  // namespace

TEST_CASE("Uniform round-trips on LAQ's grid with error at most tau R", "[compress][uniform]") {
  for (const int width : {32, 64})
    for (const int b : {1, 2, 3, 4, 8, 16, 29, 30, 31}) {
      const Uniform uniform({.bits = b}, {.float_bits = width});
      CHECK_FALSE(uniform.unbiased());
      const std::uint64_t top = (std::uint64_t{1} << b) - 1;
      CHECK(uniform.top() == top);
      const double m = static_cast<double>(top);
      for (const Index p : test::contract_sizes()) {
        INFO("b = " << b << ", p = " << p << ", fp" << width);
        const Vector x = test::awkward_vector(p, 41);
        const Vector y = test::check_round_trip(uniform, x, 1);
        RandomStream rng(0, Purpose::compress);
        const Message message = uniform.encode(x, rng);
        CHECK(rng.position() == 0);
        CHECK(message.bits == Bits{.values = static_cast<std::uint64_t>(b * p),
                                   .metadata = static_cast<std::uint64_t>(width)});

        // R on the wire is ‖x‖_∞, exactly at 64 bits, rounded up to a float at 32.
        const double r = x.cwiseAbs().maxCoeff();
        const double rf = wire_radius(message, width);
        if (width == 64) {
          CHECK(rf == r);
        } else {
          CHECK(rf >= r);
          CHECK(static_cast<double>(std::nextafter(static_cast<float>(rf), 0.0f)) < r);
          CHECK(rf < r * (1 + 0x1.0p-23));
        }

        const double tau = 1 / m;
        for (Index i = 0; i < p; ++i) {
          INFO("coordinate " << i << ": x = " << x[i] << ", y = " << y[i]);
          // The stated bound, with R_f and with R.
          const double error = std::abs(x[i] - y[i]);
          REQUIRE(error <= tau * rf + 0x1.0p-49 * rf);
          REQUIRE(error <= (tau + 0x1.0p-49) * (1 + 0x1.0p-23) * r);
          // A grid value: (2q − M)·R_f/M for an integer q in 0..M ...
          const double q = std::round((y[i] / rf * m + m) / 2);
          REQUIRE(q >= 0);
          REQUIRE(q <= m);
          REQUIRE(y[i] == (2 * q - m) * rf / m);
          // ... and the nearest one, unless x_i is within rounding of a midpoint (x_i = 0 is one
          // for every b), where either neighbour may be taken.
          const double exact_index = (x[i] + rf) / (2 * tau * rf);
          const double nearest = std::floor(exact_index + 0.5);
          const double from_midpoint = std::abs(exact_index + 0.5 - nearest - 0.5);
          if (from_midpoint < 0.5 - 1e-6 * m) {
            REQUIRE(q == nearest);
          } else {
            REQUIRE(std::abs(q - nearest) <= 1);
          }
        }
      }
      test::check_rejects_non_finite(uniform, 5);
      test::check_rejects_truncation(uniform, test::awkward_vector(9, 2));
    }
}

TEST_CASE("Uniform matches a hand-worked example, bit for bit", "[compress][uniform]") {
  // x = (1, −0.5, 0.25), b = 2: R = 1 (exact as a float), M = 3, τ = 1/3, step 2τR = 2/3; the
  // grid is (2q − 3)/3 = −1, −1/3, 1/3, 1 for q = 0..3, and q_i = ⌊(x_i + 1)·3/2 + 1/2⌋:
  //   x =  1:    ⌊3 + 0.5⌋     = 3  →  1
  //   x = −0.5:  ⌊0.75 + 0.5⌋  = 1  → −1/3   (error 1/6 ≤ τR = 1/3)
  //   x =  0.25: ⌊1.875 + 0.5⌋ = 2  →  1/3   (error 1/12)
  // Wire: 1.0f = 0x3F800000 as four bytes, least significant first, then q = 3, 1, 2 in two
  // bits each, first in the lowest bits: 0b10'01'11 = 0x27. 32 + 6 = 38 bits, 5 bytes.
  const Uniform uniform({.bits = 2}, narrow);
  Vector x(3);
  x << 1, -0.5, 0.25;
  const Vector y = test::check_round_trip(uniform, x, 1);
  CHECK(y[0] == 1.0);
  CHECK(y[1] == -1.0 / 3);
  CHECK(y[2] == 1.0 / 3);
  RandomStream rng(0, Purpose::compress);
  const Message message = uniform.encode(x, rng);
  CHECK(message.bytes == std::vector<std::uint8_t>{0x00, 0x00, 0x80, 0x3F, 0x27});
  CHECK(message.bits == Bits{.values = 6, .metadata = 32});
  // At 64 bits, 1.0 = 0x3FF0000000000000 and the same q: 64 + 6 = 70 bits, 9 bytes.
  const Message wide = Uniform({.bits = 2}).encode(x, rng);
  CHECK(wide.bytes == std::vector<std::uint8_t>{0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x27});
  CHECK(wide.bits == Bits{.values = 6, .metadata = 64});

  // b = 1: the grid is {−R, R} and a tie at 0 goes up: ⌊(0 + 1)/2 + 1/2⌋ = 1.
  Vector z(3);
  z << 0, -2, 0.5;
  const Vector w = test::check_round_trip(Uniform({.bits = 1}, narrow), z, 1);
  CHECK(w == Vector((Vector(3) << 2.0, -2.0, 2.0).finished()));

  // R that is not a float is rounded up at 32 bits: x = (0.1) decodes to the float above 0.1;
  // at 64 bits to itself.
  Vector tenth(1);
  tenth << 0.1;
  const Vector v = test::check_round_trip(Uniform({.bits = 3}, narrow), tenth, 1);
  CHECK(v[0] == static_cast<double>(0.1f));
  CHECK(0.1f > 0.1);
  CHECK(test::check_round_trip(Uniform({.bits = 3}), tenth, 1)[0] == 0.1);
}

TEST_CASE("Uniform sends 0 up to +R/M and the ends of the range to themselves",
          "[compress][uniform]") {
  // The grid (2q − M)R/M has no zero (M is odd); 0 is a tie between ∓R/M that LAQ's
  // ⌊· + 1/2⌋ sends up, whatever the rounding of 1/(2τR).
  RandomStream draw(5, Purpose::user);
  for (int b = 1; b <= 31; ++b) {
    const Uniform uniform({.bits = b}, narrow);
    const double m = static_cast<double>(uniform.top());
    for (int trial = 0; trial < 40; ++trial) {
      // Radii that are floats, over many binades, subnormal floats included.
      const double radius = static_cast<double>(static_cast<float>(
          std::ldexp(1 + draw.uniform(), static_cast<int>(draw.below(275)) - 149)));
      if (radius == 0) continue;
      Vector x(4);
      x << 0, radius, -radius, -0.0;
      Vector y(4);
      RandomStream rng(0, Purpose::compress);
      uniform.compress(x, y, rng);
      INFO("b = " << b << ", R = " << radius);
      CHECK(y[0] == radius / m);
      CHECK(y[3] == radius / m);
      if (b <= 29) {  // (2q − M)·R is exact: the grid values are correctly rounded
        CHECK(y[1] == radius);
        CHECK(y[2] == -radius);
      } else {  // two roundings: within one ulp
        CHECK(std::abs(y[1] - radius) <= std::nextafter(radius, 2 * radius) - radius);
        CHECK(y[2] == -y[1]);
      }
    }
  }
}

TEST_CASE("Uniform of zero is zero on the same wire", "[compress][uniform]") {
  const Uniform uniform({.bits = 5}, narrow);
  const Vector zero = Vector::Zero(7);
  const Vector y = test::check_round_trip(uniform, zero, 1);
  CHECK(y == zero);
  for (Index i = 0; i < 7; ++i) CHECK_FALSE(std::signbit(y[i]));
  RandomStream rng(0, Purpose::compress);
  const Message message = uniform.encode(zero, rng);
  CHECK(message.bits == Bits{.values = 35, .metadata = 32});
  CHECK(wire_radius(message) == 0.0);
  // All q are 0 on the wire.
  CHECK(message.bytes == std::vector<std::uint8_t>(9, 0));
  test::check_round_trip(uniform, Vector(0), 1);
}

TEST_CASE("Uniform decode rejects corrupted messages", "[compress][uniform]") {
  const Uniform uniform({.bits = 3}, narrow);
  Vector out(3);
  CHECK_NOTHROW(uniform.decode(grid_message(2.0f, 3, {0, 7, 3}), out));
  CHECK(out == Vector((Vector(3) << -2.0, 2.0, -2.0 / 7).finished()));
  for (const float bad :
       {-1.0f, -0.0f, std::numeric_limits<float>::infinity(),
        -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    CHECK_THROWS_WITH(uniform.decode(grid_message(bad, 3, {0, 7, 3}), out),
                      Catch::Contains("radius"));
  }
  CHECK_THROWS_WITH(uniform.decode(grid_message(0.0f, 3, {0, 1, 0}), out),
                    Catch::Contains("radius 0"));
  CHECK_THROWS_AS(uniform.decode(grid_message(2.0f, 3, {0, 7}), out), DecodeError);
  CHECK_THROWS_AS(uniform.decode(grid_message(2.0f, 3, {0, 7, 3, 1, 1, 1}), out), DecodeError);
  Message dirty = grid_message(2.0f, 3, {0, 7, 3});
  dirty.bytes.back() |= 0x80;  // a set padding bit
  CHECK_THROWS_AS(uniform.decode(dirty, out), DecodeError);
  CHECK_THROWS_AS(uniform.decode(Message{}, out), DecodeError);
}

TEST_CASE("Uniform: invalid parameters name themselves, their value and the allowed range",
          "[compress][uniform]") {
  using Catch::Contains;
  const auto refused = [](Uniform::Params params) {
    return test::refusal([&] { Uniform{params}; });
  };
  CHECK_THAT(refused({.bits = 0}), Contains("uniform.bits = 0: must be in 1..31"));
  CHECK_THAT(refused({.bits = 32}), Contains("uniform.bits = 32: must be in 1..31"));
  CHECK(refused({.bits = 1}) == "accepted");
  CHECK(refused({.bits = 31}) == "accepted");
}

TEST_CASE("Uniform refuses bad input", "[compress][uniform]") {
  CHECK(Uniform().params().bits == 4);
  CHECK(Uniform().describe() == "uniform(b=4, fp64)");
  const Uniform uniform({}, narrow);
  Vector out(2);
  RandomStream rng(0, Purpose::compress);
  // A radius beyond the float range at 32 bits; at 64 bits it travels.
  CHECK_THROWS_AS(uniform.compress(Vector::Constant(2, 1e39), out, rng), std::domain_error);
  CHECK_THROWS_AS(uniform.encode(Vector::Constant(2, -1e300), rng), std::domain_error);
  CHECK(test::check_round_trip(Uniform(), Vector::Constant(2, -1e300), 1) ==
        Vector::Constant(2, -1e300));
  // A NaN anywhere is seen, even next to larger entries.
  Vector x = Vector::Constant(9, 5.0);
  for (Index at = 0; at < 9; ++at) {
    Vector bad = x;
    bad[at] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_AS(uniform.compress(bad, out, rng), std::domain_error);
    CHECK_THROWS_AS(uniform.encode(bad, rng), std::domain_error);
  }
  // Also in a later block of coordinates, and as an infinity.
  Vector long_x = test::awkward_vector(5000, 3);
  long_x[4321] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(uniform.compress(long_x, out, rng), std::domain_error);
  CHECK_THROWS_AS(uniform.encode(long_x, rng), std::domain_error);
  long_x[4321] = -std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(uniform.compress(long_x, out, rng), std::domain_error);
  CHECK_THROWS_AS(uniform.encode(long_x, rng), std::domain_error);
  // Tiny and subnormal radii round up to a positive float; the error stays within τR_f.
  Vector tiny(3);
  tiny << 1e-300, -3e-310, 0;
  const Vector y = test::check_round_trip(uniform, tiny, 1);
  const double rf = static_cast<double>(std::numeric_limits<float>::denorm_min());
  for (Index i = 0; i < 3; ++i) CHECK(std::abs(y[i] - tiny[i]) <= rf / 15 * (1 + 1e-12));
  // At 64 bits R is exact, so the error stays within τR itself.
  const Vector exact = test::check_round_trip(Uniform(), tiny, 1);
  for (Index i = 0; i < 3; ++i) CHECK(std::abs(exact[i] - tiny[i]) <= 1e-300 / 15 * (1 + 1e-12));
}

// A radius whose grid points overflow: refused when compressing (std::domain_error, which a
// run reports as a fault of the message) and when decoding (fuzz_message found such a message).
TEST_CASE("Uniform refuses a radius whose grid points overflow", "[compress][uniform]") {
  const compress::Uniform uniform({.bits = 4});
  const Vector huge = Vector::Constant(3, 1e308);
  Vector out(3);
  RandomStream rng(1, Purpose::compress, 0, 0);
  CHECK_THROWS_AS(uniform.compress(huge, out, rng), std::domain_error);
  Message message;
  BitWriter writer(message);
  writer.write_f64(1e308, Field::metadata);
  const std::uint32_t q[3] = {15, 15, 15};
  writer.write_fields(q, 3, 4, Field::values);
  writer.finish();
  CHECK_THROWS_AS(uniform.decode(message, out), DecodeError);
}
