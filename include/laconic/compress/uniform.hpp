#pragma once

// LAQ's deterministic b-bit grid (Sun, Chen, Giannakis, Yang, NeurIPS 2019, §2;
// docs/compressors.md). With R = ‖x‖_∞, M = 2^b − 1 and τ = 1/M, coordinate i is sent as
//
//   q_i = ⌊(x_i + R) / (2τR) + 1/2⌋ ∈ {0, …, M}
//
// and decoded as 2τR·q_i − R = (2q_i − M)·R/M, the grid point nearest to x_i, so
// |x_i − C(x)_i| ≤ τR. Deterministic and biased. Used through Markov<Uniform> it is LAQ's
// quantized innovation. The grid has no zero (M is odd): x_i = 0 is a tie between ∓R/M, which
// the formula sends up, to +R/M, and so does this code for every b (1/(2τR) is rounded up).
// Other exact ties go up too unless x_i + R is inexact in floating point; either way the
// error bound below holds.
//
// R travels as a float of the link's width (Wire): exactly as a 64-bit float (the default), or
// rounded *up* to a 32-bit float. That R_f is what both ends use, so decode(encode(x)) ==
// compress(x) exactly and every |x_i| ≤ R_f: q never leaves the grid (Grid::indices says why in
// floating point too). The decoded value (2q_i − M)·R_f/M is within two roundings of the grid
// point, and the correctly rounded one for a 32-bit R_f and b ≤ 29 (the product of an integer
// below 2^29 and a float is exact in a double); ±R_f decode to ±R_f exactly. Error bound with
// all rounding included: |x_i − C(x)_i| ≤ τR_f + 2^-49·R_f, where R_f = R at 64 bits, and
// R ≤ R_f < (1 + 2^-23)R at 32 bits when R is at least the smallest normal float (2^-126).
// R = 0 (x = 0) decodes to +0 everywhere; the q_i are then all 0 on the wire. At 32 bits, R
// above the largest float is refused with std::domain_error.
//
// Wire: R_f (metadata, 64 or 32 bits), then q_i in b bits per coordinate (values); the papers
// count LAQ's 32 + b·p (Bits::paper), also for x = 0.

#include <laconic/compress/compressor.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace laconic::compress {

class Uniform {
 public:
  struct Params {
    int bits = 4;  // b, 1 ≤ b ≤ 31
    template <class V>
    void fields(V&& v) {
      v("bits", bits);
    }
  };

  Uniform() : Uniform(Params{}) {}
  explicit Uniform(const Params& params, const Wire& wire = {})
      : params_(params), float_bits_(validated(wire).float_bits) {
    require_param(params.bits >= 1 && params.bits <= 31, "uniform.bits", params.bits, "in 1..31");
    top_ = (std::uint64_t{1} << params.bits) - 1;
  }

  const Params& params() const { return params_; }
  bool unbiased() const { return false; }
  std::string describe() const {
    return fmt::format("uniform(b={}, fp{})", params_.bits, float_bits_);
  }

  // M = 2^b − 1, the largest q; τ = 1/M.
  std::uint64_t top() const { return top_; }

  Bits bits(Index p) const {
    return Bits{.values = static_cast<std::uint64_t>(p) * static_cast<std::uint64_t>(params_.bits),
                .metadata = static_cast<std::uint64_t>(float_bits_)};
  }
  // LAQ's count: R as a 32-bit float and b bits per coordinate.
  std::uint64_t paper_bits(Index p) const {
    return 32 + static_cast<std::uint64_t>(p) * static_cast<std::uint64_t>(params_.bits);
  }

  Message encode(const Vector& x, RandomStream& /*rng*/) const {
    const double radius = wire_radius(x);
    const Index p = x.size();
    const int b = params_.bits;
    Message message;
    BitWriter writer(message);
    writer.reserve(bits(p).total());
    if (float_bits_ == 32) {
      writer.write_f32(static_cast<float>(radius), Field::metadata);
    } else {
      writer.write_f64(radius, Field::metadata);
    }
    const Grid grid(radius, top_);
    // Blocks of coordinates: their q first (a loop that vectorises), then packed by the writer.
    std::uint32_t q[block];
    for (Index start = 0; start < p; start += block) {
      const Index m = std::min(block, p - start);
      grid.indices(x.data() + start, m, q);
      writer.write_fields(q, static_cast<std::size_t>(m), b, Field::values);
    }
    writer.finish();
    return message;
  }

  // `out` must already have the message's dimension.
  void decode(const Message& message, Vector& out) const {
    BitReader reader(message.bytes);
    const double radius =
        float_bits_ == 32 ? static_cast<double>(reader.read_f32()) : reader.read_f64();
    if (!std::isfinite(radius) || std::signbit(radius) || radius > largest_radius()) {
      throw DecodeError(fmt::format(
          "uniform: the radius {} is not finite, non-negative and at most {} (beyond it the "
          "grid's points overflow)",
          radius, largest_radius()));
    }
    const Index p = out.size();
    const Grid grid(radius, top_, p);
    std::uint32_t q[block];
    double* data = out.data();
    for (Index start = 0; start < p; start += block) {
      const Index m = std::min(block, p - start);
      reader.read_fields(q, static_cast<std::size_t>(m), params_.bits);
      if (radius == 0) {
        for (Index j = 0; j < m; ++j) {
          if (q[j] != 0) {
            throw DecodeError(
                fmt::format("uniform: nonzero q at coordinate {} with radius 0", start + j));
          }
        }
      }
      grid.values(q, m, data + start);
    }
    reader.expect_end();
  }

