#pragma once

// QSGD's stochastic quantizer with s levels (Alistarh et al., NeurIPS 2017; FedPAQ's
// low-precision quantizer, Reisizadeh et al., AISTATS 2020, eqs. 5–6):
//
//   Q_i(x) = ‖x‖ · sign(x_i) · ξ_i / s,   r_i = s|x_i| / ‖x‖,   l_i = ⌊r_i⌋,
//   ξ_i = l_i + 1 with probability r_i − l_i, else l_i,
//
// so E Q(x) = x and E‖Q(x) − x‖² ≤ min(p/s², √p/s) ‖x‖². x = 0 gives 0.
//
// ‖x‖ is the Euclidean norm rounded *up* to a 32-bit float, and that float is what is sent and
// what both ends multiply by: decode(encode(x)) == compress(x) exactly, and |x_i| ≤ ‖x‖ keeps
// every level in 0..s (a level is clamped to s all the same, against rounding in r_i). A
// decoded coordinate is the correctly rounded ‖x‖·(±l)/s: the product of a float and an
// integer l ≤ s ≤ 2^20 is exact in a double. ‖x‖ above the largest float is refused with
// std::domain_error.
//
// Randomness: one 64-bit word of the stream (rng.next_u64()) per two coordinates, ⌈p/2⌉ in
// all, drawn for every coordinate, zeros and x = 0 included, so the stream's position after a
// call depends only on p, never on the data. Coordinate i takes u_i, the low 32 bits of word
// ⌊i/2⌋ when i is even and its high 32 bits when i is odd, and rounds up when
// ⌊u_i/2⌋ < ⌊2^31·(r_i − l_i)⌋: with probability ⌊2^31(r_i − l_i)⌋/2^31, which falls short of
// r_i − l_i by less than 2^-31, so E ξ_i − r_i ∈ (−2^-31, 0]. (Half a Philox word per
// coordinate, not a whole one: the generator is most of the cost of quantizing, and 2^-31 of
// a level is far below anything the unbiasedness tests, or an optimizer, can see. 31-bit
// integers, not doubles, because they vectorise with SSE2.)
//
// Wire (bits least significant first, see BitWriter):
//   header    2 bits, metadata: 0 = fixed, 1 = Elias (2 and 3 are rejected)
//   norm      32-bit float, metadata
//   fixed:    per coordinate, sign (1 bit, 0 for level 0) then the level in w = ⌈log₂(s+1)⌉ bits,
//             values: 2 + 32 + p(1 + w) bits.
//   Elias:    QSGD's sparse form. The number n of nonzero levels as γ(n + 1), metadata; then for
//             each nonzero coordinate in increasing order, γ(gap) as indices, gap = its index
//             minus the previous nonzero's index (the first counts from −1), then its sign bit
//             and γ(level) as values.
//   cheaper:  both sizes are computed and the smaller message is sent (fixed on a tie).
// γ(m), m ≥ 1, is the Elias gamma code: with N = ⌊log₂ m⌋, N zeros, a one, then the N bits of
// m below its leading one, here least significant first; 2N + 1 bits.

#include <laconic/compress/compressor.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace laconic::compress {

namespace elias {

// Length in bits of γ(m), m ≥ 1.
constexpr std::uint64_t gamma_bits(std::uint64_t m) {
  return 2 * static_cast<std::uint64_t>(std::bit_width(m)) - 1;
}

inline void write_gamma(BitWriter& writer, std::uint64_t m, Field field) {
  const int n = std::bit_width(m) - 1;
  const std::uint64_t low = m ^ (std::uint64_t{1} << n);  // the bits below the leading one
  if (n <= 31) {
    writer.write((std::uint64_t{1} << n) | (low << (n + 1)), 2 * n + 1, field);
  } else {
    writer.write(std::uint64_t{1} << n, n + 1, field);
    writer.write(low, n, field);
  }
}

// Reads γ(m) at the reader's position; `bytes` are the bytes the reader reads. Peeks at the
// next bytes to find the one that ends the run of zeros, without reading past the end. Codes
// with more than 56 leading zeros (m ≥ 2^57, far beyond any count, gap or level) are refused.
inline std::uint64_t read_gamma(BitReader& reader, std::span<const std::uint8_t> bytes) {
  constexpr int max_zeros = 56;
  const std::uint64_t position = reader.position();
  const std::size_t at = position / 8;
  std::uint64_t window = 0;  // at least 57 bits from `position` on, unless the message ends
  const std::size_t available = std::min<std::size_t>(bytes.size() - at, 8);
  for (std::size_t i = 0; i < available; ++i) {
    window |= std::uint64_t{bytes[at + i]} << (8 * i);
  }
  window >>= position % 8;
  const int n = window == 0 ? 64 : std::countr_zero(window);
  if (n > max_zeros) {
    throw DecodeError(fmt::format("qsgd: no Elias gamma code of at most {} bits at bit {}",
                                  2 * max_zeros + 1, position));
  }
  if (n > 31) {
    reader.read(n + 1);  // the zeros and the one
    return (std::uint64_t{1} << n) | reader.read(n);
  }
  const std::uint64_t code = reader.read(2 * n + 1);
  return (std::uint64_t{1} << n) | (code >> (n + 1));
}

}  // namespace elias

