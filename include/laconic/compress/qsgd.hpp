#pragma once

// QSGD's stochastic quantizer with s levels (Alistarh et al., NeurIPS 2017; FedPAQ's
// low-precision quantizer, Reisizadeh et al., AISTATS 2020, eqs. 5–6):
//
//   Q_i(x) = n · sign(x_i) · ξ_i / s,   r_i = s|x_i| / n,   l_i = ⌊r_i⌋,
//   ξ_i = l_i + 1 with probability r_i − l_i, else l_i,
//
// with n the norm on the wire (below), |x_i| ≤ n: so E Q(x) = x and
// E‖Q(x) − x‖² ≤ min(p/s², √p/s) n². x = 0 gives 0.
//
// The norm n is what is sent and what both ends multiply by, so decode(encode(x)) ==
// compress(x) exactly. On a link of 64-bit floats (Wire::float_bits = 64) it is ‖x‖₂ computed
// in double. On a 32-bit link it is ‖x‖₂ rounded *up* to a float when that float is normal
// (n/‖x‖ ∈ [1, 1 + 2^-23]); below FLT_MIN and above FLT_MAX a float cannot carry ‖x‖ to that
// precision (rounded up to a subnormal, a norm of 3e-60 would leave every r_i below the 2^-31
// resolution of the draws: Q(x) ≡ 0), so the double norm is sent in a wide form, the norm's
// free sign bit saying which. Every finite x whose norm is a finite double can be sent. A
// level is clamped to s, against |x_i| exceeding n by rounding. A decoded coordinate is
// n·(±l)/s: correctly rounded for a float n (the product of a float and an integer l ≤ s ≤
// 2^20 is exact in a double), within an ulp or two for a double n; for n ≥ 2^1000, where
// n·l could overflow, computed as 2^e·((n·2^-e)·l/s), capped at n. Far from 1
// (n ∉ [2^-1000, 2^1000]), s/n overflows or loses its precision, so x and n are scaled by the
// same power of two before the levels are drawn (exact, on a copy of each block).
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
//   header    2 bits, metadata: 0 = fixed, 1 = Elias γ, 2 = Elias ω (3 is rejected).
//   norm      metadata. 64-bit links: the double n, 64 bits. 32-bit links: 32 bits, the float
//             n, when their top bit (the float's sign) is 0; n is then 0 or a normal float.
//             When that bit is 1 (the wide form, only for n outside [FLT_MIN, FLT_MAX]),
//             32 more bits follow, and n is the double whose 63 low bits are the first 31
//             bits then those 32 (its sign bit 0): 64 bits in all.
//   fixed:    per coordinate, sign (1 bit, 0 for level 0) then the level in w = ⌈log₂(s+1)⌉
//             bits, values: p(1 + w) bits.
//   Elias:    QSGD's sparse form (the paper's §3.1), with c = ω (header 2, the paper's code) or
//             c = γ (header 1). First c(k + 1), k the number of nonzero levels, metadata; then
//             for each nonzero coordinate i in increasing order, c(gap) as indices, gap = i
//             minus the previous nonzero's index (the first counts from −1, which makes it the
//             paper's 1-based position), then its sign bit (1 = negative) and c(level) as
//             values. The count is ours: the paper's decoder stops where its string ends, which
//             a message of whole bytes, zero-padded, does not show (ω(1) is a single 0).
//   cheaper:  the sizes of the ω and fixed forms are computed and the smaller message is sent
//             (fixed on a tie).
// ω(m), m ≥ 1, is Elias's omega code, the paper's "recursive Elias coding": ω(1) = 0, and for
// m ≥ 2, ω(m) = P(m) 0 with P(1) empty and P(m) = P(⌊log₂ m⌋) then m in binary, most
// significant bit first; so |ω(m)| = 1 + Σ_j (⌊log₂ m_j⌋ + 1) over m_0 = m,
// m_{j+1} = ⌊log₂ m_j⌋ while m_j ≥ 2 (the paper's log m + log log m + … + 1). Its bits go on
// the wire in that order.
// γ(m), m ≥ 1, is the Elias gamma code: with N = ⌊log₂ m⌋, N zeros, a one, then the N bits of
// m below its leading one, here least significant first; 2N + 1 bits.

