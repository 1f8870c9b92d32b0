#pragma once

// No compression: every coordinate as a float on the wire, 32-bit by default (the papers'
// convention) or 64-bit.

#include <laconic/compress/compressor.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <string>

namespace laconic::compress {

class Identity {
 public:
  struct Params {
    int float_bits = 32;  // 32 or 64
  };

  Identity() : Identity(Params{}) {}
  explicit Identity(const Params& params) : params_(params) {
    require_float_bits(params.float_bits, "identity");
  }

  const Params& params() const { return params_; }
  bool unbiased() const { return true; }
  std::string describe() const { return fmt::format("identity(fp{})", params_.float_bits); }

  Message encode(const Vector& x, RandomStream& /*rng*/) const {
    require_finite_input(x.allFinite(), "identity");
    Message message;
    BitWriter writer(message);
    writer.reserve(static_cast<std::uint64_t>(x.size()) * params_.float_bits);
    for (Index i = 0; i < x.size(); ++i) {
      if (params_.float_bits == 32) {
        writer.write_f32(static_cast<float>(x[i]), Field::values);
      } else {
        writer.write_f64(x[i], Field::values);
      }
    }
    writer.finish();
    return message;
  }

  // `out` must already have the message's dimension.
  void decode(const Message& message, Vector& out) const {
    BitReader reader(message.bytes);
    for (Index i = 0; i < out.size(); ++i) {
      out[i] =
          params_.float_bits == 32 ? static_cast<double>(reader.read_f32()) : reader.read_f64();
    }
    reader.expect_end();
  }

  // decode(encode(x)) without the bytes.
  Bits compress(const Vector& x, Vector& out, RandomStream& /*rng*/) const {
    require_finite_input(x.allFinite(), "identity");
    if (params_.float_bits == 32) {
      out = x.cast<float>().cast<double>();
    } else {
      out = x;
    }
    return Bits{.values = static_cast<std::uint64_t>(x.size()) * params_.float_bits};
  }
  // The papers count every float as 32 bits.
  std::uint64_t paper_bits(Index p) const { return 32 * static_cast<std::uint64_t>(p); }

 private:
  Params params_;
};

}  // namespace laconic::compress