class Qsgd {
 public:
  enum class Encoding { fixed, elias, cheaper };

  struct Params {
    int levels = 1;                         // s, 1 ≤ s ≤ 2^20
    Encoding encoding = Encoding::cheaper;  // what encode() sends
  };

  static constexpr int max_levels = 1 << 20;
  static constexpr int header_bits = 2;
  static constexpr std::uint64_t header_fixed = 0;
  static constexpr std::uint64_t header_elias = 1;

  Qsgd() : Qsgd(Params{}) {}
  explicit Qsgd(const Params& params)
      : params_(params), level_bits_(std::bit_width(static_cast<unsigned>(params.levels))) {
    require_param(params.levels >= 1 && params.levels <= max_levels, "qsgd.levels", params.levels,
                  "in 1..1048576 (2^20)");
    const int encoding = static_cast<int>(params.encoding);
    require_param(encoding >= 0 && encoding <= 2, "qsgd.encoding", encoding,
                  "fixed, elias or cheaper");
  }

  const Params& params() const { return params_; }
  bool unbiased() const { return true; }
  std::string describe() const {
    return fmt::format("qsgd(s={}, {})", params_.levels, encoding_name(params_.encoding));
  }

  // ⌈log₂(s + 1)⌉, the width of a level in the fixed encoding.
  int level_bits() const { return level_bits_; }

  // The fixed-width count 32 + p(1 + ⌈log₂(s+1)⌉) without our 2-bit header: LASG's 32 + b·p
  // for "b-bit" QSGD, FedPAQ's |Q(p, s)| (ALGORITHMS.md §3.3, §7.4).
  std::uint64_t paper_bits(Index p) const {
    return 32 + static_cast<std::uint64_t>(p) * static_cast<std::uint64_t>(1 + level_bits_);
  }

  // The bits of the fixed encoding of a p-vector.
  Bits fixed_bits(Index p) const {
    return Bits{
        .values = static_cast<std::uint64_t>(p) * static_cast<std::uint64_t>(1 + level_bits_),
        .metadata = header_bits + 32};
  }

  Message encode(const Vector& x, RandomStream& rng) const {
    const double norm = wire_norm(x);
    const Index p = x.size();
    const int width = 1 + level_bits_;
    Message message;
    BitWriter writer(message);
    if (params_.encoding == Encoding::fixed) {
      // Each block of fields goes to the writer as soon as it is drawn.
      writer.reserve(fixed_bits(p).total());
      write_header(writer, header_fixed, norm);
      quantize(x, norm, rng, [&](Index, const std::uint32_t* fields, Index m) {
        writer.write_fields(fields, static_cast<std::size_t>(m), width, Field::values);
      });
      writer.finish();
      return message;
    }
    // The form is chosen once every field is known, so they are kept, and the list of the
    // nonzero ones for the Elias form.
    std::uint32_t* const all = field_scratch(p);
    thread_local std::vector<Index> nonzero;
    nonzero.resize(std::max(nonzero.size(), static_cast<std::size_t>(p)));
    Sizes sizes{.nonzero = nonzero.data()};
    quantize(
        x, norm, rng,
        [&](Index start, const std::uint32_t* fields, Index m) { sizes.add(fields, start, m); },
        all);
    const bool elias = use_elias(sizes, p);
    writer.reserve(elias ? sizes.bits().total() : fixed_bits(p).total());
    write_header(writer, elias ? header_elias : header_fixed, norm);
    if (elias) {
      elias::write_gamma(writer, static_cast<std::uint64_t>(sizes.nonzeros) + 1, Field::metadata);
      Index previous = -1;
      for (std::uint64_t n = 0; n < sizes.nonzeros; ++n) {
        const Index i = sizes.nonzero[n];
        elias::write_gamma(writer, static_cast<std::uint64_t>(i - previous), Field::indices);
        previous = i;
        write_sign_and_gamma(writer, all[i]);
      }
    } else {
      writer.write_fields(all, static_cast<std::size_t>(p), width, Field::values);
    }
    writer.finish();
    return message;
  }

