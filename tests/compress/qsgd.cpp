#include <laconic/compress/qsgd.hpp>

#include "compress/fixtures.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

using namespace laconic;
using compress::Qsgd;
using Encoding = Qsgd::Encoding;

static_assert(compress::Compressor<Qsgd>);

namespace {

constexpr Encoding all_encodings[] = {Encoding::fixed, Encoding::elias, Encoding::cheaper};

// Length of the Elias gamma code of m ≥ 1, counted the slow way.
std::uint64_t gamma_length(std::uint64_t m) {
  std::uint64_t below_leading_one = 0;
  for (std::uint64_t v = m; v > 1; v /= 2) ++below_leading_one;
  return 2 * below_leading_one + 1;
}

// ⌈log₂(s + 1)⌉ the slow way.
int level_width(int s) {
  int width = 0;
  while ((std::int64_t{1} << width) < std::int64_t{s} + 1) ++width;
  return width;
}

// The norm on the wire: the float after the 2-bit header.
double wire_norm(const Message& message) {
  BitReader reader(message.bytes);
  reader.read(2);
  return static_cast<double>(reader.read_f32());
}

// Integer levels of a decoded vector; fails unless every coordinate is exactly ±norm·l/s.
std::vector<std::int64_t> levels_of(const Vector& y, double norm, int s) {
  std::vector<std::int64_t> levels(static_cast<std::size_t>(y.size()));
  for (Index i = 0; i < y.size(); ++i) {
    const std::int64_t l = norm == 0 ? 0 : std::llround(std::abs(y[i]) * s / norm);
    INFO("coordinate " << i << ": " << y[i]);
    REQUIRE(l >= 0);
    REQUIRE(l <= s);
    const double magnitude = l == 0 ? 0.0 : norm * static_cast<double>(l) / s;
    REQUIRE(std::abs(y[i]) == magnitude);
    if (l == 0) REQUIRE_FALSE(std::signbit(y[i]));
    levels[static_cast<std::size_t>(i)] = y[i] < 0 ? -l : l;
  }
  return levels;
}

Bits fixed_formula(Index p, int s) {
  return Bits{
      .values = static_cast<std::uint64_t>(p) * static_cast<std::uint64_t>(1 + level_width(s)),
      .metadata = 2 + 32};
}

Bits elias_formula(const std::vector<std::int64_t>& levels) {
  Bits bits{.metadata = 2 + 32};
  std::uint64_t count = 0;
  std::int64_t previous = -1;
  for (std::size_t i = 0; i < levels.size(); ++i) {
    if (levels[i] == 0) continue;
    ++count;
    bits.indices +=
        gamma_length(static_cast<std::uint64_t>(static_cast<std::int64_t>(i) - previous));
    bits.values += 1 + gamma_length(static_cast<std::uint64_t>(std::abs(levels[i])));
    previous = static_cast<std::int64_t>(i);
  }
  bits.metadata += gamma_length(count + 1);
  return bits;
}

// Writes the Elias gamma code of m one bit at a time, as the wire format specifies.
void put_gamma(BitWriter& writer, std::uint64_t m, Field field) {
  int n = 0;
  while ((m >> (n + 1)) != 0) ++n;
  for (int k = 0; k < n; ++k) writer.write(0, 1, field);
  writer.write(1, 1, field);
  for (int k = 0; k < n; ++k) writer.write((m >> k) & 1u, 1, field);
}

struct Nonzero {
  std::uint64_t gap;
  bool negative;
  std::uint64_t level;
};

Message elias_message(float norm, std::uint64_t count, const std::vector<Nonzero>& nonzeros,
                      std::uint64_t header = 1) {
  Message message;
  BitWriter writer(message);
  writer.write(header, 2, Field::metadata);
  writer.write_f32(norm, Field::metadata);
  put_gamma(writer, count + 1, Field::metadata);
  for (const Nonzero& nz : nonzeros) {
    put_gamma(writer, nz.gap, Field::indices);
    writer.write(nz.negative ? 1 : 0, 1, Field::values);
    put_gamma(writer, nz.level, Field::values);
  }
  writer.finish();
  return message;
}

Message fixed_message(float norm, int width,
                      const std::vector<std::pair<bool, std::uint64_t>>& coords,
                      std::uint64_t header = 0) {
  Message message;
  BitWriter writer(message);
  writer.write(header, 2, Field::metadata);
  writer.write_f32(norm, Field::metadata);
  for (const auto& [negative, level] : coords) {
    writer.write(negative ? 1 : 0, 1, Field::values);
    writer.write(level, width, Field::values);
  }
  writer.finish();
  return message;
}

// Squared Euclidean norm in long double, as an independent reference.
long double reference_squared_norm(const Vector& x) {
  long double sum = 0;
  for (Index i = 0; i < x.size(); ++i) sum += static_cast<long double>(x[i]) * x[i];
  return sum;
}

}  // namespace

