#pragma once

// Half precision: every coordinate as an IEEE 754 binary16 number on the wire (16 value bits
// per coordinate, nothing else). Rounding is to nearest, ties to even, straight from the
// double (one rounding, never double → float → half). binary16 has 1 sign bit, 5 exponent bits
// (bias 15) and 10 fraction bits: normal numbers from 2^-14 to 65504, subnormals k·2^-24 for
// k = 1..1023, and ±0, all of which are produced. A coordinate beyond the finite range
// saturates to ±65504 (IEEE rounding would give ±infinity; a compressor must not send one).
// The relative error of a coordinate in the normal range is at most 2^-11.
//
// The conversions are written here with integer operations on the bit patterns, so they do
// not depend on the compiler's _Float16 support or on the floating-point environment.

#include <laconic/compress/compressor.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace laconic::compress {

namespace half {

inline constexpr double max_finite = 65504.0;  // (2 − 2^-10) · 2^15

// The binary16 nearest to `value`, ties to even. Overflow gives ±infinity and a NaN stays a
// (quiet) NaN, as IEEE 754 prescribes; Fp16 saturates before calling this.
constexpr std::uint16_t from_double(double value) {
  const auto bits = std::bit_cast<std::uint64_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 48) & 0x8000u);
  const std::uint64_t magnitude = bits & 0x7FFF'FFFF'FFFF'FFFFu;
  constexpr std::uint64_t fraction_mask = (std::uint64_t{1} << 52) - 1;
  if (magnitude >= 0x7FF0'0000'0000'0000u) {  // infinity or NaN
    if (magnitude == 0x7FF0'0000'0000'0000u) return sign | 0x7C00u;
    // Keep the top payload bits and set the quiet bit, so a NaN never becomes infinity.
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((magnitude & fraction_mask) >> 42));
  }
  const int exponent = static_cast<int>(magnitude >> 52) - 1023;  // unbiased
  if (exponent > 15) return sign | 0x7C00u;  // ≥ 2^16: beyond every rounding boundary
  // Rounding to nearest even without branches: adding half a unit minus one, plus the lowest
  // kept bit, carries into the kept bits exactly when the dropped bits exceed half a unit, or
  // equal it and the kept value is odd.
  const auto round_shift = [](std::uint64_t bits, int dropped) {
    const std::uint64_t odd = (bits >> dropped) & 1u;
    return (bits + ((std::uint64_t{1} << (dropped - 1)) - 1) + odd) >> dropped;
  };
  std::uint64_t rounded;
  if (exponent >= -14) {
    // Normal range: rebias the exponent from 1023 to 15 in place and keep 10 of the 52
    // fraction bits. A carry out of the fraction moves to the next binade (and from 65504 on
    // to infinity, 0x7C00), as it should.
    rounded = round_shift(magnitude - (std::uint64_t{1023 - 15} << 52), 42);
  } else {
    // Subnormal range: the value in units of 2^-24 is (1.fraction) · 2^(exponent + 24). Below
    // 2^-25 (half the smallest subnormal) everything rounds to zero, double subnormals
    // included. Rounding up from the largest subnormal gives 0x0400, the smallest normal.
    if (exponent < -25) return sign;
    const std::uint64_t full = (magnitude & fraction_mask) | (std::uint64_t{1} << 52);
    rounded = round_shift(full, 28 - exponent);  // 43 ... 53 bits dropped
  }
  return static_cast<std::uint16_t>(sign | rounded);
}

constexpr std::uint16_t from_float(float value) {
  return from_double(static_cast<double>(value));  // exact widening: still one rounding
}

// The value of a binary16 bit pattern, exactly (every binary16 number is a float).
constexpr float to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  const std::uint32_t fraction = h & 0x3FFu;
  if (exponent == 0x1F) {  // infinity or NaN, payload kept
    return std::bit_cast<float>(sign | 0x7F80'0000u | (fraction << 13));
  }
  if (exponent != 0) {
    return std::bit_cast<float>(sign | ((exponent - 15 + 127) << 23) | (fraction << 13));
  }
  if (fraction == 0) return std::bit_cast<float>(sign);  // ±0
  // Subnormal: fraction · 2^-24, normalised by moving the leading one to bit 10.
  const int shift = std::countl_zero(fraction) - 21;  // 1 ... 10
  const std::uint32_t normalised = (fraction << shift) & 0x3FFu;
  const auto biased = static_cast<std::uint32_t>(-14 - shift + 127);
  return std::bit_cast<float>(sign | (biased << 23) | (normalised << 13));
}

constexpr double to_double(std::uint16_t h) {
  return static_cast<double>(to_float(h));
}

// True for the patterns of ±infinity and NaNs (exponent field all ones).
constexpr bool is_special(std::uint16_t h) {
  return (h & 0x7C00u) == 0x7C00u;
}

}  // namespace half

class Fp16 {
 public:
  struct Params {
    template <class V>
    void fields(V&&) {}
  };

  // Half precision is its own width: the Wire's float_bits does not apply.
  explicit Fp16(const Params& params = {}, const Wire& wire = {}) : params_(params) {
    wire.validate();
  }