  // `out` must already have the message's dimension.
  void decode(const Message& message, Vector& out) const {
    const std::span<const std::uint8_t> bytes(message.bytes);
    BitReader reader(bytes);
    const std::uint64_t header = reader.read(header_bits);
    if (header != header_fixed && header != header_elias) {
      throw DecodeError(fmt::format("qsgd: unknown encoding {} in the header", header));
    }
    const bool elias = header == header_elias;
    if ((elias && params_.encoding == Encoding::fixed) ||
        (!elias && params_.encoding == Encoding::elias)) {
      throw DecodeError(fmt::format("qsgd: a {} message for a compressor set to {}",
                                    elias ? "elias" : "fixed", encoding_name(params_.encoding)));
    }
    const float norm = reader.read_f32();
    if (!std::isfinite(norm) || std::signbit(norm)) {
      throw DecodeError(fmt::format("qsgd: the norm {} is not finite and non-negative", norm));
    }
    const auto s = static_cast<std::uint64_t>(params_.levels);
    const auto p = static_cast<std::uint64_t>(out.size());
    const Magnitudes magnitudes(norm, params_.levels, 1 + level_bits_, out.size());
    const auto check_level = [&](std::uint64_t level, std::uint64_t i) {
      if (level > s) {
        throw DecodeError(
            fmt::format("qsgd: level {} at coordinate {} exceeds s = {}", level, i, s));
      }
      if (level != 0 && norm == 0) {
        throw DecodeError(fmt::format("qsgd: nonzero level at coordinate {} with norm 0", i));
      }
    };
    // A fixed-width field (level << 1) | sign.
    const auto check_field = [&](std::uint32_t field, std::uint64_t i) {
      check_level(field >> 1, i);
      if (field == 1) {
        throw DecodeError(fmt::format("qsgd: sign bit set on a zero level at coordinate {}", i));
      }
    };
    if (elias) {
      const std::uint64_t count = elias::read_gamma(reader, bytes) - 1;
      if (count > p) {
        throw DecodeError(fmt::format("qsgd: {} nonzeros in a vector of {}", count, p));
      }
      out.setZero();
      std::uint64_t next = 0;  // the first index the next gap may reach
      for (std::uint64_t k = 0; k < count; ++k) {
        const std::uint64_t gap = elias::read_gamma(reader, bytes);
        if (gap > p - next) {  // next ≤ p: the gap would reach index p or beyond
          throw DecodeError(fmt::format("qsgd: a gap of {} runs past the dimension {}", gap, p));
        }
        const std::uint64_t i = next + gap - 1;
        next = i + 1;
        const bool negative = reader.read(1) != 0;
        const std::uint64_t level = elias::read_gamma(reader, bytes);
        check_level(level, i);
        out[static_cast<Index>(i)] =
            with_sign(magnitudes(static_cast<std::uint32_t>(level)), negative);
      }
    } else if (magnitudes.tabulated()) {
      // Each field straight to its value in the table, noting whether it is one encode() never
      // writes; a block with such a field is read again and checked field by field.
      const int width = 1 + level_bits_;
      double* data = out.data();
      for (Index start = 0; start < out.size(); start += block) {
        const Index m = std::min<Index>(block, out.size() - start);
        double* to = data + start;
        Index j = 0;
        std::uint8_t invalid = 0;
        // (always_inline: the reader's loop is compiled for every width, and GCC stops
        // inlining the lambda into all of them, at three times the cost.)
        reader.for_each_field(
            static_cast<std::size_t>(m),
            width, [&](std::uint32_t field) __attribute__((always_inline)) {
              to[j++] = magnitudes.value(field);
              invalid |= magnitudes.invalid(field);
            });
        if (invalid != 0) {
          BitReader again(bytes);
          again.skip(static_cast<std::uint64_t>(header_bits + 32) +
                     static_cast<std::uint64_t>(start) * static_cast<std::uint64_t>(width));
          std::uint32_t fields[block];
          again.read_fields(fields, static_cast<std::size_t>(m), width);
          for (Index k = 0; k < m; ++k) {
            check_field(fields[k], static_cast<std::uint64_t>(start + k));
          }
        }
      }
    } else {
      // A block of fields at a time: checked together, then looked up.
      const int width = 1 + level_bits_;
      std::uint32_t fields[block];
      double* data = out.data();
      for (Index start = 0; start < out.size(); start += block) {
        const Index m = std::min<Index>(block, out.size() - start);
        reader.read_fields(fields, static_cast<std::size_t>(m), width);
        // Levels above s, or any nonzero level with norm 0, and a sign on a zero level; in
        // 32-bit signed arithmetic (levels are below 2^21), which vectorises.
        const std::int32_t limit = norm == 0 ? 0 : params_.levels;
        std::int32_t bad = 0;
        for (Index j = 0; j < m; ++j) {
          const auto field = static_cast<std::int32_t>(fields[j]);
          bad |= ((field >> 1) > limit ? 1 : 0) | (field == 1 ? 1 : 0);
        }
        if (bad != 0) {
          for (Index j = 0; j < m; ++j) {
            check_field(fields[j], static_cast<std::uint64_t>(start + j));
          }
        }
        magnitudes.values(fields, m, data + start);
      }
    }
    reader.expect_end();
  }

