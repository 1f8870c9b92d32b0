#include <laconic/compress/fp16.hpp>

#include "compress/fixtures.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

using namespace laconic;
using compress::Fp16;
namespace half = compress::half;

static_assert(compress::Compressor<Fp16>);

namespace {

bool is_nan_pattern(std::uint16_t h) {
  return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0;
}

// The value of a half pattern from the textbook formula, independently of half::to_float.
double reference_value(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1F;
  const int fraction = h & 0x3FF;
  const double magnitude = exponent == 0    ? std::ldexp(fraction, -24)
                           : exponent == 31 ? std::numeric_limits<double>::infinity()
                                            : std::ldexp(1024 + fraction, exponent - 25);
  return (h & 0x8000u) != 0 ? -magnitude : magnitude;
}

}  // namespace

TEST_CASE("half conversions are exact on all 65536 patterns", "[compress][fp16]") {
  int nans = 0;
  for (std::uint32_t pattern = 0; pattern <= 0xFFFF; ++pattern) {
    const auto h = static_cast<std::uint16_t>(pattern);
    const float f = half::to_float(h);
    INFO("pattern " << pattern);
    if (is_nan_pattern(h)) {
      ++nans;
      REQUIRE(std::isnan(f));
      REQUIRE(is_nan_pattern(half::from_float(f)));
      REQUIRE(half::is_special(h));
      continue;
    }
    REQUIRE(static_cast<double>(f) == reference_value(h));
    REQUIRE(std::signbit(f) == ((h & 0x8000u) != 0));
    REQUIRE(half::to_double(h) == static_cast<double>(f));
    REQUIRE(half::from_float(f) == h);
    REQUIRE(half::from_double(half::to_double(h)) == h);
    REQUIRE(half::is_special(h) == std::isinf(f));
  }
  CHECK(nans == 2 * 1023);
  // A NaN stays a NaN, whatever its payload.
  CHECK(is_nan_pattern(half::from_double(std::numeric_limits<double>::quiet_NaN())));
  CHECK(is_nan_pattern(
      half::from_double(std::bit_cast<double>(std::uint64_t{0x7FF0'0000'0000'0001u}))));
}

TEST_CASE("half rounding is to nearest, ties to even", "[compress][fp16]") {
  // Every pair of neighbouring finite halves of either sign: their midpoint goes to the one
  // with an even fraction, anything strictly between goes to the nearer one.
  for (std::uint16_t sign : {std::uint16_t{0}, std::uint16_t{0x8000}}) {
    for (std::uint16_t low = 0; low < 0x7C00; ++low) {
      const auto a = static_cast<std::uint16_t>(sign | low);
      const auto b = static_cast<std::uint16_t>(sign | (low + 1));  // 0x7BFF + 1 is infinity
      const double va = half::to_double(a);
      // Past 65504 the next step would be 2^16: its midpoint 65520 is where infinity begins.
      const double vb = half::is_special(b) ? std::copysign(65536.0, va) : half::to_double(b);
      const double middle = (va + vb) / 2;  // exact: halves have 11 significant bits
      INFO("between " << va << " and " << vb);
      REQUIRE(half::from_double(middle) == ((low & 1u) == 0 ? a : b));
      REQUIRE(half::from_double(std::nextafter(middle, va)) == a);
      REQUIRE(half::from_double(std::nextafter(middle, vb)) == b);
      REQUIRE(half::from_double(std::nextafter(va, vb)) == a);
      REQUIRE(half::from_float(static_cast<float>(middle)) == half::from_double(middle));
    }
  }
  // Named corners.
  CHECK(half::from_double(1.0) == 0x3C00);
  CHECK(half::from_double(1.0 + 0x1.0p-11) == 0x3C00);      // tie, 1.0 is even
  CHECK(half::from_double(1.0 + 3 * 0x1.0p-11) == 0x3C02);  // tie, rounds up to even
  CHECK(half::from_double(65504.0) == 0x7BFF);
  CHECK(half::from_double(65519.99) == 0x7BFF);
  CHECK(half::from_double(65520.0) == 0x7C00);  // the tie with 2^16 goes to infinity (even)
  CHECK(half::from_double(0x1.0p-24) == 0x0001);
  CHECK(half::from_double(0x1.0p-25) == 0x0000);  // tie, 0 is even
  CHECK(half::from_double(std::nextafter(0x1.0p-25, 1.0)) == 0x0001);
  CHECK(half::from_double(3 * 0x1.0p-25) == 0x0002);  // tie, 2 is even
  CHECK(half::from_double(-0x1.0p-26) == 0x8000);
  CHECK(half::from_double(0x1.FFCp-15) == 0x0400);  // rounds out of the subnormals: 2^-14
  CHECK(half::from_double(std::numeric_limits<double>::denorm_min()) == 0x0000);
  CHECK(half::from_double(-0.0) == 0x8000);
  CHECK(half::from_double(std::numeric_limits<double>::infinity()) == 0x7C00);
  CHECK(half::from_double(-1e300) == 0xFC00);
  CHECK(half::from_float(0.1f) == 0x2E66);
  CHECK(half::to_float(0x3555) == 0x1.554p-2f);  // the half nearest 1/3
}

TEST_CASE("Fp16 sends 16 bits per coordinate and saturates beyond 65504", "[compress][fp16]") {
  const Fp16 fp16;
  CHECK_FALSE(fp16.unbiased());
  CHECK(fp16.describe() == "fp16");
  for (const Index p : test::contract_sizes()) {
    const Vector x = test::awkward_vector(p, 11);
    const Vector y = test::check_round_trip(fp16, x, 1);
    RandomStream rng(0, Purpose::compress);
    CHECK(fp16.encode(x, rng).bits == Bits{.values = static_cast<std::uint64_t>(16 * p)});
    CHECK(rng.position() == 0);
    for (Index i = 0; i < p; ++i) {
      // Nearest half: the error is at most half a unit in the last place, 2^-11 relative in
      // the normal range and 2^-25 absolute among the subnormals.
      const double bound = std::max(std::abs(x[i]) * 0x1.0p-11, 0x1.0p-25);
      INFO("coordinate " << i << " of " << p);
      REQUIRE(std::abs(y[i] - x[i]) <= bound);
      REQUIRE(y[i] == half::to_double(half::from_double(x[i])));
    }
  }
  Vector x(6);
  x << 1e6, -1e300, 65519.0, -65520.0, 65504.0, 1e-30;
  const Vector y = test::check_round_trip(fp16, x, 2);
  CHECK(y[0] == 65504.0);
  CHECK(y[1] == -65504.0);
  CHECK(y[2] == 65504.0);
  CHECK(y[3] == -65504.0);
  CHECK(y[4] == 65504.0);
  CHECK(y[5] == 0.0);
  test::check_rejects_non_finite(fp16, 5);
  test::check_rejects_truncation(fp16, test::awkward_vector(9, 2));
}

TEST_CASE("Fp16 decode rejects infinities and NaNs on the wire", "[compress][fp16]") {
  const Fp16 fp16;
  for (const std::uint16_t bad : {0x7C00, 0xFC00, 0x7E00, 0x7C01}) {
    Message message;
    BitWriter writer(message);
    writer.write(0x3C00, 16, Field::values);
    writer.write(bad, 16, Field::values);
    writer.finish();
    Vector out(2);
    CHECK_THROWS_AS(fp16.decode(message, out), DecodeError);
  }
  Message empty;
  Vector none(0);
  CHECK_NOTHROW(fp16.decode(empty, none));
}

TEST_CASE("Fp16 decodes every finite half pattern as half::to_double does", "[compress][fp16]") {
  namespace half = compress::half;
  // All 63488 finite patterns in order, then a block boundary's worth more, and an odd tail.
  std::vector<std::uint16_t> patterns;
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    if (!half::is_special(static_cast<std::uint16_t>(h))) {
      patterns.push_back(static_cast<std::uint16_t>(h));
    }
  }
  for (std::uint16_t h = 0; h < 1027; ++h) patterns.push_back(h);
  Message message;
  BitWriter writer(message);
  for (const std::uint16_t h : patterns) writer.write(h, 16, Field::values);
  writer.finish();
  Vector out(static_cast<Index>(patterns.size()));
  Fp16().decode(message, out);
  Index mismatches = 0;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    mismatches += std::bit_cast<std::uint64_t>(out[static_cast<Index>(i)]) !=
                          std::bit_cast<std::uint64_t>(half::to_double(patterns[i]))
                      ? 1
                      : 0;
  }
  CHECK(mismatches == 0);
  // A special pattern deep in a later block is reported with its coordinate.
  BitWriter again(message);
  for (int i = 0; i < 2000; ++i) again.write(i == 1500 ? 0xFC00 : 0x3C00, 16, Field::values);
  again.finish();
  Vector two_thousand(2000);
  CHECK_THROWS_WITH(Fp16().decode(message, two_thousand), Catch::Contains("coordinate 1500"));
}