  // decode(encode(x)) without the bytes.
  Bits compress(const Vector& x, Vector& out, RandomStream& /*rng*/) const {
    const double radius = wire_radius(x);
    const Index p = x.size();
    const Grid grid(radius, top_, p);
    resize(out, p);
    std::uint32_t q[block];
    for (Index start = 0; start < p; start += block) {
      const Index m = std::min(block, p - start);
      grid.indices(x.data() + start, m, q);
      grid.values(q, m, out.data() + start);
    }
    return bits(p);
  }

 private:
  static constexpr Index block = 512;  // coordinates whose q are staged on the stack

  // out.resize(p), by swapping in a new vector: GCC 12 warns (-Wuse-after-free) about the
  // free-then-allocate inside Eigen's resize in some inlining contexts.
  static void resize(Vector& out, Index p) {
    if (out.size() != p) {
      Vector fresh(p);
      out.swap(fresh);
    }
  }

  // The grid of one message: R (a float, widened) and M. Given the dimension, it tabulates
  // the 2^b values when that is cheap beside p; a table entry is the same computation.
  struct Grid {
    Grid(double radius_, std::uint64_t top, Index p = 0)
        : radius(radius_), top_double(static_cast<double>(top)) {
      if (radius > 0) {
        // M/(2R) rounded up (2R is exact; the fma gives the sign of the remainder exactly), so
        // that a tie in exact arithmetic, x = 0 above all, goes up as the formula says.
        scale = top_double / (2 * radius);
        if (std::fma(-scale, 2 * radius, top_double) > 0) {
          scale = std::nextafter(scale, std::numeric_limits<double>::infinity());
        }
      }
      if (top < max_table && static_cast<Index>(4 * top) <= p) {
        thread_local std::vector<double> scratch;
        scratch.resize(static_cast<std::size_t>(top) + 1);
        for (std::uint32_t q = 0; q <= top; ++q) scratch[q] = compute(q);
        table = scratch.data();
      }
    }

    // q[j] = ⌊(x_j + R)/(2τR) + 1/2⌋ for j < m (0 when R = 0), for finite x_j with |x_j| ≤ R.
    // No clamp is needed, and none is made, so that the loop vectorises (two clamps would
    // double its time): x + R rounds to a value in [0, 2R] since rounding is monotone, so t
    // is at least 1/2 and truncation is the floor; and 2R·scale ≤ M(1 + 2^-50), with scale
    // M/(2R) rounded up (below), so t < M + 1 for M < 2^31 and q ≤ M.
    void indices(const double* x, Index m, std::uint32_t* q) const {
      const double r = radius;
      const double s = scale;
      for (Index j = 0; j < m; ++j) {
        q[j] = static_cast<std::uint32_t>(static_cast<std::int32_t>((x[j] + r) * s + 0.5));
      }
    }

    // out[j] = the grid point of q[j] for j < m.
    void values(const std::uint32_t* q, Index m, double* out) const {
      if (table != nullptr) {
        look_up(table, q, m, out);
      } else {
        for (Index j = 0; j < m; ++j) out[j] = compute(q[j]);
      }
    }

    // (2q − M)·R/M = 2τR·q − R; +0 when R = 0.
    double compute(std::uint32_t q) const {
      if (radius == 0) return 0.0;
      return (2 * static_cast<double>(q) - top_double) * radius / top_double;
    }

    static constexpr std::uint64_t max_table = 1 << 12;

    double radius;
    double top_double;
    double scale = 0;  // M / (2R), rounded up
    const double* table = nullptr;
  };

  // The largest R whose grid (2q − M)·R/M stays finite, 2R included (fuzz_message found a
  // radius near the largest double that decoded to infinities).
  double largest_radius() const {
    return std::numeric_limits<double>::max() / std::max(2.0, static_cast<double>(top_));
  }

  // ‖x‖_∞ as the wire carries it (at 32 bits rounded up to a float, returned widened); refuses
  // non-finite x and, at 32 bits, radii beyond the float range.
  double wire_radius(const Vector& x) const {
    if (x.size() == 0) return 0.0;
    // The default maximum may skip a NaN, so finiteness is checked on the sum, which is
    // finite unless an entry is not (or the sum overflows: then each entry is checked). Two
    // vectorised passes; Eigen's NaN-propagating maximum alone is slower than both.
    require_finite_input(all_finite(x), "uniform");
    const double radius = x.cwiseAbs().maxCoeff();
    if (radius > largest_radius()) {
      throw std::domain_error(fmt::format(
          "uniform: the radius {} of the vector to compress puts grid points beyond the floats",
          radius));
    }
    if (float_bits_ == 64) return radius;
    float rounded = static_cast<float>(radius);
    if (static_cast<double>(rounded) < radius) {
      rounded = std::nextafter(rounded, std::numeric_limits<float>::infinity());
    }
    if (!std::isfinite(rounded)) {
      throw std::domain_error(fmt::format(
          "uniform: the radius {} of the vector to compress exceeds the largest 32-bit float",
          radius));
    }
    return static_cast<double>(rounded);
  }

  Params params_;
  int float_bits_;
  std::uint64_t top_ = 0;
};

}  // namespace laconic::compress