#include <laconic/compress/compressor.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <algorithm>
#include <array>
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

// The low `width` bits of m in the opposite order (1 ≤ width ≤ 64): a binary number sent most
// significant bit first, as the value a least-significant-first BitWriter writes.
constexpr std::uint64_t reversed(std::uint64_t m, int width) {
  m = ((m >> 1) & 0x5555555555555555u) | ((m & 0x5555555555555555u) << 1);
  m = ((m >> 2) & 0x3333333333333333u) | ((m & 0x3333333333333333u) << 2);
  m = ((m >> 4) & 0x0F0F0F0F0F0F0F0Fu) | ((m & 0x0F0F0F0F0F0F0F0Fu) << 4);
  return __builtin_bswap64(m) >> (64 - width);
}

// For m ≥ 2, ω(m) = P(⌊log₂ m⌋), m's binary digits, 0; the first part depends on m only
// through b = bit_width(m). By b: that part as the value the BitWriter writes, its length,
// and |ω(m)| (1 for b = 1, m = 1).
struct OmegaPart {
  std::uint64_t bits = 0;
  int length = 0;
  int total = 1;
};
inline constexpr std::array<OmegaPart, 65> omega_parts = [] {
  std::array<OmegaPart, 65> parts{};
  for (int b = 2; b <= 64; ++b) {
    // P(k), k = b − 1 = ⌊log₂ m⌋: empty for k = 1, else P(⌊log₂ k⌋) (parts[bit_width(k)],
    // filled already since bit_width(k) < b) then k's digits.
    const auto k = static_cast<std::uint64_t>(b - 1);
    const int kb = std::bit_width(k);
    OmegaPart part;
    if (k >= 2) {
      part.bits = parts[kb].bits | (reversed(k, kb) << parts[kb].length);
      part.length = parts[kb].length + kb;
    }
    part.total = part.length + b + 1;
    parts[b] = part;
  }
  return parts;
}();

// Length in bits of ω(m), m ≥ 1.
constexpr std::uint64_t omega_bits(std::uint64_t m) {
  return static_cast<std::uint64_t>(omega_parts[std::bit_width(m)].total);
}

// ω(m), m ≥ 1, as the value a BitWriter writes in omega_bits(m) bits, when that is at most 64
// (m < 2^52).
constexpr std::uint64_t omega_code(std::uint64_t m) {
  const int b = std::bit_width(m);
  if (b <= 1) return 0;
  return omega_parts[b].bits | (reversed(m, b) << omega_parts[b].length);
}

inline void write_omega(BitWriter& writer, std::uint64_t m, Field field) {
  const int b = std::bit_width(m);
  const OmegaPart& part = omega_parts[b];
  if (part.total <= 64) {
    writer.write(omega_code(m), part.total, field);
  } else {
    writer.write(part.bits, part.length, field);
    writer.write(reversed(m, b), b, field);
    writer.write(0, 1, field);
  }
}

// Reads ω(m) at the reader's position. Every bit string that decodes is the ω code of what it
// decodes to; a code of a value of 2^64 or more (a group of more than 64 bits) is refused.
inline std::uint64_t read_omega(BitReader& reader) {
  std::uint64_t m = 1;
  while (reader.read(1) != 0) {
    // A group of m + 1 bits: the one just read, then m more.
    if (m > 63) {
      throw DecodeError(
          fmt::format("qsgd: the Elias omega code at bit {} is of a value of 2^64 or more",
                      reader.position() - 1));
    }
    const int n = static_cast<int>(m);
    m = (std::uint64_t{1} << n) | reversed(reader.read(n), n);
  }
  return m;
}

}  // namespace elias

class Qsgd {
 public:
  // What encode() sends: the fixed-width form; the paper's sparse form with Elias ω codes
  // (elias); the smaller of those two (cheaper); or the sparse form with Elias γ codes
  // (elias_gamma: shorter than ω for values 4–7 and 16–63, longer from 128 on).
  enum class Encoding { fixed, elias, cheaper, elias_gamma };

  struct Params {
    int levels = 1;                         // s, 1 ≤ s ≤ 2^20
    Encoding encoding = Encoding::cheaper;  // what encode() sends
    template <class V>
    void fields(V&& v) {
      v("levels", levels);
      v("encoding", encoding, {"fixed", "elias", "cheaper", "elias_gamma"});
    }
  };

