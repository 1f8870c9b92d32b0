#pragma once

// Scaled sign (CD-Adam, seed 004 App. A; the default compressor of EF-SGD's code):
// C(x) = (‖x‖₁/p) · sign(x), with sign(0) = +1 (for −0.0 too). With the scale s = ‖x‖₁/p,
// ‖C(x) − x‖² = ‖x‖² − ‖x‖₁²/p exactly, since every coordinate is ±s and sign(x_i)·x_i = |x_i|
// (which sign(0) = 0 would break); with s rounded to s̃ for the wire it is
// ‖x‖² − ‖x‖₁²/p + p(s̃ − s)². Deterministic and biased, with α(x) = ‖x‖₁²/(p‖x‖²) ≥ 1/p.
//
// Wire format (least significant bit first):
//   float_bits  metadata  the scale s̃ = ‖x‖₁/p as a 64-bit (default) or 32-bit float (Wire)
//   p bits      values    bit i set when x_i < 0 (decoded −s̃), clear otherwise (decoded +s̃)
// encode() sums ‖x‖₁ and packs the sign bits, 64 to a word, in one pass over x; decode()
// unpacks them two coordinates at a time.

#include <laconic/compress/compressor.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace laconic::compress {

class ScaledSign {
 public:
  struct Params {
    template <class V>
    void fields(V&&) {}
  };

  explicit ScaledSign(const Params& params = {}, const Wire& wire = {})
      : params_(params), float_bits_(validated(wire).float_bits) {}

  const Params& params() const { return params_; }
  bool unbiased() const { return false; }
  std::string describe() const { return fmt::format("scaled_sign(fp{})", float_bits_); }

  // The bits of every message for dimension p: p + float_bits.
  // CD-Adam's Table 2: d + 32 bits, the scale as a 32-bit float.
  std::uint64_t paper_bits(Index p) const { return 32 + static_cast<std::uint64_t>(p); }

  Bits bits(Index p) const {
    return Bits{.values = static_cast<std::uint64_t>(p),
                .metadata = static_cast<std::uint64_t>(float_bits_)};
  }

  // The scale as the wire carries it: ‖x‖₁/p rounded to float_bits (0 when p = 0). Refuses a
  // non-finite x, or one whose ‖x‖₁ or scale overflows.
  double scale(const Vector& x) const { return wire_scale(l1_norm<false>(x, nullptr), x.size()); }

  Message encode(const Vector& x, RandomStream& /*rng*/) const {
    const Index p = x.size();
    thread_local std::vector<std::uint64_t> words;  // grows, never shrinks
    words.resize(std::max(words.size(), static_cast<std::size_t>((p + 63) / 64)));
    const double s = wire_scale(l1_norm<true>(x, words.data()), p);
    Message message;
    BitWriter writer(message);
    writer.reserve(bits(p).total());
    if (float_bits_ == 32) {
      writer.write_f32(static_cast<float>(s), Field::metadata);
    } else {
      writer.write_f64(s, Field::metadata);
    }
    writer.write_words(words.data(), static_cast<std::size_t>(p / 64), Field::values);
    if (p % 64 != 0) writer.write(words[p / 64], static_cast<int>(p % 64), Field::values);
    writer.finish();
    return message;
  }

  // `out` must already have the message's dimension. Its contents are unspecified after a
  // DecodeError.
  void decode(const Message& message, Vector& out) const {
    const Index p = out.size();
    BitReader reader(message.bytes);
    const double s = float_bits_ == 32 ? static_cast<double>(reader.read_f32()) : reader.read_f64();
    if (!std::isfinite(s) || std::signbit(s)) {
      throw DecodeError(fmt::format("bad scale {}: must be finite and non-negative", s));
    }
    // Two coordinates at a time from a table indexed by their two sign bits.
    const double pairs[4][2] = {{s, s}, {-s, s}, {s, -s}, {-s, -s}};
    double* data = out.data();
    for (Index start = 0; start < p; start += 64) {
      const int count = static_cast<int>(std::min<Index>(64, p - start));
      const std::uint64_t word = reader.read(count);
      double* block = data + start;
      int j = 0;
      for (; j + 2 <= count; j += 2) std::memcpy(block + j, pairs[word >> j & 3], sizeof pairs[0]);
      if (j < count) block[j] = pairs[word >> j & 1][0];
    }
    reader.expect_end();
  }

  // decode(encode(x)) without the bytes. `out` may be x itself.
  Bits compress(const Vector& x, Vector& out, RandomStream& /*rng*/) const {
    const double s = scale(x);
    const Index p = x.size();
    out.resize(p);
    const double* in = x.data();
    double* data = out.data();
    for (Index i = 0; i < p; ++i) data[i] = in[i] < 0 ? -s : s;
    return bits(p);
  }

 private:
  // ‖x‖₁ as eight interleaved partial sums added in a fixed order, the same for encode() and
  // compress(); with Pack, also the sign bits (x_i < 0) into words, 64 to a word, in the same
  // pass.
  template <bool Pack>
  static double l1_norm(const Vector& x, std::uint64_t* words) {
    const Index p = x.size();
    const double* data = x.data();
    const Index full = p / 64 * 64;
    double partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (Index start = 0; start < full; start += 64) {
      const double* block = data + start;
      std::uint64_t word = 0;
      for (int j = 0; j < 64; j += 8) {
        unsigned byte = 0;
        for (int l = 0; l < 8; ++l) {
          partial[l] += std::abs(block[j + l]);
          if constexpr (Pack) byte |= static_cast<unsigned>(block[j + l] < 0) << l;
        }
        if constexpr (Pack) word |= static_cast<std::uint64_t>(byte) << j;
      }
      if constexpr (Pack) words[start / 64] = word;
    }
    double tail = 0;
    std::uint64_t word = 0;
    for (Index i = full; i < p; ++i) {
      tail += std::abs(data[i]);
      if constexpr (Pack) word |= static_cast<std::uint64_t>(data[i] < 0) << (i - full);
    }
    if constexpr (Pack) {
      if (full < p) words[full / 64] = word;
    }
    return ((partial[0] + partial[1]) + (partial[2] + partial[3])) +
           ((partial[4] + partial[5]) + (partial[6] + partial[7])) + tail;
  }

  // ‖x‖₁/p as the wire carries it (0 when p = 0), refusing a non-finite ‖x‖₁ (a non-finite
  // entry, or an overflow) and a scale beyond the float range.
  double wire_scale(double l1, Index p) const {
    require_finite_input(std::isfinite(l1), "scaled_sign");
    if (p == 0) return 0;
    const double exact = l1 / static_cast<double>(p);
    const double sent = float_bits_ == 32 ? static_cast<double>(static_cast<float>(exact)) : exact;
    if (!std::isfinite(sent)) {
      throw std::domain_error(fmt::format(
          "scaled_sign: the scale ‖x‖₁/p = {} does not fit in a {}-bit float", exact, float_bits_));
    }
    return sent;
  }

  Params params_;
  int float_bits_;
};

}  // namespace laconic::compress