TEST_CASE("Qsgd round-trips and counts its bits by the formulas", "[compress][qsgd]") {
  for (const int s : {1, 2, 4, 255}) {
    for (const Encoding encoding : all_encodings) {
      const Qsgd qsgd({.levels = s, .encoding = encoding});
      CHECK(qsgd.unbiased());
      CHECK(qsgd.level_bits() == level_width(s));
      for (const Index p : test::contract_sizes()) {
        INFO("s = " << s << ", encoding " << qsgd.describe() << ", p = " << p);
        const Vector x = test::awkward_vector(p, 17);
        const Vector y = test::check_round_trip(qsgd, x, 23);
        RandomStream rng(23, Purpose::compress, 3, 5);
        const Message message = qsgd.encode(x, rng);
        // One 64-bit word per two coordinates, whatever the data.
        CHECK(rng.position() == static_cast<std::uint64_t>((p + 1) / 2));

        // The norm is ‖x‖ rounded up to a float.
        const double norm = wire_norm(message);
        const long double exact = std::sqrt(reference_squared_norm(x));
        CHECK(static_cast<long double>(norm) >= exact);
        CHECK(static_cast<long double>(std::nextafter(static_cast<float>(norm), 0.0f)) < exact);

        // Every coordinate is ±norm·l/s with l next to s|x_i|/norm and the sign of x_i.
        const std::vector<std::int64_t> levels = levels_of(y, norm, s);
        for (Index i = 0; i < p; ++i) {
          const double r = s * std::abs(x[i]) / norm;
          const auto l = std::abs(levels[static_cast<std::size_t>(i)]);
          INFO("coordinate " << i);
          CHECK((l == static_cast<std::int64_t>(std::floor(r)) ||
                 l == static_cast<std::int64_t>(std::floor(r)) + 1));
          if (l != 0) CHECK((y[i] < 0) == (x[i] < 0));
        }

        const Bits fixed = fixed_formula(p, s);
        const Bits elias = elias_formula(levels);
        CHECK(fixed.total() == static_cast<std::uint64_t>(2 + 32 + p * (1 + level_width(s))));
        switch (encoding) {
          case Encoding::fixed:
            CHECK(message.bits == fixed);
            break;
          case Encoding::elias:
            CHECK(message.bits == elias);
            break;
          case Encoding::cheaper:
            CHECK(message.bits == (elias.total() < fixed.total() ? elias : fixed));
            break;
        }
      }
    }
  }
}

TEST_CASE("Qsgd draws the same levels whichever encoding it sends", "[compress][qsgd]") {
  const Vector x = test::awkward_vector(1000, 5);
  for (const int s : {1, 3, 16}) {
    Vector first;
    for (const Encoding encoding : all_encodings) {
      const Vector y = test::check_round_trip(Qsgd({.levels = s, .encoding = encoding}), x, 8);
      if (first.size() == 0) {
        first = y;
      } else {
        CHECK(y == first);
      }
    }
  }
  // Sparse inputs favour Elias, dense ones with many levels the fixed width.
  RandomStream rng(1, Purpose::compress);
  CHECK(Qsgd({.levels = 1}).encode(x, rng).bits.indices > 0);
  Vector flat = Vector::Ones(1000);
  CHECK(Qsgd({.levels = 255}).encode(flat, rng).bits == fixed_formula(1000, 255));
}