  static constexpr int max_levels = 1 << 20;
  static constexpr int header_bits = 2;
  static constexpr std::uint64_t header_fixed = 0;
  static constexpr std::uint64_t header_elias_gamma = 1;
  static constexpr std::uint64_t header_elias = 2;  // ω

  Qsgd() : Qsgd(Params{}) {}
  explicit Qsgd(const Params& params, const Wire& wire = {})
      : params_(params),
        level_bits_(std::bit_width(static_cast<unsigned>(params.levels))),
        float_bits_(wire.float_bits) {
    require_param(params.levels >= 1 && params.levels <= max_levels, "qsgd.levels", params.levels,
                  "in 1..1048576 (2^20)");
    const int encoding = static_cast<int>(params.encoding);
    require_param(encoding >= 0 && encoding <= 3, "qsgd.encoding", encoding,
                  "fixed, elias, cheaper or elias_gamma");
    wire.validate();
  }

  const Params& params() const { return params_; }
  // The width of the norm on the wire (Wire::float_bits): 32 (64 in the wide form) or 64.
  int float_bits() const { return float_bits_; }
  bool unbiased() const { return true; }
  std::string describe() const {
    return fmt::format("qsgd(s={}, {}, fp{})", params_.levels, encoding_name(params_.encoding),
                       float_bits_);
  }

  // ⌈log₂(s + 1)⌉, the width of a level in the fixed encoding.
  int level_bits() const { return level_bits_; }

  // The fixed-width count 32 + p(1 + ⌈log₂(s+1)⌉) without our 2-bit header, whatever the
  // norm's width: LASG's 32 + b·p for "b-bit" QSGD, FedPAQ's |Q(p, s)| (docs/compressors.md).
  std::uint64_t paper_bits(Index p) const {
    return 32 + static_cast<std::uint64_t>(p) * static_cast<std::uint64_t>(1 + level_bits_);
  }

  // The bits of the fixed encoding of a p-vector whose norm takes `norm_bits` on the wire.
  Bits fixed_bits(Index p, int norm_bits) const {
    return Bits{
        .values = static_cast<std::uint64_t>(p) * static_cast<std::uint64_t>(1 + level_bits_),
        .metadata = static_cast<std::uint64_t>(header_bits + norm_bits)};
  }

  Message encode(const Vector& x, RandomStream& rng) const {
    const Norm norm = wire_norm(x);
    Message message;
    BitWriter writer(message);
    switch (params_.encoding) {
      case Encoding::fixed: {
        // Each block of fields goes to the writer as soon as it is drawn.
        const int width = 1 + level_bits_;
        writer.reserve(fixed_bits(x.size(), norm.bits).total());
        write_header(writer, header_fixed, norm);
        quantize(x, norm.value, rng, [&](Index, const std::uint32_t* fields, Index m) {
          writer.write_fields(fields, static_cast<std::size_t>(m), width, Field::values);
        });
        break;
      }
      case Encoding::elias_gamma:
        encode_sparse<Code::gamma>(x, norm, rng, writer);
        break;
      default:
        encode_sparse<Code::omega>(x, norm, rng, writer);
        break;
    }
    writer.finish();
    return message;
  }

  // `out` must already have the message's dimension.
  void decode(const Message& message, Vector& out) const {
    const std::span<const std::uint8_t> bytes(message.bytes);
    BitReader reader(bytes);
    const std::uint64_t header = reader.read(header_bits);
    if (header > header_elias) {
      throw DecodeError(fmt::format("qsgd: unknown encoding {} in the header", header));
    }
    if (!accepts(header)) {
      throw DecodeError(fmt::format("qsgd: a message of the {} form for a compressor set to {}",
                                    form_name(header), encoding_name(params_.encoding)));
    }
    const double norm = read_norm(reader);
    if (header == header_elias) {
      decode_sparse<Code::omega>(reader, bytes, norm, out);
    } else if (header == header_elias_gamma) {
      decode_sparse<Code::gamma>(reader, bytes, norm, out);
    } else {
      decode_fixed(reader, bytes, norm, out);
    }
    reader.expect_end();
  }