  // decode(encode(x)) without the bytes.
  Bits compress(const Vector& x, Vector& out, RandomStream& rng) const {
    const double norm = wire_norm(x);
    const Index p = x.size();
    if (out.size() != p) {
      Vector fresh(p);  // not out.resize(p), on which GCC 12 may warn -Wuse-after-free
      out.swap(fresh);
    }
    const Magnitudes magnitudes(norm, params_.levels, 1 + level_bits_, p);
    const bool size_elias = params_.encoding != Encoding::fixed;
    Sizes sizes;
    double* data = out.data();
    quantize(x, norm, rng, [&](Index start, const std::uint32_t* fields, Index m) {
      magnitudes.values(fields, m, data + start);
      if (size_elias) sizes.add(fields, start, m);
    });
    return use_elias(sizes, p) ? sizes.bits() : fixed_bits(p);
  }

 private:
  // The bits of the Elias form, summed a block of fields at a time; and, if `nonzero` is set,
  // the list of the coordinates with a nonzero level.
  struct Sizes {
    std::uint64_t nonzeros = 0;
    std::uint64_t values = 0;
    std::uint64_t indices = 0;
    Index previous = -1;       // the last nonzero coordinate so far
    Index* nonzero = nullptr;  // room for p coordinates, or none

    Bits bits() const {
      return Bits{.values = values,
                  .indices = indices,
                  .metadata = header_bits + 32 + elias::gamma_bits(nonzeros + 1)};
    }

    // Adds the fields of coordinates start, ..., start + m − 1: a nonzero level costs its
    // gap's code, a sign bit and γ(level), 1 + (2N + 1) = 2·bit_width(level) bits. The
    // nonzero fields of each 64 are found as the bits of a mask, so that sparse fields cost
    // little and dense ones cost no mispredicted branches.
    void add(const std::uint32_t* fields, Index start, Index m) {
      for (Index base = 0; base < m; base += 64) {
        const Index n = std::min<Index>(64, m - base);
        for (std::uint64_t mask = nonzero_mask(fields + base, n); mask != 0; mask &= mask - 1) {
          const Index k = std::countr_zero(mask);
          const Index i = start + base + k;
          if (nonzero != nullptr) nonzero[nonzeros] = i;
          nonzeros += 1;
          indices += elias::gamma_bits(static_cast<std::uint64_t>(i - previous));
          values += 2 * static_cast<std::uint64_t>(std::bit_width(fields[base + k] >> 1));
          previous = i;
        }
      }
    }

    // Bit k set when fields[k] has a nonzero level (the field is (level << 1) | sign, the sign
    // only set with a nonzero level), k < n ≤ 64: one byte per field in a loop that
    // vectorises, then 8 bytes of 0 or 1 to 8 bits by one multiplication, which adds each
    // byte's bit into the top byte without carries.
    static std::uint64_t nonzero_mask(const std::uint32_t* fields, Index n) {
      unsigned char flags[64] = {};
      for (Index k = 0; k < n; ++k) flags[k] = fields[k] > 1 ? 1 : 0;
      std::uint64_t mask = 0;
      for (int group = 0; group < 8; ++group) {
        std::uint64_t eight;
        std::memcpy(&eight, flags + 8 * group, sizeof eight);
        if constexpr (std::endian::native == std::endian::big) eight = __builtin_bswap64(eight);
        mask |= ((eight * 0x0102040810204080u) >> 56) << (8 * group);
      }
      return mask;
    }
  };