TEST_CASE("Qsgd of zero is zero and still draws its random numbers", "[compress][qsgd]") {
  for (const Encoding encoding : all_encodings) {
    const Qsgd qsgd({.levels = 4, .encoding = encoding});
    const Vector zero = Vector::Zero(10);
    const Vector y = test::check_round_trip(qsgd, zero, 1);
    CHECK(y == zero);
    for (Index i = 0; i < 10; ++i) CHECK_FALSE(std::signbit(y[i]));
    RandomStream rng(4, Purpose::compress);
    const Message message = qsgd.encode(zero, rng);
    CHECK(rng.position() == 5);
    CHECK(wire_norm(message) == 0.0);
    // Elias: header, norm and γ(0 + 1), a single bit.
    CHECK(message.bits ==
          (encoding == Encoding::fixed ? fixed_formula(10, 4) : Bits{.metadata = 2 + 32 + 1}));
  }
  const Vector empty(0);
  test::check_round_trip(Qsgd(), empty, 1);
}

TEST_CASE("Qsgd rounds up when half the coordinate's 32-bit half word is below 2^31 (r - l)",
          "[compress][qsgd]") {
  // Levels recomputed from the stream by the documented rule, for an odd p that spans two
  // quantization blocks, so that the last word's high half goes unused.
  const Index p = 1027;
  const Vector x = test::awkward_vector(p, 12);
  for (const int s : {1, 5, 255}) {
    const Qsgd qsgd({.levels = s, .encoding = Encoding::fixed});
    RandomStream rng(21, Purpose::compress, 2, 9);
    RandomStream words = rng;
    Vector y(p);
    qsgd.compress(x, y, rng);
    CHECK(rng.position() == (p + 1) / 2);
    RandomStream probe(0, Purpose::compress);
    const double norm = wire_norm(qsgd.encode(x, probe));
    std::uint64_t word = 0;
    Index mismatches = 0;
    for (Index i = 0; i < p; ++i) {
      if (i % 2 == 0) word = words.next_u64();
      const auto u = static_cast<std::uint32_t>(i % 2 == 0 ? word : word >> 32);
      const double r = std::min(std::abs(x[i]) * (s / norm), double(s));
      const double l = std::floor(r);
      const auto threshold = static_cast<std::uint32_t>(std::floor(std::ldexp(r - l, 31)));
      const auto level = static_cast<std::int64_t>(l) + (u / 2 < threshold ? 1 : 0);
      const double expected = (x[i] < 0 ? -1 : 1) * norm * static_cast<double>(level) / s;
      mismatches += y[i] == expected ? 0 : 1;
    }
    INFO("s = " << s);
    CHECK(mismatches == 0);
  }
}