  // decode(encode(x)) without the bytes.
  Bits compress(const Vector& x, Vector& out, RandomStream& rng) const {
    const Norm norm = wire_norm(x);
    const Index p = x.size();
    if (out.size() != p) {
      Vector fresh(p);  // not out.resize(p), on which GCC 12 may warn -Wuse-after-free
      out.swap(fresh);
    }
    const Magnitudes magnitudes(norm.value, params_.levels, 1 + level_bits_, p);
    double* data = out.data();
    switch (params_.encoding) {
      case Encoding::fixed:
        quantize(x, norm.value, rng, [&](Index start, const std::uint32_t* fields, Index m) {
          magnitudes.values(fields, m, data + start);
        });
        return fixed_bits(p, norm.bits);
      case Encoding::elias_gamma:
        return compress_sparse<Code::gamma>(x, norm, rng, magnitudes, data);
      default:
        return compress_sparse<Code::omega>(x, norm, rng, magnitudes, data);
    }
  }

 private:
  enum class Code { gamma, omega };

  template <Code code>
  static std::uint64_t code_bits(std::uint64_t m) {
    if constexpr (code == Code::gamma) {
      return elias::gamma_bits(m);
    } else {
      return elias::omega_bits(m);
    }
  }

  // n and the bits it takes on the wire: 64 on a 64-bit link, 32 on a 32-bit link, or 64 in
  // the wide form there.
  struct Norm {
    double value = 0;
    int bits = 32;
  };

  // |decoded coordinate| of level l: norm · l / s (+0 for l = 0); and the decoded coordinate
  // of a field (level << 1) | sign. Tabulated by field, 2^width entries, when that is small
  // beside p; a table entry is the same computation.
  class Magnitudes {
   public:
    Magnitudes(double norm, int levels, int width, Index p)
        : norm_(norm), levels_(levels), huge_(norm >= 0x1p1000) {
      if (huge_) {
        exponent_ = std::ilogb(norm);
        scaled_ = std::ldexp(norm, -exponent_);
      }
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
      if (huge_) [[unlikely]] {
        // norm · l would overflow: 2^e · ((norm · 2^-e) · l / s), at most norm.
        return std::min(std::ldexp(scaled_ * static_cast<double>(level) / levels_, exponent_),
                        norm_);
      }
      return norm_ * static_cast<double>(level) / levels_;
    }
    double norm_;
    int levels_;
    bool huge_;
    int exponent_ = 0;
    double scaled_ = 0;
    const double* table_ = nullptr;
    const std::uint8_t* invalid_ = nullptr;
  };

  // −magnitude if `negative`, by setting the sign bit (no branch on the data's signs).
  static double with_sign(double magnitude, std::uint32_t negative) {
    return std::bit_cast<double>(std::bit_cast<std::uint64_t>(magnitude) |
                                 (static_cast<std::uint64_t>(negative) << 63));
  }

  // The bits of a sparse form, summed a block of fields at a time; and, if `nonzero` is set,
  // the list of the coordinates with a nonzero level.
  template <Code code>
  struct Sizes {
    std::uint64_t nonzeros = 0;
    std::uint64_t values = 0;
    std::uint64_t indices = 0;
    Index previous = -1;       // the last nonzero coordinate so far
    Index* nonzero = nullptr;  // room for p coordinates, or none

    Bits bits(int norm_bits) const {
      return Bits{.values = values,
                  .indices = indices,
                  .metadata = static_cast<std::uint64_t>(header_bits + norm_bits) +
                              code_bits<code>(nonzeros + 1)};
    }

    // Adds the fields of coordinates start, ..., start + m − 1: a nonzero level costs its
    // gap's code, a sign bit and its own code. The nonzero fields of each 64 are found as the
    // bits of a mask, so that sparse fields cost little and dense ones cost no mispredicted
    // branches.
    void add(const std::uint32_t* fields, Index start, Index m) {
      for (Index base = 0; base < m; base += 64) {
        const Index n = std::min<Index>(64, m - base);
        for (std::uint64_t mask = nonzero_mask(fields + base, n); mask != 0; mask &= mask - 1) {
          const Index k = std::countr_zero(mask);
          const Index i = start + base + k;
          if (nonzero != nullptr) nonzero[nonzeros] = i;
          nonzeros += 1;
          indices += code_bits<code>(static_cast<std::uint64_t>(i - previous));
          values += 1 + code_bits<code>(fields[base + k] >> 1);
          previous = i;
        }
      }
    }
  };

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

