#include <laconic/compress/qsgd.hpp>

#include "compress/fixtures.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

using namespace laconic;
using compress::Qsgd;
using compress::Wire;
using Encoding = Qsgd::Encoding;

static_assert(compress::Compressor<Qsgd>);

namespace {

constexpr Encoding all_encodings[] = {Encoding::fixed, Encoding::elias, Encoding::cheaper,
                                      Encoding::elias_gamma};
constexpr int both_widths[] = {32, 64};

Qsgd make(int levels, Encoding encoding, int float_bits) {
  return Qsgd({.levels = levels, .encoding = encoding}, Wire{.float_bits = float_bits});
}

// Length of the Elias gamma code of m ≥ 1, counted the slow way.
std::uint64_t gamma_length(std::uint64_t m) {
  std::uint64_t below_leading_one = 0;
  for (std::uint64_t v = m; v > 1; v /= 2) ++below_leading_one;
  return 2 * below_leading_one + 1;
}

// m in binary, most significant digit first.
std::string binary(std::uint64_t m) {
  std::string digits;
  for (; m > 0; m /= 2) digits.insert(digits.begin(), static_cast<char>('0' + m % 2));
  return digits;
}

// Elias's recursive (omega) code of k ≥ 1 as QSGD's full version states it: place a 0 at the
// end; if k = 1, stop; otherwise prepend k in binary, let k be the number of digits
// prepended minus 1, and repeat.
std::string omega_string(std::uint64_t k) {
  std::string code = "0";
  while (k > 1) {
    const std::string digits = binary(k);
    code.insert(0, digits);
    k = digits.size() - 1;
  }
  return code;
}

std::uint64_t omega_length(std::uint64_t m) {
  return omega_string(m).size();
}

// ⌈log₂(s + 1)⌉ the slow way.
int level_width(int s) {
  int width = 0;
  while ((std::int64_t{1} << width) < std::int64_t{s} + 1) ++width;
  return width;
}

// The norm after the 2-bit header, read by the wire format's description, and its bits.
struct WireNorm {
  double value = 0;
  int bits = 0;
};
WireNorm wire_norm(const Message& message, int float_bits) {
  BitReader reader(message.bytes);
  reader.read(2);
  if (float_bits == 64) return {reader.read_f64(), 64};
  const std::uint64_t first = reader.read(32);
  if ((first >> 31) == 0) {
    return {static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(first))), 32};
  }
  const std::uint64_t second = reader.read(32);
  return {std::bit_cast<double>((first & 0x7FFFFFFFu) | (second << 31)), 64};
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

Bits fixed_formula(Index p, int s, int norm_bits) {
  return Bits{
      .values = static_cast<std::uint64_t>(p) * static_cast<std::uint64_t>(1 + level_width(s)),
      .metadata = static_cast<std::uint64_t>(2 + norm_bits)};
}