  static constexpr Index block = 512;  // coordinates quantized together (even: see quantize)

  // Scratch for the fields (level << 1) | sign of one vector, as in the fixed form.
  static std::uint32_t* field_scratch(Index p) {
    thread_local std::vector<std::uint32_t> fields;
    fields.resize(static_cast<std::size_t>(p));
    return fields.data();
  }

  void write_header(BitWriter& writer, std::uint64_t header, double norm) const {
    writer.write(header, header_bits, Field::metadata);
    writer.write_f32(static_cast<float>(norm), Field::metadata);
  }

  static const char* encoding_name(Encoding encoding) {
    switch (encoding) {
      case Encoding::fixed:
        return "fixed";
      case Encoding::elias:
        return "elias";
      case Encoding::cheaper:
        return "cheaper";
    }
    return "?";
  }

  // ‖x‖₂ rounded up to a float (returned widened); refuses non-finite x and norms beyond float.
  static double wire_norm(const Vector& x) {
    const double squared = x.squaredNorm();
    double norm = std::sqrt(squared);
    if (!std::isfinite(squared) || squared < DBL_MIN) {
      // Overflow or underflow of the squares (or a non-finite entry): take the scaled norm.
      require_finite_input(x.allFinite(), "qsgd");
      norm = x.size() == 0 ? 0.0 : x.stableNorm();
    }
    float rounded = static_cast<float>(norm);
    if (static_cast<double>(rounded) < norm) {
      rounded = std::nextafter(rounded, std::numeric_limits<float>::infinity());
    }
    if (!std::isfinite(rounded)) {
      throw std::domain_error(fmt::format(
          "qsgd: the norm {} of the vector to compress exceeds the largest 32-bit float", norm));
    }
    return static_cast<double>(rounded);
  }

  // |decoded coordinate| of level l: norm · l / s, with norm · l exact (+0 for l = 0); and the
  // decoded coordinate of a field (level << 1) | sign. Tabulated by field, 2^width entries,
  // when that is small beside p; a table entry is the same computation.
  class Magnitudes {
   public:
    Magnitudes(double norm, int levels, int width, Index p) : norm_(norm), levels_(levels) {
      const Index fields = Index{1} << width;
      if (fields <= max_table && 2 * fields <= p) {
        thread_local std::vector<double> scratch;
        thread_local std::vector<std::uint8_t> invalid_scratch;
        scratch.resize(static_cast<std::size_t>(fields));
        invalid_scratch.resize(static_cast<std::size_t>(fields));
        for (Index f = 0; f < fields; ++f) {
          // A field encode() never writes: a level above s, a nonzero level with norm 0, a
          // sign on level 0. decode() refuses it; compress() never meets it.
          const auto level = static_cast<std::uint32_t>(f >> 1);
          const bool valid =
              level <= static_cast<std::uint32_t>(levels) && (level == 0 ? f == 0 : norm > 0);
          scratch[static_cast<std::size_t>(f)] =
              valid ? with_sign(compute(level), static_cast<std::uint32_t>(f & 1)) : 0.0;
          invalid_scratch[static_cast<std::size_t>(f)] = valid ? 0 : 1;
        }
        table_ = scratch.data();
        invalid_ = invalid_scratch.data();
      }
    }
    // Of a level at most s (and 0 when the norm is).
    double operator()(std::uint32_t level) const {
      return table_ != nullptr ? table_[level << 1] : compute(level);
    }

    bool tabulated() const { return table_ != nullptr; }
    // The decoded coordinate of a field, and 1 for a field encode() never writes, from the
    // tables.
    double value(std::uint32_t field) const { return table_[field]; }
    std::uint8_t invalid(std::uint32_t field) const { return invalid_[field]; }

    // out[j] = the decoded coordinate of fields[j] = (level << 1) | sign, for j < m; every
    // level at most s.
    void values(const std::uint32_t* fields, Index m, double* out) const {
      if (table_ != nullptr) {
        look_up(table_, fields, m, out);
      } else {
        for (Index j = 0; j < m; ++j) out[j] = with_sign(compute(fields[j] >> 1), fields[j] & 1u);
      }
    }

   private:
    static constexpr Index max_table = Index{1} << 13;  // 64 KB
    double compute(std::uint32_t level) const {
      return norm_ * static_cast<double>(level) / levels_;
    }
    double norm_;
    int levels_;
    const double* table_ = nullptr;
    const std::uint8_t* invalid_ = nullptr;
  };