  static constexpr Index block = 512;  // coordinates quantized together (even: see quantize)

  // Scratch for the fields (level << 1) | sign of one vector, as in the fixed form.
  static std::uint32_t* field_scratch(Index p) {
    thread_local std::vector<std::uint32_t> fields;
    fields.resize(static_cast<std::size_t>(p));
    return fields.data();
  }

  template <Code code>
  void encode_sparse(const Vector& x, const Norm& norm, RandomStream& rng,
                     BitWriter& writer) const {
    // The form is chosen once every field is known, so they are kept, and the list of the
    // nonzero ones for the sparse form.
    const Index p = x.size();
    std::uint32_t* const all = field_scratch(p);
    thread_local std::vector<Index> nonzero;
    nonzero.resize(std::max(nonzero.size(), static_cast<std::size_t>(p)));
    Sizes<code> sizes{.nonzero = nonzero.data()};
    quantize(
        x, norm.value, rng,
        [&](Index start, const std::uint32_t* fields, Index m) { sizes.add(fields, start, m); },
        all);
    const Bits sparse = sizes.bits(norm.bits);
    if (!use_sparse(sparse, p, norm.bits)) {
      writer.reserve(fixed_bits(p, norm.bits).total());
      write_header(writer, header_fixed, norm);
      writer.write_fields(all, static_cast<std::size_t>(p), 1 + level_bits_, Field::values);
      return;
    }
    writer.reserve(sparse.total());
    write_header(writer, code == Code::omega ? header_elias : header_elias_gamma, norm);
    write_code<code>(writer, sizes.nonzeros + 1, Field::metadata);
    Index previous = -1;
    for (std::uint64_t n = 0; n < sizes.nonzeros; ++n) {
      const Index i = sizes.nonzero[n];
      write_code<code>(writer, static_cast<std::uint64_t>(i - previous), Field::indices);
      previous = i;
      write_sign_and_level<code>(writer, all[i]);
    }
  }

  template <Code code>
  Bits compress_sparse(const Vector& x, const Norm& norm, RandomStream& rng,
                       const Magnitudes& magnitudes, double* data) const {
    Sizes<code> sizes;
    quantize(x, norm.value, rng, [&](Index start, const std::uint32_t* fields, Index m) {
      magnitudes.values(fields, m, data + start);
      sizes.add(fields, start, m);
    });
    const Bits sparse = sizes.bits(norm.bits);
    return use_sparse(sparse, x.size(), norm.bits) ? sparse : fixed_bits(x.size(), norm.bits);
  }

  template <Code code>
  static void write_code(BitWriter& writer, std::uint64_t m, Field field) {
    if constexpr (code == Code::gamma) {
      elias::write_gamma(writer, m, field);
    } else {
      elias::write_omega(writer, m, field);
    }
  }

  template <Code code>
  static std::uint64_t read_code(BitReader& reader, std::span<const std::uint8_t> bytes) {
    if constexpr (code == Code::gamma) {
      return elias::read_gamma(reader, bytes);
    } else {
      return elias::read_omega(reader);
    }
  }

  // The sign bit and the level's code of a nonzero field in one write: at most 1 + 41 bits
  // (γ) or 1 + 32 bits (ω), since s ≤ 2^20.
  template <Code code>
  static void write_sign_and_level(BitWriter& writer, std::uint32_t field) {
    const std::uint64_t level = field >> 1;
    if constexpr (code == Code::gamma) {
      const int n = std::bit_width(level) - 1;
      const std::uint64_t low = level ^ (std::uint64_t{1} << n);
      const std::uint64_t gamma = (std::uint64_t{1} << n) | (low << (n + 1));
      writer.write((gamma << 1) | (field & 1u), 2 * n + 2, Field::values);
    } else {
      writer.write((elias::omega_code(level) << 1) | (field & 1u),
                   1 + static_cast<int>(elias::omega_bits(level)), Field::values);
    }
  }