  const Params& params() const { return params_; }
  bool unbiased() const { return false; }
  std::string describe() const { return "fp16"; }

  Message encode(const Vector& x, RandomStream& /*rng*/) const {
    require_finite_input(all_finite(x), "fp16");
    Message message;
    BitWriter writer(message);
    const Index p = x.size();
    writer.reserve(static_cast<std::uint64_t>(p) * 16);
    // Four halves per word, a block of words per bulk write.
    std::uint64_t words[block];
    const double* data = x.data();
    Index i = 0;
    while (p - i >= 4) {
      const Index m = std::min<Index>(block, (p - i) / 4);
      for (Index j = 0; j < m; ++j, i += 4) {
        words[j] = std::uint64_t{to_half(data[i])} | (std::uint64_t{to_half(data[i + 1])} << 16) |
                   (std::uint64_t{to_half(data[i + 2])} << 32) |
                   (std::uint64_t{to_half(data[i + 3])} << 48);
      }
      writer.write_words(words, static_cast<std::size_t>(m), Field::values);
    }
    for (; i < p; ++i) writer.write(to_half(data[i]), 16, Field::values);
    writer.finish();
    return message;
  }

  // `out` must already have the message's dimension. Infinities and NaNs, which encode()
  // never sends, are rejected (out is then partly written).
  void decode(const Message& message, Vector& out) const {
    BitReader reader(message.bytes);
    const Index p = out.size();
    std::uint64_t words[block];
    std::uint16_t halves[4 * block];
    for (Index start = 0; start < p; start += 4 * block) {
      const Index m = std::min<Index>(4 * block, p - start);  // coordinates in this block
      const Index whole = m / 4;
      reader.read_words(words, static_cast<std::size_t>(whole));
      if (m % 4 != 0) words[whole] = reader.read(16 * static_cast<int>(m % 4));
      const Index used = (m + 3) / 4;
      if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(halves, words, sizeof(std::uint64_t) * static_cast<std::size_t>(used));
      } else {
        for (Index j = 0; j < used; ++j) {
          for (Index l = 0; l < 4; ++l) {
            halves[4 * j + l] = static_cast<std::uint16_t>(words[j] >> (16 * l));
          }
        }
      }
      if (widen(halves, out.data() + start, m)) {
        for (Index j = 0; j < m; ++j) {
          if (half::is_special(halves[j])) {
            throw DecodeError(fmt::format("fp16: coordinate {} is not a finite number ({:#06x})",
                                          start + j, halves[j]));
          }
        }
      }
    }
    reader.expect_end();
  }

  // decode(encode(x)) without the bytes.
  Bits compress(const Vector& x, Vector& out, RandomStream& /*rng*/) const {
    require_finite_input(all_finite(x), "fp16");
    const Index p = x.size();
    if (out.size() != p) {
      Vector fresh(p);  // not out.resize(p), on which GCC 12 may warn -Wuse-after-free
      out.swap(fresh);
    }
    std::uint16_t halves[4 * block];
    for (Index start = 0; start < p; start += 4 * block) {
      const Index m = std::min<Index>(4 * block, p - start);
      for (Index j = 0; j < m; ++j) halves[j] = to_half(x[start + j]);
      widen(halves, out.data() + start, m);
    }
    return Bits{.values = static_cast<std::uint64_t>(p) * 16};
  }

 private:
  // out[j] = the value of halves[j], as half::to_double gives it, for j < m, computed without
  // a branch on the data so that the loop vectorises: a normal half is rebiased into a float's
  // bits, a subnormal one is its fraction times 2^-24 (exact in float), and the float is then
  // widened. Returns whether any of the halves is ±infinity or a NaN (whose out[j] is then
  // meaningless).
  static bool widen(const std::uint16_t* halves, double* out, Index m) {
    std::uint32_t special = 0;
    for (Index j = 0; j < m; ++j) {
      const std::uint32_t h = halves[j];
      const std::uint32_t magnitude = h & 0x7FFFu;
      const std::uint32_t sign = (h & 0x8000u) << 16;
      special |= magnitude >= 0x7C00u ? 1u : 0u;
      const std::uint32_t normal = (magnitude << 13) + ((127u - 15u) << 23);
      const float subnormal = static_cast<float>(static_cast<std::int32_t>(magnitude)) * 0x1p-24f;
      // A select by masks, not ?:, which GCC turns into a branch here.
      const std::uint32_t small = 0u - static_cast<std::uint32_t>(magnitude < 0x400u);
      const std::uint32_t bits =
          (std::bit_cast<std::uint32_t>(subnormal) & small) | (normal & ~small);
      out[j] = static_cast<double>(std::bit_cast<float>(bits | sign));
    }
    return special != 0;
  }

  static std::uint16_t to_half(double value) {
    return half::from_double(std::clamp(value, -half::max_finite, half::max_finite));
  }

  static constexpr Index block = 256;  // words staged on the stack per bulk write or read

  Params params_;
};

}  // namespace laconic::compress