TEST_CASE("Qsgd is unbiased (Monte Carlo)", "[compress][qsgd]") {
  constexpr int draws = 20000;
  constexpr Index p = 16;
  Vector x = test::awkward_vector(p, 31);
  x[5] = 0.25 * x[0];  // more ties and simple ratios
  for (const int s : {1, 2, 4, 255}) {
    const Qsgd qsgd({.levels = s});
    Vector sum = Vector::Zero(p);
    Vector out(p);
    double squared_error = 0;
    double squared_error_sq = 0;
    for (int draw = 0; draw < draws; ++draw) {
      RandomStream rng(99, Purpose::compress, static_cast<std::uint64_t>(draw), 1);
      qsgd.compress(x, out, rng);
      sum += out;
      const double e = (out - x).squaredNorm();
      squared_error += e;
      squared_error_sq += e * e;
    }
    RandomStream rng(0, Purpose::compress);
    const double norm = wire_norm(qsgd.encode(x, rng));
    double expected_error = 0;
    for (Index i = 0; i < p; ++i) {
      const double r = s * std::abs(x[i]) / norm;
      const double frac = r - std::floor(r);
      const double variance = (norm / s) * (norm / s) * frac * (1 - frac);
      expected_error += variance;
      const double mean = sum[i] / draws;
      INFO("s = " << s << ", coordinate " << i << ": x = " << x[i] << ", mean " << mean);
      if (variance == 0) {
        CHECK(mean == Approx(x[i]).margin(1e-12 * norm));
      } else {
        CHECK(std::abs(mean - x[i]) <= 4 * std::sqrt(variance / draws));
      }
    }
    // E‖Q(x) − x‖² = Σ (‖x‖/s)² f_i(1 − f_i), within Monte-Carlo error.
    const double mean_error = squared_error / draws;
    const double sd = std::sqrt((squared_error_sq / draws - mean_error * mean_error) / draws);
    INFO("s = " << s);
    CHECK(std::abs(mean_error - expected_error) <= 4 * sd + 1e-12 * norm * norm);
    CHECK(expected_error <= std::min(p / double(s * s), std::sqrt(double(p)) / s) * norm * norm);
  }
}

TEST_CASE("Qsgd meets its variance bound and expected sparsity", "[compress][qsgd]") {
  std::vector<Vector> inputs;
  inputs.push_back(test::awkward_vector(16, 3));
  inputs.push_back(test::awkward_vector(1000, 4));
  inputs.push_back(Vector::Ones(1000));  // the worst case for s = 1: every r_i is small
  Vector spike = Vector::Constant(400, 1e-3);
  spike[7] = -50;
  inputs.push_back(spike);
  for (const Vector& x : inputs) {
    const auto p = static_cast<double>(x.size());
    for (const int s : {1, 2, 8}) {
      const Qsgd qsgd({.levels = s});
      RandomStream probe(0, Purpose::compress);
      const double norm = wire_norm(qsgd.encode(x, probe));
      constexpr int draws = 2000;
      double error = 0;
      double nonzeros = 0;
      Vector out(x.size());
      for (int draw = 0; draw < draws; ++draw) {
        RandomStream rng(7, Purpose::compress, static_cast<std::uint64_t>(draw));
        qsgd.compress(x, out, rng);
        error += (out - x).squaredNorm();
        nonzeros += static_cast<double>((out.array() != 0).count());
      }
      error /= draws;
      nonzeros /= draws;
      double expected_nonzeros = 0;
      for (Index i = 0; i < x.size(); ++i) {
        const double r = s * std::abs(x[i]) / norm;
        expected_nonzeros += r >= 1 ? 1.0 : r;
      }
      INFO("p = " << p << ", s = " << s);
      // Bound on the variance, with 5% room for the Monte-Carlo error.
      CHECK(error <= 1.05 * std::min(p / (s * s), std::sqrt(p) / s) * norm * norm);
      CHECK(expected_nonzeros <= s * (s + std::sqrt(p)));
      CHECK(nonzeros == Approx(expected_nonzeros).epsilon(0.05).margin(0.5));
    }
  }
}