  template <Code code>
  void decode_sparse(BitReader& reader, std::span<const std::uint8_t> bytes, double norm,
                     Vector& out) const {
    const auto p = static_cast<std::uint64_t>(out.size());
    const std::uint64_t count = read_code<code>(reader, bytes) - 1;
    if (count > p) {
      throw DecodeError(fmt::format("qsgd: {} nonzeros in a vector of {}", count, p));
    }
    const Magnitudes magnitudes(norm, params_.levels, 1 + level_bits_, out.size());
    out.setZero();
    std::uint64_t next = 0;  // the first index the next gap may reach
    for (std::uint64_t k = 0; k < count; ++k) {
      const std::uint64_t gap = read_code<code>(reader, bytes);
      if (gap > p - next) {  // next ≤ p: the gap would reach index p or beyond
        throw DecodeError(fmt::format("qsgd: a gap of {} runs past the dimension {}", gap, p));
      }
      const std::uint64_t i = next + gap - 1;
      next = i + 1;
      const bool negative = reader.read(1) != 0;
      const std::uint64_t level = read_code<code>(reader, bytes);
      check_level(level, i, norm);
      out[static_cast<Index>(i)] =
          with_sign(magnitudes(static_cast<std::uint32_t>(level)), negative);
    }
  }

  void check_level(std::uint64_t level, std::uint64_t i, double norm) const {
    if (level > static_cast<std::uint64_t>(params_.levels)) {
      throw DecodeError(
          fmt::format("qsgd: level {} at coordinate {} exceeds s = {}", level, i, params_.levels));
    }
    if (level != 0 && norm == 0) {
      throw DecodeError(fmt::format("qsgd: nonzero level at coordinate {} with norm 0", i));
    }
  }

  // A fixed-width field (level << 1) | sign.
  void check_field(std::uint32_t field, std::uint64_t i, double norm) const {
    check_level(field >> 1, i, norm);
    if (field == 1) {
      throw DecodeError(fmt::format("qsgd: sign bit set on a zero level at coordinate {}", i));
    }
  }