// The sparse form's bits, with the code lengths counted the slow way.
Bits sparse_formula(const std::vector<std::int64_t>& levels, bool omega, int norm_bits) {
  const auto length = [&](std::uint64_t m) { return omega ? omega_length(m) : gamma_length(m); };
  Bits bits{.metadata = static_cast<std::uint64_t>(2 + norm_bits)};
  std::uint64_t count = 0;
  std::int64_t previous = -1;
  for (std::size_t i = 0; i < levels.size(); ++i) {
    if (levels[i] == 0) continue;
    ++count;
    bits.indices += length(static_cast<std::uint64_t>(static_cast<std::int64_t>(i) - previous));
    bits.values += 1 + length(static_cast<std::uint64_t>(std::abs(levels[i])));
    previous = static_cast<std::int64_t>(i);
  }
  bits.metadata += length(count + 1);
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

// Writes a string of '0' and '1' one bit at a time, in order.
void put_string(BitWriter& writer, const std::string& code, Field field) {
  for (const char c : code) writer.write(c == '1' ? 1 : 0, 1, field);
}

void put_omega(BitWriter& writer, std::uint64_t m, Field field) {
  put_string(writer, omega_string(m), field);
}

// The norm field by the wire format's description: a 64-bit link's double, a 32-bit link's
// float, or a 32-bit link's wide form.
enum class NormForm { f64, f32, wide };
struct NormField {
  NormForm form;
  double value;
};
void put_norm(BitWriter& writer, NormField norm) {
  switch (norm.form) {
    case NormForm::f64:
      writer.write_f64(norm.value, Field::metadata);
      break;
    case NormForm::f32:
      writer.write_f32(static_cast<float>(norm.value), Field::metadata);
      break;
    case NormForm::wide: {
      const auto bits = std::bit_cast<std::uint64_t>(norm.value);
      writer.write((bits & 0x7FFFFFFFu) | (std::uint64_t{1} << 31), 32, Field::metadata);
      writer.write(bits >> 31, 32, Field::metadata);
      break;
    }
  }
}
NormField f32(double value) {
  return {NormForm::f32, value};
}
NormField f64(double value) {
  return {NormForm::f64, value};
}
NormField wide(double value) {
  return {NormForm::wide, value};
}

struct Nonzero {
  std::uint64_t gap;
  bool negative;
  std::uint64_t level;
};

// A sparse message with ω codes (header 2) or, with omega = false, γ codes (header 1).
Message elias_message(NormField norm, std::uint64_t count, const std::vector<Nonzero>& nonzeros,
                      bool omega = true, std::uint64_t header = 4) {
  const auto put = [&](BitWriter& w, std::uint64_t m, Field field) {
    if (omega) {
      put_omega(w, m, field);
    } else {
      put_gamma(w, m, field);
    }
  };
  Message message;
  BitWriter writer(message);
  writer.write(header < 4 ? header : (omega ? 2 : 1), 2, Field::metadata);
  put_norm(writer, norm);
  put(writer, count + 1, Field::metadata);
  for (const Nonzero& nz : nonzeros) {
    put(writer, nz.gap, Field::indices);
    writer.write(nz.negative ? 1 : 0, 1, Field::values);
    put(writer, nz.level, Field::values);
  }
  writer.finish();
  return message;
}

Message fixed_message(NormField norm, int width,
                      const std::vector<std::pair<bool, std::uint64_t>>& coords,
                      std::uint64_t header = 0) {
  Message message;
  BitWriter writer(message);
  writer.write(header, 2, Field::metadata);
  put_norm(writer, norm);
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

// QSGD Theorem 3.2's bound on the expected bits of Code(Q_s(v)), with o(1) taken as 0; its
// 32 is the paper's 32-bit norm.
double theorem_bound(int s, double p) {
  const double sp = s * (s + std::sqrt(p));
  return (3 + 1.5 * std::log2(2 * (s * s + p) / sp)) * sp + 32;
}

}  // namespace

TEST_CASE("Qsgd round-trips and counts its bits by the formulas", "[compress][qsgd]") {
  for (const int float_bits : both_widths) {
    for (const int s : {1, 2, 4, 255}) {
      for (const Encoding encoding : all_encodings) {
        const Qsgd qsgd = make(s, encoding, float_bits);
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

          // 32-bit links send ‖x‖ rounded up to a float (a normal one here), 64-bit links the
          // double norm.
          const WireNorm norm = wire_norm(message, float_bits);
          CHECK(norm.bits == float_bits);
          const long double exact = std::sqrt(reference_squared_norm(x));
          if (float_bits == 32) {
            CHECK(static_cast<long double>(norm.value) >= exact);
            CHECK(static_cast<long double>(std::nextafter(static_cast<float>(norm.value), 0.0f)) <
                  exact);
          } else {
            // A sum of p squares in double: within about p/2 ulps.
            CHECK(std::abs(static_cast<long double>(norm.value) - exact) <=
                  static_cast<long double>(p + 4) * 0x1p-53L * exact);
          }

          // Every coordinate is ±norm·l/s with l next to s|x_i|/norm and the sign of x_i.
          const std::vector<std::int64_t> levels = levels_of(y, norm.value, s);
          for (Index i = 0; i < p; ++i) {
            const double r = std::min(s * std::abs(x[i]) / norm.value, double(s));
            const auto l = std::abs(levels[static_cast<std::size_t>(i)]);
            INFO("coordinate " << i);
            CHECK((l == static_cast<std::int64_t>(std::floor(r)) ||
                   l == static_cast<std::int64_t>(std::floor(r)) + 1));
            if (l != 0) CHECK((y[i] < 0) == (x[i] < 0));
          }

          const Bits fixed = fixed_formula(p, s, float_bits);
          const Bits omega = sparse_formula(levels, true, float_bits);
          const Bits gamma = sparse_formula(levels, false, float_bits);
          CHECK(fixed.total() ==
                static_cast<std::uint64_t>(2 + float_bits + p * (1 + level_width(s))));
          CHECK(qsgd.fixed_bits(p, float_bits) == fixed);
          switch (encoding) {
            case Encoding::fixed:
              CHECK(message.bits == fixed);
              break;
            case Encoding::elias:
              CHECK(message.bits == omega);
              break;
            case Encoding::cheaper:
              CHECK(message.bits == (omega.total() < fixed.total() ? omega : fixed));
              break;
            case Encoding::elias_gamma:
              CHECK(message.bits == gamma);
              break;
          }
        }
      }
    }
  }
}

TEST_CASE("Qsgd draws the same levels whichever encoding it sends", "[compress][qsgd]") {
  const Vector x = test::awkward_vector(1000, 5);
  for (const int float_bits : both_widths) {
    for (const int s : {1, 3, 16}) {
      Vector first;
      for (const Encoding encoding : all_encodings) {
        const Vector y = test::check_round_trip(make(s, encoding, float_bits), x, 8);
        if (first.size() == 0) {
          first = y;
        } else {
          CHECK(y == first);
        }
      }
    }
  }
  // Sparse inputs favour Elias, dense ones with many levels the fixed width.
  RandomStream rng(1, Purpose::compress);
  const Message sparse = Qsgd({.levels = 1}).encode(x, rng);
  CHECK(sparse.bits.indices > 0);
  CHECK(sparse.bytes[0] % 4 == Qsgd::header_elias);
  Vector flat = Vector::Ones(1000);
  CHECK(Qsgd({.levels = 255}).encode(flat, rng).bits == fixed_formula(1000, 255, 64));
}