TEST_CASE("Qsgd decodes hand-built messages and rejects corrupted ones", "[compress][qsgd]") {
  const Qsgd fixed({.levels = 2, .encoding = Encoding::fixed});
  const Qsgd elias({.levels = 2, .encoding = Encoding::elias});
  const Qsgd cheaper({.levels = 2});
  Vector out(4);

  // A valid fixed message: (−norm, 0, norm/2, 0) with norm 3.
  const Message good_fixed =
      fixed_message(3.0f, 2, {{true, 2}, {false, 0}, {false, 1}, {false, 0}});
  fixed.decode(good_fixed, out);
  CHECK(out == Vector((Vector(4) << -3.0, 0.0, 1.5, 0.0).finished()));
  cheaper.decode(good_fixed, out);
  CHECK(out == Vector((Vector(4) << -3.0, 0.0, 1.5, 0.0).finished()));
  // The same vector as Elias: two nonzeros at gaps 1 and 2.
  const Message good_elias = elias_message(3.0f, 2, {{1, true, 2}, {2, false, 1}});
  elias.decode(good_elias, out);
  CHECK(out == Vector((Vector(4) << -3.0, 0.0, 1.5, 0.0).finished()));

  // Header: 2 and 3 are unknown; each compressor refuses the encoding it does not send.
  for (const std::uint64_t header : {2, 3}) {
    CHECK_THROWS_AS(
        cheaper.decode(
            fixed_message(3.0f, 2, {{false, 0}, {false, 0}, {false, 0}, {false, 0}}, header), out),
        DecodeError);
  }
  CHECK_THROWS_WITH(fixed.decode(elias_message(3.0f, 2, {{1, true, 2}, {2, false, 1}}), out),
                    Catch::Contains("elias message"));
  CHECK_THROWS_AS(elias.decode(good_fixed, out), DecodeError);
  // A flipped header bit in real messages.
  RandomStream rng(1, Purpose::compress);
  const Vector x = test::awkward_vector(4, 9);
  for (const Qsgd* compressor : {&fixed, &elias, &cheaper}) {
    const Qsgd& qsgd = *compressor;
    RandomStream stream = rng;
    Message message = qsgd.encode(x, stream);
    Message high = message;
    high.bytes[0] ^= 0x2;  // header becomes 2 or 3
    CHECK_THROWS_WITH(qsgd.decode(high, out), Catch::Contains("unknown encoding"));
    if (compressor != &cheaper) {
      Message low = message;
      low.bytes[0] ^= 0x1;  // the other encoding
      CHECK_THROWS_AS(qsgd.decode(low, out), DecodeError);
    }
    test::check_rejects_truncation(qsgd, test::awkward_vector(50, 1));
  }

  // Fixed: a level beyond s (3 fits the 2-bit field), a sign on a zero level.
  CHECK_THROWS_WITH(
      fixed.decode(fixed_message(3.0f, 2, {{false, 3}, {false, 0}, {false, 0}, {false, 0}}), out),
      Catch::Contains("exceeds s"));
  CHECK_THROWS_WITH(
      fixed.decode(fixed_message(3.0f, 2, {{false, 1}, {true, 0}, {false, 0}, {false, 0}}), out),
      Catch::Contains("sign bit"));
  // Norm: negative, −0, infinite, NaN; a nonzero level with norm 0.
  for (const float bad : {-1.0f, -0.0f, std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN()}) {
    CHECK_THROWS_WITH(
        fixed.decode(fixed_message(bad, 2, {{false, 1}, {false, 0}, {false, 0}, {false, 0}}), out),
        Catch::Contains("norm"));
    CHECK_THROWS_AS(elias.decode(elias_message(bad, 1, {{1, false, 1}}), out), DecodeError);
  }
  CHECK_THROWS_WITH(
      fixed.decode(fixed_message(0.0f, 2, {{false, 1}, {false, 0}, {false, 0}, {false, 0}}), out),
      Catch::Contains("norm 0"));
  // Elias: a level beyond s, a gap past p, more nonzeros than p, a count the codes do not meet.
  CHECK_THROWS_WITH(elias.decode(elias_message(3.0f, 1, {{1, false, 3}}), out),
                    Catch::Contains("exceeds s"));
  CHECK_THROWS_WITH(elias.decode(elias_message(3.0f, 1, {{5, false, 1}}), out),
                    Catch::Contains("runs past"));
  CHECK_THROWS_WITH(elias.decode(elias_message(3.0f, 2, {{4, false, 1}, {1, false, 1}}), out),
                    Catch::Contains("runs past"));
  CHECK_NOTHROW(elias.decode(elias_message(3.0f, 1, {{4, false, 1}}), out));
  CHECK(out == Vector((Vector(4) << 0.0, 0.0, 0.0, 1.5).finished()));
  CHECK_THROWS_WITH(elias.decode(elias_message(3.0f, 5, {}), out), Catch::Contains("nonzeros"));
  CHECK_THROWS_AS(elias.decode(elias_message(3.0f, 2, {{1, false, 1}}), out), DecodeError);
  CHECK_THROWS_AS(elias.decode(elias_message(3.0f, 0, {{1, false, 1}}), out), DecodeError);
  // A run of zeros longer than any code: no terminating one in sight.
  Message zeros;
  {
    BitWriter writer(zeros);
    writer.write(1, 2, Field::metadata);
    writer.write_f32(3.0f, Field::metadata);
    writer.write(0, 64, Field::metadata);
    writer.write(0, 64, Field::metadata);
    writer.write(1, 1, Field::metadata);
    writer.finish();
  }
  CHECK_THROWS_AS(elias.decode(zeros, out), DecodeError);
  // Padding and an empty message.
  Message padded = good_elias;
  padded.bytes.push_back(0);
  CHECK_THROWS_AS(elias.decode(padded, out), DecodeError);
  CHECK_THROWS_AS(cheaper.decode(Message{}, out), DecodeError);
}