  void decode_fixed(BitReader& reader, std::span<const std::uint8_t> bytes, double norm,
                    Vector& out) const {
    const Magnitudes magnitudes(norm, params_.levels, 1 + level_bits_, out.size());
    const int width = 1 + level_bits_;
    const std::uint64_t fields_at = reader.position();
    double* data = out.data();
    if (magnitudes.tabulated()) {
      // Each field straight to its value in the table, noting whether it is one encode() never
      // writes; a block with such a field is read again and checked field by field.
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
          again.skip(fields_at +
                     static_cast<std::uint64_t>(start) * static_cast<std::uint64_t>(width));
          std::uint32_t fields[block];
          again.read_fields(fields, static_cast<std::size_t>(m), width);
          for (Index k = 0; k < m; ++k) {
            check_field(fields[k], static_cast<std::uint64_t>(start + k), norm);
          }
        }
      }
      return;
    }
    // A block of fields at a time: checked together, then looked up.
    std::uint32_t fields[block];
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
          check_field(fields[j], static_cast<std::uint64_t>(start + j), norm);
        }
      }
      magnitudes.values(fields, m, data + start);
    }
  }

  // Whether this compressor's encode() can send the form of `header` (a decoder refuses the
  // others).
  bool accepts(std::uint64_t header) const {
    switch (params_.encoding) {
      case Encoding::fixed:
        return header == header_fixed;
      case Encoding::elias:
        return header == header_elias;
      case Encoding::cheaper:
        return header == header_fixed || header == header_elias;
      case Encoding::elias_gamma:
        return header == header_elias_gamma;
    }
    return false;
  }

  void write_header(BitWriter& writer, std::uint64_t header, const Norm& norm) const {
    writer.write(header, header_bits, Field::metadata);
    if (norm.bits == 32) {
      writer.write_f32(static_cast<float>(norm.value), Field::metadata);
    } else if (float_bits_ == 64) {
      writer.write_f64(norm.value, Field::metadata);
    } else {
      // The wide form: the top bit of the first 32 set, then the double's 63 low bits.
      const auto bits = std::bit_cast<std::uint64_t>(norm.value);
      writer.write((bits & 0x7FFFFFFFu) | (std::uint64_t{1} << 31), 32, Field::metadata);
      writer.write(bits >> 31, 32, Field::metadata);
    }
  }

  // The norm at the reader's position, refused unless encode() could have sent it.
  double read_norm(BitReader& reader) const {
    if (float_bits_ == 64) {
      const double norm = reader.read_f64();
      if (!std::isfinite(norm) || std::signbit(norm)) {
        throw DecodeError(fmt::format("qsgd: the norm {} is not finite and non-negative", norm));
      }
      return norm;
    }
    const std::uint64_t first = reader.read(32);
    if ((first >> 31) == 0) {
      const float norm = std::bit_cast<float>(static_cast<std::uint32_t>(first));
      if (!std::isfinite(norm) || (norm != 0 && norm < FLT_MIN)) {
        throw DecodeError(
            fmt::format("qsgd: the 32-bit norm {} is neither 0 nor a finite normal float", norm));
      }
      return norm;
    }
    const double norm = std::bit_cast<double>((first & 0x7FFFFFFFu) | (reader.read(32) << 31));
    float rounded = 0;
    if (!std::isfinite(norm) || norm == 0 || as_float(norm, rounded)) {
      throw DecodeError(
          fmt::format("qsgd: the wide norm {} is not finite and outside the normal floats", norm));
    }
    return norm;
  }

  static const char* encoding_name(Encoding encoding) {
    switch (encoding) {
      case Encoding::fixed:
        return "fixed";
      case Encoding::elias:
        return "elias";
      case Encoding::cheaper:
        return "cheaper";
      case Encoding::elias_gamma:
        return "elias_gamma";
    }
    return "?";
  }

  static const char* form_name(std::uint64_t header) {
    return header == header_fixed ? "fixed" : header == header_elias ? "elias" : "elias_gamma";
  }

  // ‖x‖₂ in double; refuses non-finite x and norms beyond the doubles.
  static double euclidean_norm(const Vector& x) {
    const double squared = x.squaredNorm();
    if (std::isfinite(squared) && squared >= DBL_MIN) return std::sqrt(squared);
    // Overflow or underflow of the squares (or a non-finite entry): the scaled norm.
    require_finite_input(x.allFinite(), "qsgd");
    const double norm = x.size() == 0 ? 0.0 : x.stableNorm();
    require_finite_input(std::isfinite(norm), "qsgd");
    return norm;
  }

  // `norm` rounded up to a float into `rounded`, and whether a 32-bit link sends that: when
  // it is 0 or a normal float (then rounded/norm ≤ 1 + 2^-23).
  static bool as_float(double norm, float& rounded) {
    if (!(norm <= FLT_MAX)) return false;
    rounded = static_cast<float>(norm);
    if (static_cast<double>(rounded) < norm) {
      rounded = std::nextafter(rounded, std::numeric_limits<float>::infinity());
    }
    return norm == 0 || rounded >= FLT_MIN;
  }

  Norm wire_norm(const Vector& x) const {
    const double norm = euclidean_norm(x);
    if (float_bits_ == 64) return {norm, 64};
    float rounded = 0;
    if (as_float(norm, rounded)) return {static_cast<double>(rounded), 32};
    return {norm, 64};
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
    // Far from 1, s/norm overflows or is subnormal: then x and the norm are scaled by 2^shift
    // first (exact, but for coordinates that underflow, whose r_i are below 2^-1000 anyway).
    const int shift = norm > 0 && (norm < 0x1p-1000 || norm > 0x1p1000) ? -std::ilogb(norm) : 0;
    const double scale = norm > 0 ? s / std::ldexp(norm, shift) : 0.0;
    std::uint64_t words[block / 2];
    std::uint32_t u[block];
    std::uint32_t fields[block];
    double scaled[block];
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
      const double* from = x.data() + start;
      if (shift != 0) [[unlikely]] {
        for (Index j = 0; j < m; ++j) scaled[j] = std::ldexp(from[j], shift);
        from = scaled;
      }
      std::uint32_t* const to = keep != nullptr ? keep + start : fields;
      quantize_block(from, u, m, scale, s, to);
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

  // Whether to send the sparse form of these bits rather than the fixed one.
  bool use_sparse(const Bits& sparse, Index p, int norm_bits) const {
    return params_.encoding != Encoding::cheaper ||
           sparse.total() < fixed_bits(p, norm_bits).total();
  }

  Params params_;
  int level_bits_;
  int float_bits_;
};

}  // namespace laconic::compress
