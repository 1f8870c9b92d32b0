#pragma once

// No compression: every coordinate as a float on the wire, 64-bit by default (exact) or 32-bit
// (the papers' wire format), as the link's Wire says; the papers count 32 bits either way. At
// 32 bits a finite coordinate beyond the float range is refused (std::domain_error), since its
// float would be infinite.

#include <laconic/compress/compressor.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

namespace laconic::compress {

class Identity {
 public:
  struct Params {
    template <class V>
    void fields(V&&) {}
  };

  explicit Identity(const Params& params = {}, const Wire& wire = {})
      : params_(params), float_bits_(validated(wire).float_bits) {}

  const Params& params() const { return params_; }
  bool unbiased() const { return true; }
  std::string describe() const { return fmt::format("identity(fp{})", float_bits_); }

  Message encode(const Vector& x, RandomStream& /*rng*/) const {
    require_finite_input(all_finite(x), "identity");
    if (float_bits_ == 32) require_fits_float(x, "identity");
    const Index p = x.size();
    Message message;
    BitWriter writer(message);
    writer.reserve(static_cast<std::uint64_t>(p) * float_bits_);
    // Blocks of coordinates packed into words on the stack, then handed over whole.
    std::uint64_t words[block];
    const double* data = x.data();
    if (float_bits_ == 32) {
      Index i = 0;
      for (; i + 2 * block <= p; i += 2 * block) {
        for (Index j = 0; j < block; ++j) words[j] = pair(data[i + 2 * j], data[i + 2 * j + 1]);
        writer.write_words(words, block, Field::values);
      }
      const Index pairs = (p - i) / 2;
      for (Index j = 0; j < pairs; ++j) words[j] = pair(data[i + 2 * j], data[i + 2 * j + 1]);
      writer.write_words(words, static_cast<std::size_t>(pairs), Field::values);
      if ((p - i) % 2 != 0) writer.write_f32(static_cast<float>(data[p - 1]), Field::values);
    } else {
      for (Index i = 0; i < p; i += block) {
        const Index m = std::min<Index>(block, p - i);
        for (Index j = 0; j < m; ++j) words[j] = std::bit_cast<std::uint64_t>(data[i + j]);
        writer.write_words(words, static_cast<std::size_t>(m), Field::values);
      }
    }
    writer.finish();
    return message;
  }

  // `out` must already have the message's dimension. Its contents are unspecified after a
  // DecodeError.
  void decode(const Message& message, Vector& out) const {
    BitReader reader(message.bytes);
    const Index p = out.size();
    double* data = out.data();
    std::uint64_t words[block];
    if (float_bits_ == 32) {
      // Two floats per word, widened straight into out.
      Index i = 0;
      for (; i + 1 < p; i += 2 * block) {
        const Index pairs = std::min<Index>(block, (p - i) / 2);
        reader.read_words(words, static_cast<std::size_t>(pairs));
        for (Index j = 0; j < pairs; ++j) {
          data[i + 2 * j] = std::bit_cast<float>(static_cast<std::uint32_t>(words[j]));
          data[i + 2 * j + 1] = std::bit_cast<float>(static_cast<std::uint32_t>(words[j] >> 32));
        }
      }
      if (p % 2 != 0) data[p - 1] = static_cast<double>(reader.read_f32());
    } else {
      for (Index i = 0; i < p; i += block) {
        const Index m = std::min<Index>(block, p - i);
        reader.read_words(words, static_cast<std::size_t>(m));
        for (Index j = 0; j < m; ++j) data[i + j] = std::bit_cast<double>(words[j]);
      }
    }
    reader.expect_end();
    // encode() refuses non-finite vectors, so such a float on the wire is corruption.
    if (!all_finite(out)) {
      Index i = 0;
      while (std::isfinite(data[i])) ++i;
      throw DecodeError(fmt::format("identity: coordinate {} is not finite ({})", i, data[i]));
    }
  }

  // decode(encode(x)) without the bytes.
  Bits compress(const Vector& x, Vector& out, RandomStream& /*rng*/) const {
    require_finite_input(all_finite(x), "identity");
    if (float_bits_ == 32) {
      require_fits_float(x, "identity");
      out = x.cast<float>().cast<double>();
    } else {
      out = x;
    }
    return Bits{.values = static_cast<std::uint64_t>(x.size()) * float_bits_};
  }
  // At 64 bits the receiver decodes x itself.
  std::optional<Bits> verbatim(Index p) const {
    if (float_bits_ != 64) return std::nullopt;
    return Bits{.values = static_cast<std::uint64_t>(p) * 64};
  }
  // The papers count every float as 32 bits.
  std::uint64_t paper_bits(Index p) const { return 32 * static_cast<std::uint64_t>(p); }

 private:
  static constexpr Index block = 256;  // words staged on the stack per bulk write or read

  // The two floats of x_i and x_{i+1} as one little-endian word, x_i in the low half.
  static std::uint64_t pair(double first, double second) {
    return std::uint64_t{std::bit_cast<std::uint32_t>(static_cast<float>(first))} |
           (std::uint64_t{std::bit_cast<std::uint32_t>(static_cast<float>(second))} << 32);
  }

  Params params_;
  int float_bits_;
};

}  // namespace laconic::compress