  // −magnitude if `negative`, by setting the sign bit (no branch on the data's signs).
  static double with_sign(double magnitude, std::uint32_t negative) {
    return std::bit_cast<double>(std::bit_cast<std::uint64_t>(magnitude) |
                                 (static_cast<std::uint64_t>(negative) << 63));
  }

  // Draws the levels and hands the fields (level << 1) | sign to `emit(start, fields, m)` a
  // block of coordinates start, ..., start + m − 1 at a time, in coordinate order; the sign
  // is 1 when x_i < 0 and the level is not 0. The 32-bit uniforms of a block are drawn
  // first (blocks have an even size, so a word's two halves stay in one block), then the
  // block is quantized in a loop without branches, which vectorises. With `keep`, the fields
  // are written to keep[0, p) (and handed over from there) rather than to the stack.
  template <class Emit>
  void quantize(const Vector& x, double norm, RandomStream& rng, Emit&& emit,
                std::uint32_t* keep = nullptr) const {
    const Index p = x.size();
    const double s = params_.levels;
    const double scale = norm > 0 ? s / norm : 0.0;
    std::uint64_t words[block / 2];
    std::uint32_t u[block];
    std::uint32_t fields[block];
    for (Index start = 0; start < p; start += block) {
      const Index m = std::min(block, p - start);
      const Index count = (m + 1) / 2;
      rng.fill(words, static_cast<std::size_t>(count));
      // The low half of each word, then the high half (unused past an odd p).
      if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(u, words, sizeof(std::uint64_t) * static_cast<std::size_t>(count));
      } else {
        for (Index j = 0; j < count; ++j) {
          u[2 * j] = static_cast<std::uint32_t>(words[j]);
          u[2 * j + 1] = static_cast<std::uint32_t>(words[j] >> 32);
        }
      }
      std::uint32_t* const to = keep != nullptr ? keep + start : fields;
      quantize_block(x.data() + start, u, m, scale, s, to);
      emit(start, static_cast<const std::uint32_t*>(to), m);
    }
  }

  // fields[j] for the m coordinates x[j] and their uniforms u[j]. A loop without branches
  // that vectorises; out of line because, inlined into quantize(), GCC 12 turns its selects
  // into branches and does not.
  [[gnu::noinline]] static void quantize_block(const double* x, const std::uint32_t* u, Index m,
                                               double scale, double s, std::uint32_t* fields) {
    for (Index j = 0; j < m; ++j) {
      // r ≤ s (1 + rounding) since |x_i| ≤ norm; min(r, s) gives the level min(l + up, s),
      // as clamping the level would, and keeps the truncation (the floor) in range.
      double r = std::abs(x[j]) * scale;
      r = r < s ? r : s;
      const auto level = static_cast<std::int32_t>(r);
      // Up when ⌊u/2⌋ < ⌊2^31 (r − l)⌋: 32-bit integers only, so the loop vectorises (and
      // with fewer conversions than a comparison of doubles).
      const auto threshold = static_cast<std::int32_t>((r - static_cast<double>(level)) * 0x1p31);
      const std::int32_t up = static_cast<std::int32_t>(u[j] >> 1) < threshold ? 1 : 0;
      const auto rounded = static_cast<std::uint32_t>(level + up);
      const auto negative = static_cast<std::uint32_t>(std::bit_cast<std::uint64_t>(x[j]) >> 63) &
                            (rounded != 0 ? 1u : 0u);
      fields[j] = (rounded << 1) | negative;
    }
  }

  bool use_elias(const Sizes& sizes, Index p) const {
    switch (params_.encoding) {
      case Encoding::fixed:
        return false;
      case Encoding::elias:
        return true;
      case Encoding::cheaper:
        return sizes.bits().total() < fixed_bits(p).total();
    }
    return false;
  }

  // The sign bit and γ(level) of a nonzero field in one write: 1 + 41 bits at most (s ≤ 2^20).
  static void write_sign_and_gamma(BitWriter& writer, std::uint32_t field) {
    const std::uint64_t level = field >> 1;
    const int n = std::bit_width(level) - 1;
    const std::uint64_t low = level ^ (std::uint64_t{1} << n);
    const std::uint64_t gamma = (std::uint64_t{1} << n) | (low << (n + 1));
    writer.write((gamma << 1) | (field & 1u), 2 * n + 2, Field::values);
  }

  Params params_;
  int level_bits_;
};

}  // namespace laconic::compress