TEST_CASE("Qsgd gamma codes of every length round-trip", "[compress][qsgd]") {
  // The decoder's own reader against codes written bit by bit, for every length it accepts
  // (up to 56 zeros, m < 2^57).
  Message message;
  BitWriter writer(message);
  std::vector<std::uint64_t> values;
  for (int n = 0; n <= 56; ++n) {
    for (const std::uint64_t m : {std::uint64_t{1} << n, (std::uint64_t{1} << n) | 1u,
                                  (std::uint64_t{1} << n) | ((std::uint64_t{1} << n) - 1)}) {
      values.push_back(m);
      put_gamma(writer, m, Field::values);
      compress::elias::write_gamma(writer, m, Field::values);
    }
  }
  writer.finish();
  BitReader reader(message.bytes);
  for (const std::uint64_t m : values) {
    INFO("m = " << m);
    CHECK(compress::elias::read_gamma(reader, message.bytes) == m);
    CHECK(compress::elias::read_gamma(reader, message.bytes) == m);
  }
  CHECK_NOTHROW(reader.expect_end());
  std::uint64_t total = 0;
  for (const std::uint64_t m : values) total += 2 * gamma_length(m);
  CHECK(message.bits.values == total);
  for (const std::uint64_t m : values) CHECK(compress::elias::gamma_bits(m) == gamma_length(m));

  // Longer codes are refused, whatever the alignment.
  for (int offset = 0; offset < 8; ++offset) {
    Message longer;
    BitWriter w(longer);
    w.write(0, offset, Field::values);
    put_gamma(w, std::uint64_t{1} << 57, Field::values);
    w.finish();
    BitReader r(longer.bytes);
    r.read(offset);
    CHECK_THROWS_AS(compress::elias::read_gamma(r, longer.bytes), DecodeError);
  }
}

TEST_CASE("Qsgd: invalid parameters name themselves, their value and the allowed range",
          "[compress][qsgd]") {
  using Catch::Contains;
  const auto refused = [](Qsgd::Params params) { return test::refusal([&] { Qsgd{params}; }); };
  CHECK_THAT(refused({.levels = 0}), Contains("qsgd.levels = 0: must be in 1..1048576"));
  CHECK_THAT(refused({.levels = (1 << 20) + 1}), Contains("qsgd.levels = 1048577: must be in 1.."));
  CHECK_THAT(refused({.encoding = static_cast<Encoding>(7)}),
             Contains("qsgd.encoding = 7: must be fixed, elias or cheaper"));
  CHECK(refused({.levels = 1, .encoding = Encoding::fixed}) == "accepted");
  CHECK(refused({.levels = 1 << 20}) == "accepted");
}