TEST_CASE("Qsgd of zero is zero and still draws its random numbers", "[compress][qsgd]") {
  for (const int float_bits : both_widths) {
    for (const Encoding encoding : all_encodings) {
      const Qsgd qsgd = make(4, encoding, float_bits);
      const Vector zero = Vector::Zero(10);
      const Vector y = test::check_round_trip(qsgd, zero, 1);
      CHECK(y == zero);
      for (Index i = 0; i < 10; ++i) CHECK_FALSE(std::signbit(y[i]));
      RandomStream rng(4, Purpose::compress);
      const Message message = qsgd.encode(zero, rng);
      CHECK(rng.position() == 5);
      CHECK(wire_norm(message, float_bits).value == 0.0);
      CHECK(wire_norm(message, float_bits).bits == float_bits);
      // Sparse: header, norm and the code of 0 + 1, a single bit (γ(1) = 1, ω(1) = 0).
      const auto metadata = static_cast<std::uint64_t>(2 + float_bits);
      CHECK(message.bits == (encoding == Encoding::fixed ? fixed_formula(10, 4, float_bits)
                                                         : Bits{.metadata = metadata + 1}));
    }
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
  for (const int float_bits : both_widths) {
    for (const int s : {1, 5, 255}) {
      const Qsgd qsgd = make(s, Encoding::fixed, float_bits);
      RandomStream rng(21, Purpose::compress, 2, 9);
      RandomStream words = rng;
      Vector y(p);
      qsgd.compress(x, y, rng);
      CHECK(rng.position() == (p + 1) / 2);
      RandomStream probe(0, Purpose::compress);
      const double norm = wire_norm(qsgd.encode(x, probe), float_bits).value;
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
      INFO("s = " << s << ", fp" << float_bits);
      CHECK(mismatches == 0);
    }
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
    const double norm = wire_norm(qsgd.encode(x, rng), 64).value;
    double expected_error = 0;
    for (Index i = 0; i < p; ++i) {
      const double r = std::min(s * std::abs(x[i]) / norm, double(s));
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
      const double norm = wire_norm(qsgd.encode(x, probe), 64).value;
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

TEST_CASE("Qsgd's Elias form is within QSGD Theorem 3.2's bound in the worst case at s = 1",
          "[compress][qsgd]") {
  // All |x_i| equal, random signs: every r_i = 1/√p, the most nonzeros (√p in expectation)
  // with the longest gaps. The bound is (3 + (3/2 + o(1)) log₂(2(s² + p)/(s(s + √p))))
  // · s(s + √p) + 32, with o(1) taken as 0; its 32 are the paper's 32-bit norm, so a 32-bit
  // link's message (header, norm, ω(k + 1) and the paper's string) is held against it, and a
  // 64-bit link's against the bound + 32. The ω form's expected size is 0.93–0.96 of the bound
  // here; the γ form (elias_gamma) exceeds it from p = 10^5 on (1.07 at p = 4·10^6).
  // Per-message sizes vary by 2% (p = 4·10^6) to 17% (p = 10^3) around their mean, so the
  // draws put the mean's standard error at 0.4–0.6% of the bound, a tenth of the margin.
  struct Case {
    Index p;
    int draws;
  };
  for (const Case c : {Case{1000, 1000}, Case{100000, 200}, Case{1000000, 50}, Case{4000000, 16}}) {
    RandomStream signs(11, Purpose::user);
    Vector x(c.p);
    for (Index i = 0; i < c.p; ++i) x[i] = (signs.next_u64() & 1) != 0 ? 1.0 : -1.0;
    for (const int float_bits : both_widths) {
      const Qsgd qsgd = make(1, Encoding::elias, float_bits);
      Vector out(c.p);
      double total = 0;
      for (int draw = 0; draw < c.draws; ++draw) {
        RandomStream rng(13, Purpose::compress, static_cast<std::uint64_t>(draw));
        const Bits bits = qsgd.compress(x, out, rng);
        CHECK(bits.metadata ==
              static_cast<std::uint64_t>(2 + float_bits) +
                  omega_length(static_cast<std::uint64_t>((out.array() != 0).count()) + 1));
        total += static_cast<double>(bits.total());
      }
      const double bound = theorem_bound(1, static_cast<double>(c.p)) + (float_bits - 32);
      INFO("p = " << c.p << ", fp" << float_bits << ": mean " << total / c.draws << " bits, bound "
                  << bound << ", ratio " << total / c.draws / bound);
      CHECK(total / c.draws <= bound);
    }
  }
}

TEST_CASE("Qsgd's omega codes have Elias's bits and lengths", "[compress][qsgd]") {
  std::vector<std::uint64_t> values;
  for (std::uint64_t m = 1; m <= 70000; ++m) values.push_back(m);
  for (int n = 17; n < 64; ++n) {
    const std::uint64_t power = std::uint64_t{1} << n;
    for (const std::uint64_t m : {power - 1, power, power + 1, power | (power >> 1)}) {
      values.push_back(m);
    }
  }
  values.push_back(std::numeric_limits<std::uint64_t>::max());
  // Hand-checked: ω(1) = 0, ω(2) = 10 0, ω(16) = 10 100 10000 0 (Elias 1975, Table 1).
  CHECK(omega_string(1) == "0");
  CHECK(omega_string(2) == "100");
  CHECK(omega_string(7) == "101110");
  CHECK(omega_string(16) == "10100100000");
  CHECK(omega_length(std::numeric_limits<std::uint64_t>::max()) == 76);

  Message message;
  BitWriter writer(message);
  std::uint64_t total = 0;
  for (const std::uint64_t m : values) {
    INFO("m = " << m);
    REQUIRE(compress::elias::omega_bits(m) == omega_length(m));
    compress::elias::write_omega(writer, m, Field::values);
    put_omega(writer, m, Field::indices);
    total += omega_length(m);
  }
  writer.finish();
  CHECK(message.bits.values == total);
  CHECK(message.bits.indices == total);
  // The library's bits are the reference's, in order; both read back.
  BitReader bits(message.bytes);
  BitReader codes(message.bytes);
  for (const std::uint64_t m : values) {
    INFO("m = " << m);
    const std::string expected = omega_string(m);
    std::string written;
    for (std::size_t k = 0; k < 2 * expected.size(); ++k) {
      written.push_back(bits.read(1) != 0 ? '1' : '0');
    }
    REQUIRE(written == expected + expected);
    REQUIRE(compress::elias::read_omega(codes) == m);
    REQUIRE(compress::elias::read_omega(codes) == m);
  }
  CHECK_NOTHROW(codes.expect_end());
}

TEST_CASE("Qsgd refuses malformed omega codes without reading past the message",
          "[compress][qsgd]") {
  const auto decode_bits = [](const std::string& code) {
    Message message;
    BitWriter writer(message);
    put_string(writer, code, Field::values);
    writer.finish();
    BitReader reader(message.bytes);
    return compress::elias::read_omega(reader);
  };
  // 2^64 − 1 is the largest value: 10 101 111111, 64 ones, 0. With a one for the final 0, the
  // next group would be 2^64 − 1 + 1 bits long.
  // (fmt::format, not +: GCC 12 sees the strings' + out of bounds, -Warray-bounds)
  const std::string largest = fmt::format("10101111111{:1<64}0", "");
  CHECK(decode_bits(largest) == std::numeric_limits<std::uint64_t>::max());
  CHECK_THROWS_AS(decode_bits(fmt::format("{}1{:0<70}", largest.substr(0, largest.size() - 1), "")),
                  DecodeError);
  // 64 itself (10 110 1000000 0), and a group after it, which would be 65 bits.
  CHECK(decode_bits("10"
                    "110"
                    "1000000"
                    "0") == 64);
  CHECK_THROWS_WITH(decode_bits(fmt::format("101101000000"
                                            "1{:0<80}",
                                            "")),
                    Catch::Contains("2^64 or more"));
  // Ones only: groups of 2, 4 and 16 bits, then one that would be 65536 bits.
  CHECK_THROWS_AS(decode_bits(std::string(40, '1')), DecodeError);
  // Every proper prefix of a code runs out of bits: refused, not read past the end.
  for (const std::uint64_t m :
       {std::uint64_t{1}, std::uint64_t{5}, std::uint64_t{1000}, std::uint64_t{1} << 40,
        std::numeric_limits<std::uint64_t>::max()}) {
    const std::string code = omega_string(m);
    for (std::size_t keep = 0; keep < code.size(); ++keep) {
      INFO("m = " << m << ", " << keep << " bits of " << code.size());
      // Within whole bytes, padded with ones so that the missing final 0 is not padding.
      const std::string cut =
          fmt::format("{}{:1<{}}", code.substr(0, keep), "", (8 - keep % 8) % 8);
      CHECK_THROWS_AS(decode_bits(cut), DecodeError);
    }
  }
}

TEST_CASE("Qsgd decodes hand-built messages and rejects corrupted ones", "[compress][qsgd]") {
  const Qsgd fixed({.levels = 2, .encoding = Encoding::fixed});
  const Qsgd elias({.levels = 2, .encoding = Encoding::elias});
  const Qsgd gamma({.levels = 2, .encoding = Encoding::elias_gamma});
  const Qsgd cheaper({.levels = 2});
  Vector out(4);
  const Vector expected = (Vector(4) << -3.0, 0.0, 1.5, 0.0).finished();

  // A valid fixed message: (−norm, 0, norm/2, 0) with norm 3.
  const Message good_fixed =
      fixed_message(f64(3.0), 2, {{true, 2}, {false, 0}, {false, 1}, {false, 0}});
  fixed.decode(good_fixed, out);
  CHECK(out == expected);
  cheaper.decode(good_fixed, out);
  CHECK(out == expected);
  // The same vector in the sparse forms: two nonzeros at gaps 1 and 2. With ω: header 2 01,
  // the norm, ω(3) = 110, ω(1) = 0, sign 1, ω(2) = 100, ω(2) = 100, sign 0, ω(1) = 0.
  const Message good_elias = elias_message(f64(3.0), 2, {{1, true, 2}, {2, false, 1}});
  CHECK(good_elias.bits == Bits{.values = 1 + 3 + 1 + 1, .indices = 1 + 3, .metadata = 66 + 3});
  elias.decode(good_elias, out);
  CHECK(out == expected);
  cheaper.decode(good_elias, out);
  CHECK(out == expected);
  const Message good_gamma = elias_message(f64(3.0), 2, {{1, true, 2}, {2, false, 1}}, false);
  gamma.decode(good_gamma, out);
  CHECK(out == expected);
  // What encode() itself sends, bit for bit: x = (−3, 0, 4, 0) has norm 5, and with s = 5
  // its levels 3, 0, 4, 0 are certain.
  const Vector certain = (Vector(4) << -3.0, 0.0, 4.0, 0.0).finished();
  RandomStream rng(1, Purpose::compress);
  for (const Encoding encoding : all_encodings) {
    const Qsgd qsgd({.levels = 5, .encoding = encoding});
    const Message omega = elias_message(f64(5.0), 2, {{1, true, 3}, {2, false, 4}});
    const Message gamma_form = elias_message(f64(5.0), 2, {{1, true, 3}, {2, false, 4}}, false);
    const Message fixed_form =
        fixed_message(f64(5.0), 3, {{true, 3}, {false, 0}, {false, 4}, {false, 0}});
    // ω: 69 bits of metadata, 1 + 3 of indices, 1 + 3 and 1 + 6 of values; fixed: 66 + 16.
    CHECK(omega.bits == Bits{.values = 11, .indices = 4, .metadata = 69});
    CHECK(fixed_form.bits.total() < omega.bits.total());
    const Message& expected_message = encoding == Encoding::elias         ? omega
                                      : encoding == Encoding::elias_gamma ? gamma_form
                                                                          : fixed_form;
    RandomStream stream = rng;
    const Message sent = qsgd.encode(certain, stream);
    INFO(qsgd.describe());
    CHECK(sent.bytes == expected_message.bytes);
    CHECK(sent.bits == expected_message.bits);
    qsgd.decode(sent, out);
    CHECK(out == certain);
  }

  // Header: 3 is unknown; each compressor refuses the forms it does not send.
  CHECK_THROWS_WITH(
      cheaper.decode(
          fixed_message(f64(3.0), 2, {{false, 0}, {false, 0}, {false, 0}, {false, 0}}, 3), out),
      Catch::Contains("unknown encoding 3"));
  CHECK_THROWS_WITH(fixed.decode(good_elias, out), Catch::Contains("elias form"));
  CHECK_THROWS_WITH(cheaper.decode(good_gamma, out), Catch::Contains("elias_gamma form"));
  CHECK_THROWS_AS(fixed.decode(good_gamma, out), DecodeError);
  CHECK_THROWS_AS(elias.decode(good_gamma, out), DecodeError);
  CHECK_THROWS_AS(elias.decode(good_fixed, out), DecodeError);
  CHECK_THROWS_AS(gamma.decode(good_elias, out), DecodeError);
  CHECK_THROWS_AS(gamma.decode(good_fixed, out), DecodeError);
  // Flipped header bits in real messages.
  const Vector x = test::awkward_vector(4, 9);
  for (const Qsgd* compressor : {&fixed, &elias, &gamma, &cheaper}) {
    const Qsgd& qsgd = *compressor;
    RandomStream stream = rng;
    const Message message = qsgd.encode(x, stream);
    for (const std::uint8_t flip : {1, 2, 3}) {
      Message flipped = message;
      flipped.bytes[0] ^= flip;
      // (cheaper sends, and reads, both the fixed and the ω forms)
      if (compressor == &cheaper && (flipped.bytes[0] & 3) % 2 == 0) continue;
      INFO(qsgd.describe() << ", header ^ " << int(flip));
      CHECK_THROWS_AS(qsgd.decode(flipped, out), DecodeError);
    }
    test::check_rejects_truncation(qsgd, test::awkward_vector(50, 1));
  }

  // Fixed: a level beyond s (3 fits the 2-bit field), a sign on a zero level.
  CHECK_THROWS_WITH(
      fixed.decode(fixed_message(f64(3.0), 2, {{false, 3}, {false, 0}, {false, 0}, {false, 0}}),
                   out),
      Catch::Contains("exceeds s"));
  CHECK_THROWS_WITH(
      fixed.decode(fixed_message(f64(3.0), 2, {{false, 1}, {true, 0}, {false, 0}, {false, 0}}),
                   out),
      Catch::Contains("sign bit"));
  // Norm: negative, −0, infinite, NaN; a nonzero level with norm 0.
  for (const double bad : {-1.0, -0.0, std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN()}) {
    CHECK_THROWS_WITH(
        fixed.decode(fixed_message(f64(bad), 2, {{false, 1}, {false, 0}, {false, 0}, {false, 0}}),
                     out),
        Catch::Contains("norm"));
    CHECK_THROWS_AS(elias.decode(elias_message(f64(bad), 1, {{1, false, 1}}), out), DecodeError);
  }
  CHECK_THROWS_WITH(
      fixed.decode(fixed_message(f64(0.0), 2, {{false, 1}, {false, 0}, {false, 0}, {false, 0}}),
                   out),
      Catch::Contains("norm 0"));
  // Sparse, both codes: a level beyond s, a gap past p, more nonzeros than p, a count the codes
  // do not meet.
  for (const bool omega : {true, false}) {
    const Qsgd& sparse = omega ? elias : gamma;
    INFO(sparse.describe());
    CHECK_THROWS_WITH(sparse.decode(elias_message(f64(3.0), 1, {{1, false, 3}}, omega), out),
                      Catch::Contains("exceeds s"));
    CHECK_THROWS_WITH(sparse.decode(elias_message(f64(3.0), 1, {{5, false, 1}}, omega), out),
                      Catch::Contains("runs past"));
    CHECK_THROWS_WITH(
        sparse.decode(elias_message(f64(3.0), 2, {{4, false, 1}, {1, false, 1}}, omega), out),
        Catch::Contains("runs past"));
    CHECK_NOTHROW(sparse.decode(elias_message(f64(3.0), 1, {{4, false, 1}}, omega), out));
    CHECK(out == Vector((Vector(4) << 0.0, 0.0, 0.0, 1.5).finished()));
    CHECK_THROWS_WITH(sparse.decode(elias_message(f64(3.0), 5, {}, omega), out),
                      Catch::Contains("nonzeros"));
    CHECK_THROWS_AS(sparse.decode(elias_message(f64(3.0), 2, {{1, false, 1}}, omega), out),
                    DecodeError);
    // (A negative one: after ω(1) = 0, "0 0 0" for gap 1, + and level 1 is zero padding.)
    CHECK_THROWS_AS(sparse.decode(elias_message(f64(3.0), 0, {{1, true, 1}}, omega), out),
                    DecodeError);
    CHECK_THROWS_WITH(sparse.decode(elias_message(f64(0.0), 1, {{1, false, 1}}, omega), out),
                      Catch::Contains("norm 0"));
    // A count far beyond any p, as a valid code.
    CHECK_THROWS_WITH(
        sparse.decode(elias_message(f64(3.0), std::uint64_t{1} << 50, {}, omega), out),
        Catch::Contains("nonzeros"));
  }
  // A run of zeros longer than any γ code: no terminating one in sight; a run of ones longer
  // than any ω code.
  for (const std::uint64_t run : {0, 1}) {
    Message bad;
    BitWriter writer(bad);
    writer.write(run == 0 ? 1 : 2, 2, Field::metadata);
    put_norm(writer, f64(3.0));
    writer.write(run == 0 ? 0 : ~std::uint64_t{0}, 64, Field::metadata);
    writer.write(run == 0 ? 0 : ~std::uint64_t{0}, 64, Field::metadata);
    writer.write(run == 0 ? 1 : 0, 1, Field::metadata);
    writer.finish();
    CHECK_THROWS_AS((run == 0 ? gamma : elias).decode(bad, out), DecodeError);
  }
  // Padding and an empty message.
  for (const Message& good : {good_elias, good_gamma, good_fixed}) {
    Message padded = good;
    padded.bytes.push_back(0);
    CHECK_THROWS_AS(cheaper.decode(padded, out), DecodeError);
  }
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

TEST_CASE("Qsgd on a 32-bit link sends norms outside the normal floats in 64 bits",
          "[compress][qsgd]") {
  const Qsgd fp32({.levels = 2, .encoding = Encoding::fixed}, Wire{.float_bits = 32});
  const Qsgd elias32({.levels = 2, .encoding = Encoding::elias}, Wire{.float_bits = 32});
  Vector out(4);
  const std::vector<std::pair<bool, std::uint64_t>> coords = {
      {true, 2}, {false, 0}, {false, 1}, {false, 0}};

  // Whatever x, the form follows the norm: 32 bits for 0 and normal floats, 64 beyond.
  struct Expect {
    double scale;
    int bits;
  };
  for (const Expect e : {Expect{0, 32}, Expect{1, 32}, Expect{FLT_MIN, 32}, Expect{3e-45, 64},
                         Expect{FLT_MIN / 4, 64}, Expect{1e-300, 64},
                         Expect{std::numeric_limits<double>::denorm_min(), 64}, Expect{1e38, 32},
                         Expect{1e39, 64}, Expect{1e300, 64}, Expect{1e307, 64}}) {
    const Vector x = (Vector(4) << 0.6, -0.0, 0.0, -0.8).finished() * e.scale;
    INFO("scale " << e.scale);
    for (const Encoding encoding : all_encodings) {
      const Qsgd qsgd({.levels = 3, .encoding = encoding}, Wire{.float_bits = 32});
      const Vector y = test::check_round_trip(qsgd, x, 4);
      RandomStream rng(4, Purpose::compress, 3, 5);
      const Message message = qsgd.encode(x, rng);
      const WireNorm norm = wire_norm(message, 32);
      CHECK(norm.bits == e.bits);
      CHECK(message.bits.metadata >= static_cast<std::uint64_t>(2 + e.bits));
      const double exact = std::hypot(x[0], x[3]);
      if (e.bits == 64) {
        CHECK(norm.value == Approx(exact).epsilon(1e-15));
      } else {
        CHECK(norm.value >= exact);
        CHECK(norm.value <= exact * (1 + 0x1p-23));
      }
      levels_of(y, norm.value, 3);
    }
  }

  // Hand-built: the wide form of 3e-45 and of 1e300 decodes; −norm's levels exactly.
  for (const double norm : {3e-45, 1e300, 3e-320}) {
    const Message message = fixed_message(wide(norm), 2, coords);
    CHECK(message.bits.metadata == 2 + 64);
    fp32.decode(message, out);
    CHECK(out[0] == -norm);
    CHECK(out[2] == norm / 2);
    elias32.decode(elias_message(wide(norm), 2, {{1, true, 2}, {2, false, 1}}), out);
    CHECK(out[0] == -norm);
    CHECK(out[2] == norm / 2);
  }
  // Refused: a wide form of a norm the 32 bits carry (FLT_MIN, 1, FLT_MAX and a value just
  // below FLT_MIN, which rounds up to it), of 0, ∞ and NaN; and 32 bits that are a subnormal,
  // ∞ or NaN. (The top bit is the form's, so no float in the short form is negative.)
  for (const double bad :
       {double(FLT_MIN), 1.0, double(FLT_MAX), std::nextafter(FLT_MIN, 0.0), 0.0,
        std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    INFO("wide " << bad);
    CHECK_THROWS_WITH(fp32.decode(fixed_message(wide(bad), 2, coords), out),
                      Catch::Contains("norm"));
  }
  CHECK_NOTHROW(
      fp32.decode(fixed_message(wide(std::nextafter(double(FLT_MAX), 1e300)), 2, coords), out));
  for (const float bad :
       {std::numeric_limits<float>::denorm_min(), FLT_MIN / 2,
        std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    INFO("32-bit " << bad);
    CHECK_THROWS_WITH(fp32.decode(fixed_message(f32(bad), 2, coords), out),
                      Catch::Contains("norm"));
  }
  // A wide form cut after its first 32 bits.
  Message cut;
  {
    BitWriter writer(cut);
    writer.write(0, 2, Field::metadata);
    writer.write(std::uint64_t{1} << 31, 32, Field::metadata);
    writer.finish();
  }
  CHECK_THROWS_AS(fp32.decode(cut, out), DecodeError);
}

TEST_CASE("Qsgd is unbiased and within Lemma 3.1's variance for every finite norm",
          "[compress][qsgd]") {
  // 4000 draws at each norm, on both links. Statistics in units of 2^e, e = ⌊log₂ ‖x‖⌋
  // (exact scalings), so that squares neither overflow nor underflow.
  //   Bias: p = 8, s = 1024, where E‖Q(x) − x‖² ≤ p/(4s²)‖x‖²: the mean of 4000 draws is
  //   within 2.2e-5‖x‖ of x by one standard deviation, so a bias of 1e-3 stands 45 of them
  //   away. Below FLT_MIN a float norm made every r_i smaller than the draws' 2^-31
  //   resolution: Q(x) ≡ 0, a bias of 1.
  //   Variance: p = 100, all |x_i| equal, s = 1, where every r_i = 1/√p = 0.1 and
  //   E‖Q(x) − x‖² = (n/‖x‖)² · 9‖x‖², 0.9 of the bound min(p/s², √p/s)‖x‖² = 10‖x‖². The
  //   standard deviation of one draw's ‖Q(x) − x‖² is 2.4‖x‖², 0.038‖x‖² for the mean of
  //   4000: the bound is 26 of them above the expectation, so it is checked with no margin.
  //   A norm rounded up to a subnormal float (4.2e-45 for 3e-45) made it 13‖x‖².
  const double norms[] = {3, 3e-45, 3e-60, 3e-300, 3e-310, 1e300, 1e308};
  constexpr int draws = 4000;
  for (const int float_bits : both_widths) {
    for (const double target : norms) {
      const int e = std::ilogb(target);
      const auto in_units = [&](const Vector& v) {
        Vector u(v.size());
        for (Index i = 0; i < v.size(); ++i) u[i] = std::ldexp(v[i], -e);
        return u;
      };
      INFO("fp" << float_bits << ", ‖x‖ = " << target);

      // Bias.
      {
        const Vector shape = test::awkward_vector(8, 41).cwiseMin(3.0);
        const Vector x = shape * (target / shape.norm());
        const Vector xu = in_units(x);
        const Qsgd qsgd = make(1024, Encoding::cheaper, float_bits);
        Vector out(x.size());
        Vector sum = Vector::Zero(x.size());
        double error = 0;
        for (int draw = 0; draw < draws; ++draw) {
          RandomStream rng(17, Purpose::compress, static_cast<std::uint64_t>(draw));
          qsgd.compress(x, out, rng);
          const Vector ou = in_units(out);
          sum += ou;
          error += (ou - xu).squaredNorm();
        }
        const double bias = (sum / draws - xu).norm() / xu.norm();
        const double p = 8, s = 1024;
        INFO("relative bias " << bias << ", mean squared error " << error / draws / xu.squaredNorm()
                              << " of ‖x‖²");
        CHECK(bias < 1e-3);
        CHECK(error / draws <= std::min(p / (s * s), std::sqrt(p) / s) * xu.squaredNorm());
      }
      // Variance.
      {
        constexpr Index p = 100;
        RandomStream signs(19, Purpose::user);
        Vector x(p);
        for (Index i = 0; i < p; ++i) x[i] = (signs.next_u64() & 1) != 0 ? 0.1 : -0.1;
        x *= target;
        const Vector xu = in_units(x);
        const Qsgd qsgd = make(1, Encoding::cheaper, float_bits);
        RandomStream probe(0, Purpose::compress);
        const double nu = std::ldexp(wire_norm(qsgd.encode(x, probe), float_bits).value, -e);
        Vector out(p);
        double error = 0;
        double error_sq = 0;
        for (int draw = 0; draw < draws; ++draw) {
          RandomStream rng(23, Purpose::compress, static_cast<std::uint64_t>(draw));
          qsgd.compress(x, out, rng);
          const double d = (in_units(out) - xu).squaredNorm();
          error += d;
          error_sq += d * d;
        }
        const double mean = error / draws;
        const double sd = std::sqrt((error_sq / draws - mean * mean) / draws);
        double expected = 0;  // Σ (n/s)² f_i(1 − f_i)
        for (Index i = 0; i < p; ++i) {
          const double r = std::abs(xu[i]) / nu;
          expected += nu * nu * r * (1 - r);
        }
        const double bound = std::min(double(p), std::sqrt(double(p))) * xu.squaredNorm();
        INFO("mean ‖Q(x) − x‖² " << mean / xu.squaredNorm() << " ‖x‖², expected "
                                 << expected / xu.squaredNorm() << ", bound 10, sd "
                                 << sd / xu.squaredNorm());
        CHECK(mean <= bound);
        CHECK(std::abs(mean - expected) <= 5 * sd);
      }
    }
  }
}

TEST_CASE("Qsgd: invalid parameters name themselves, their value and the allowed range",
          "[compress][qsgd]") {
  using Catch::Contains;
  const auto refused = [](Qsgd::Params params, Wire wire = {}) {
    return test::refusal([&] { Qsgd(params, wire); });
  };
  CHECK_THAT(refused({.levels = 0}), Contains("qsgd.levels = 0: must be in 1..1048576"));
  CHECK_THAT(refused({.levels = (1 << 20) + 1}), Contains("qsgd.levels = 1048577: must be in 1.."));
  CHECK_THAT(refused({.encoding = static_cast<Encoding>(7)}),
             Contains("qsgd.encoding = 7: must be fixed, elias, cheaper or elias_gamma"));
  CHECK_THAT(refused({.encoding = static_cast<Encoding>(-1)}), Contains("qsgd.encoding = -1"));
  CHECK_THAT(refused({}, Wire{.float_bits = 16}), Contains("float_bits = 16: must be 32 or 64"));
  CHECK(refused({.levels = 1, .encoding = Encoding::fixed}) == "accepted");
  CHECK(refused({.levels = 1 << 20, .encoding = Encoding::elias_gamma}) == "accepted");
  CHECK(refused({}, Wire{.float_bits = 32}) == "accepted");
}

TEST_CASE("Qsgd refuses bad input", "[compress][qsgd]") {
  CHECK(Qsgd().describe() == "qsgd(s=1, cheaper, fp64)");
  CHECK(Qsgd().float_bits() == 64);
  CHECK(Qsgd({.levels = 7, .encoding = Encoding::elias}).describe() == "qsgd(s=7, elias, fp64)");
  CHECK(make(4, Encoding::elias_gamma, 32).describe() == "qsgd(s=4, elias_gamma, fp32)");
  for (const int float_bits : both_widths) {
    for (const Encoding encoding : all_encodings) {
      test::check_rejects_non_finite(make(3, encoding, float_bits), 5);
    }
    // Finite entries whose norm overflows a double are refused; beyond a float's range is
    // fine; squares that overflow or underflow are handled.
    const Qsgd qsgd = make(4, Encoding::cheaper, float_bits);
    Vector out(2);
    RandomStream rng(1, Purpose::compress);
    CHECK_THROWS_AS(qsgd.compress(Vector::Constant(2, 1.5e308), out, rng), std::domain_error);
    CHECK_THROWS_AS(qsgd.encode(Vector::Constant(2, 1.5e308), rng), std::domain_error);
    for (const double big : {3e38, 1e200, 1e308}) {
      const Vector y = test::check_round_trip(qsgd, Vector::Constant(2, -big), 3);
      CHECK(y.allFinite());
      CHECK(std::abs(y[1]) > 0);
    }
    Vector mixed(2);
    mixed << 1e30, -2e30;  // squares near 1e60: fine in a double
    test::check_round_trip(qsgd, mixed, 3);
    Vector tiny(2);
    tiny << 3e-30, -4e-30;  // norm 5e-30, a normal float; squares ~1e-59
    test::check_round_trip(qsgd, tiny, 3);
    Vector underflow(2);
    underflow << 3e-170, -4e-170;  // squares underflow to 0: the scaled norm is used
    const Message message = qsgd.encode(underflow, rng);
    CHECK(wire_norm(message, float_bits).value == Approx(5e-170).epsilon(1e-15));
    test::check_round_trip(qsgd, underflow, 3);
  }
}

TEST_CASE("Qsgd's tabulated fixed-width decode rejects the fields encode never writes",
          "[compress][qsgd]") {
  // p large beside 2^width, so the decoder looks fields up in its tables; the bad field sits
  // in a later block, and the message around it is valid. On a 32-bit link with the norm in
  // its short and wide forms, and on a 64-bit link.
  const Index p = 3000;
  for (const NormField norm : {f32(3.0), wide(3e-300), f64(3.0)}) {
    for (const int s : {2, 255}) {
      const Qsgd fixed = make(s, Encoding::fixed, norm.form == NormForm::f64 ? 64 : 32);
      const int width = level_width(s);
      std::vector<std::pair<bool, std::uint64_t>> coords(static_cast<std::size_t>(p));
      for (std::size_t i = 0; i < coords.size(); ++i) {
        coords[i] = {i % 3 == 0, i % 2 == 0 ? 0 : 1 + i % static_cast<std::size_t>(s)};
        if (coords[i].second == 0) coords[i].first = false;
      }
      Vector out(p);
      CHECK_NOTHROW(fixed.decode(fixed_message(norm, width, coords), out));
      CHECK(out[1] == norm.value * static_cast<double>(1 + 1 % s) / s);
      CHECK(out[3] == -norm.value * static_cast<double>(1 + 3 % s) / s);
      const std::uint64_t too_high = (std::uint64_t{1} << width) - 1;
      if (too_high > static_cast<std::uint64_t>(s)) {
        auto bad = coords;
        bad[2345] = {false, too_high};
        CHECK_THROWS_WITH(fixed.decode(fixed_message(norm, width, bad), out),
                          Catch::Contains(fmt::format("level {} at coordinate 2345", too_high)));
      }
      auto signed_zero = coords;
      signed_zero[1700] = {true, 0};
      CHECK_THROWS_WITH(fixed.decode(fixed_message(norm, width, signed_zero), out),
                        Catch::Contains("sign bit set on a zero level at coordinate 1700"));
      const NormField zero{norm.form == NormForm::wide ? NormForm::f32 : norm.form, 0.0};
      CHECK_THROWS_WITH(fixed.decode(fixed_message(zero, width, coords), out),
                        Catch::Contains("nonzero level at coordinate 1 with norm 0"));
      std::vector<std::pair<bool, std::uint64_t>> zeros(static_cast<std::size_t>(p), {false, 0});
      CHECK_NOTHROW(fixed.decode(fixed_message(zero, width, zeros), out));
      CHECK(out == Vector::Zero(p));
    }
  }
}