TEST_CASE("Qsgd refuses bad input", "[compress][qsgd]") {
  CHECK(Qsgd().describe() == "qsgd(s=1, cheaper)");
  CHECK(Qsgd({.levels = 4, .encoding = Encoding::elias}).describe() == "qsgd(s=4, elias)");
  for (const Encoding encoding : all_encodings) {
    test::check_rejects_non_finite(Qsgd({.levels = 3, .encoding = encoding}), 5);
  }
  // Finite but beyond a float's range; squares that overflow or underflow are handled.
  const Qsgd qsgd({.levels = 4});
  Vector out(2);
  RandomStream rng(1, Purpose::compress);
  CHECK_THROWS_AS(qsgd.compress(Vector::Constant(2, 1e200), out, rng), std::domain_error);
  CHECK_THROWS_AS(qsgd.encode(Vector::Constant(2, 3e38), rng), std::domain_error);
  Vector big(2);
  big << 1e30, -2e30;  // squares near 1e60: fine in a double
  const Vector y = test::check_round_trip(qsgd, big, 3);
  CHECK(std::abs(y[1]) > 0);
  Vector tiny(2);
  tiny << 3e-30, -4e-30;  // norm 5e-30, a normal float; squares ~1e-59
  test::check_round_trip(qsgd, tiny, 3);
  Vector underflow(2);
  underflow << 3e-170, -4e-170;  // squares underflow to 0: the scaled norm is used
  const Message message = qsgd.encode(underflow, rng);
  CHECK(wire_norm(message) == static_cast<double>(std::numeric_limits<float>::denorm_min()));
  test::check_round_trip(qsgd, underflow, 3);
}

TEST_CASE("Qsgd's tabulated fixed-width decode rejects the fields encode never writes",
          "[compress][qsgd]") {
  // p large beside 2^width, so the decoder looks fields up in its tables; the bad field sits
  // in a later block, and the message around it is valid.
  const Index p = 3000;
  for (const int s : {2, 255}) {
    const Qsgd fixed({.levels = s, .encoding = Encoding::fixed});
    const int width = level_width(s);
    std::vector<std::pair<bool, std::uint64_t>> coords(static_cast<std::size_t>(p));
    for (std::size_t i = 0; i < coords.size(); ++i) {
      coords[i] = {i % 3 == 0, i % 2 == 0 ? 0 : 1 + i % static_cast<std::size_t>(s)};
      if (coords[i].second == 0) coords[i].first = false;
    }
    Vector out(p);
    CHECK_NOTHROW(fixed.decode(fixed_message(3.0f, width, coords), out));
    CHECK(out[1] == 3.0 * static_cast<double>(1 + 1 % s) / s);
    CHECK(out[3] == -3.0 * static_cast<double>(1 + 3 % s) / s);
    const std::uint64_t too_high = (std::uint64_t{1} << width) - 1;
    if (too_high > static_cast<std::uint64_t>(s)) {
      auto bad = coords;
      bad[2345] = {false, too_high};
      CHECK_THROWS_WITH(fixed.decode(fixed_message(3.0f, width, bad), out),
                        Catch::Contains(fmt::format("level {} at coordinate 2345", too_high)));
    }
    auto signed_zero = coords;
    signed_zero[1700] = {true, 0};
    CHECK_THROWS_WITH(fixed.decode(fixed_message(3.0f, width, signed_zero), out),
                      Catch::Contains("sign bit set on a zero level at coordinate 1700"));
    CHECK_THROWS_WITH(fixed.decode(fixed_message(0.0f, width, coords), out),
                      Catch::Contains("nonzero level at coordinate 1 with norm 0"));
    std::vector<std::pair<bool, std::uint64_t>> zeros(static_cast<std::size_t>(p), {false, 0});
    CHECK_NOTHROW(fixed.decode(fixed_message(0.0f, width, zeros), out));
    CHECK(out == Vector::Zero(p));
  }
}
