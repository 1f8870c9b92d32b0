#pragma once

// Top-k sparsification: keeps the k largest-magnitude coordinates of x, ties broken by the
// lowest index, and zeroes the rest. Deterministic and biased, with
// ‖C(x) − x‖² ≤ (1 − k/p)‖x‖² (α = k/p in EF21's notation).
//
// Wire format (least significant bit first, as BitWriter writes it):
//   1 bit   metadata  0 = index list (COO), 1 = p-bit mask; the shorter one, a tie going to COO
//   COO:    k × ⌈log₂ p⌉ bits (indices field), the kept indices in strictly ascending order
//   mask:   p bits (indices field), bit i set when coordinate i is kept; exactly k are set
//   k × float_bits (values field), the kept values in ascending index order
// The count k follows from p and the parameters, so it is not sent; when x has fewer than k
// non-zero entries the message still carries k values (some of them zero), so its size
// depends on p and k only. Since the receiver knows p and k, the flag is redundant: decode()
// refuses one that disagrees with the choice the encoder makes. A value that does not fit
// the wire float (|x_i| beyond the float range with float_bits = 32) is refused with
// std::domain_error, like a non-finite x.
//
// detail:: also holds the sparse wire format and the scratch buffers that RandK shares.

#include <laconic/compress/compressor.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

namespace laconic::compress {

namespace detail {

// Uninitialised storage that grows to the largest size asked for and is then reused, so a
// thread_local instance allocates on the first call only (for a given dimension).
template <class T>
class ScratchBuffer {
 public:
  T* get(std::size_t size) {
    if (size > capacity_) {
      data_.reset(new T[size]);
      capacity_ = size;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<T[]> data_;
  std::size_t capacity_ = 0;
};

// ⌈log₂ p⌉, the width of one COO index (0 when p ≤ 1: the only index is 0).
inline int index_width(Index p) {
  return p <= 1 ? 0 : std::bit_width(static_cast<std::uint64_t>(p - 1));
}

// Whether k indices among p go as a list (COO) rather than a p-bit mask: the list is not longer.
inline bool sparse_uses_coo(Index p, Index k) {
  return static_cast<uint128>(k) * static_cast<uint128>(index_width(p)) <= static_cast<uint128>(p);
}

// Bits of the flag and the indices of a sparse message.
inline Bits sparse_index_bits(Index p, Index k) {
  const auto coo = static_cast<std::uint64_t>(k) * static_cast<std::uint64_t>(index_width(p));
  return Bits{.indices = sparse_uses_coo(p, k) ? coo : static_cast<std::uint64_t>(p),
              .metadata = 1};
}

// Checks the (k, fraction) pair of a sparsifier's parameters: exactly one is set.
inline void validate_count(Index k, double fraction, std::string_view compressor) {
  const std::string k_name = fmt::format("{}.k", compressor);
  const std::string fraction_name = fmt::format("{}.fraction", compressor);
  require_param(k >= 0, k_name, k, fmt::format("≥ 1, or 0 when {} is set", fraction_name));
  require_param(fraction == 0 || (fraction > 0 && fraction <= 1), fraction_name, fraction,
                "in (0, 1], or 0 when k is set");
  require_param(k == 0 || fraction == 0, fraction_name, fraction,
                fmt::format("0 when {} is set ({} = {})", k_name, k_name, k));
  require_param(k > 0 || fraction > 0, k_name, k,
                fmt::format("≥ 1, or set {} in (0, 1]", fraction_name));
}

// The number of coordinates kept out of p: k, or max(1, ⌊fraction·p⌋) computed in double as
// CD-Adam's code does (clamped to p, which matters for p = 0 only). k > p is an error, since
// p is known only here.
inline Index effective_count(Index p, Index k, double fraction, std::string_view compressor) {
  if (k > 0) {
    // Formatted only on failure: this runs on every message.
    if (k > p) {
      require_param(false, fmt::format("{}.k", compressor), k,
                    fmt::format("at most the dimension p = {}", p));
    }
    return k;
  }
  const auto from_fraction = static_cast<Index>(std::floor(fraction * static_cast<double>(p)));
  return std::min(p, std::max<Index>(1, from_fraction));
}

// A value as the wire carries it: rounded to float, or as is.
inline double wire_value(double value, int float_bits) {
  return float_bits == 32 ? static_cast<double>(static_cast<float>(value)) : value;
}

// Refuses a finite input whose value overflows the wire format (a double beyond the float
// range, or a scaled value beyond the double range).
inline void require_representable(double sent, double original, Index i, int float_bits,
                                  std::string_view compressor) {
  if (!std::isfinite(sent)) {
    throw std::domain_error(fmt::format("{}: x[{}] = {} does not fit in a {}-bit float", compressor,
                                        i, original, float_bits));
  }
}

inline void write_value(BitWriter& writer, double value, int float_bits) {
  if (float_bits == 32) {
    writer.write_f32(static_cast<float>(value), Field::values);
  } else {
    writer.write_f64(value, Field::values);
  }
}

// Reads one value; a non-finite one is never sent, so it means corruption.
inline double read_value(BitReader& reader, int float_bits) {
  const double value =
      float_bits == 32 ? static_cast<double>(reader.read_f32()) : reader.read_f64();
  if (!std::isfinite(value)) {
    throw DecodeError(fmt::format("non-finite value {} at bit {}", value,
                                  reader.position() - static_cast<std::uint64_t>(float_bits)));
  }
  return value;
}

// Writes the flag and the k strictly ascending indices `kept` among p.
inline void write_sparse_indices(BitWriter& writer, Index p, const Index* kept, Index k) {
  if (sparse_uses_coo(p, k)) {
    writer.write(0, 1, Field::metadata);
    const int width = index_width(p);
    for (Index n = 0; n < k; ++n) {
      writer.write(static_cast<std::uint64_t>(kept[n]), width, Field::indices);
    }
    return;
  }
  writer.write(1, 1, Field::metadata);
  Index n = 0;
  for (Index start = 0; start < p; start += 64) {
    const Index end = std::min(p, start + 64);
    std::uint64_t word = 0;
    for (; n < k && kept[n] < end; ++n) word |= std::uint64_t{1} << (kept[n] - start);
    writer.write(word, static_cast<int>(end - start), Field::indices);
  }
}

// Reads what write_sparse_indices wrote into kept[0, k), refusing a flag that disagrees with
// (p, k), an index ≥ p, indices that are not strictly ascending, or a mask without exactly k
// bits set.
inline void read_sparse_indices(BitReader& reader, Index p, Index* kept, Index k) {
  const bool coo = reader.read(1) == 0;
  if (coo != sparse_uses_coo(p, k)) {
    throw DecodeError(fmt::format("bad header: a {} for k = {} of p = {}, expected a {}",
                                  coo ? "index list" : "mask", k, p, coo ? "mask" : "index list"));
  }
  if (coo) {
    const int width = index_width(p);
    Index previous = -1;
    for (Index n = 0; n < k; ++n) {
      const auto index = static_cast<Index>(reader.read(width));
      if (index >= p) {
        throw DecodeError(fmt::format("index {} out of range for p = {}", index, p));
      }
      if (index <= previous) {
        throw DecodeError(
            fmt::format("indices not strictly ascending: {} after {}", index, previous));
      }
      kept[n] = index;
      previous = index;
    }
    return;
  }
  Index n = 0;
  for (Index start = 0; start < p; start += 64) {
    const Index end = std::min(p, start + 64);
    std::uint64_t word = reader.read(static_cast<int>(end - start));
    if (std::popcount(word) > k - n) {
      throw DecodeError(fmt::format("mask has more than k = {} bits set", k));
    }
    for (; word != 0; word &= word - 1) kept[n++] = start + std::countr_zero(word);
  }
  if (n != k) throw DecodeError(fmt::format("mask has {} bits set, expected k = {}", n, k));
}

}  // namespace detail

class TopK {
 public:
  // Exactly one of k and fraction is set.
  struct Params {
    Index k = 0;          // coordinates kept (≤ p, checked when p is known); or
    double fraction = 0;  // in (0, 1]: keeps max(1, ⌊fraction·p⌋), as CD-Adam's code does
    template <class V>
    void fields(V&& v) {
      v("k", k);
      v("fraction", fraction);
    }
  };

  TopK() : TopK(Params{}) {}
  explicit TopK(const Params& params, const Wire& wire = {})
      : params_(params), wire_(validated(wire)) {
    detail::validate_count(params.k, params.fraction, "top_k");
  }

  const Params& params() const { return params_; }
  bool unbiased() const { return false; }
  std::string describe() const {
    if (params_.k > 0) return fmt::format("top_k(k={}, fp{})", params_.k, wire_.float_bits);
    return fmt::format("top_k(fraction={}, fp{})", params_.fraction, wire_.float_bits);
  }

  // The number of coordinates kept for dimension p; throws std::invalid_argument if k > p.
  Index count(Index p) const {
    return detail::effective_count(p, params_.k, params_.fraction, "top_k");
  }

  // What the papers count: k floats of 32 bits, and the indices at the Wire's paper_index_bits
  // each (EF21 counts none, CD-Adam 32).
  std::uint64_t paper_bits(Index p) const {
    return static_cast<std::uint64_t>(32 + wire_.paper_index_bits) *
           static_cast<std::uint64_t>(count(p));
  }

  // The bits of every message for dimension p.
  Bits bits(Index p) const {
    Bits bits = detail::sparse_index_bits(p, count(p));
    bits.values =
        static_cast<std::uint64_t>(count(p)) * static_cast<std::uint64_t>(wire_.float_bits);
    return bits;
  }

  Message encode(const Vector& x, RandomStream& /*rng*/) const {
    const Index p = x.size();
    const Index k = count(p);
    const Index* kept = select(x, k);
    const double* values = sent_values(x, kept, k);
    Message message;
    BitWriter writer(message);
    writer.reserve(bits(p).total());
    detail::write_sparse_indices(writer, p, kept, k);
    for (Index n = 0; n < k; ++n) detail::write_value(writer, values[n], wire_.float_bits);
    writer.finish();
    return message;
  }

  // `out` must already have the message's dimension. Its contents are unspecified after a
  // DecodeError.
  void decode(const Message& message, Vector& out) const {
    const Index p = out.size();
    const Index k = count(p);
    thread_local detail::ScratchBuffer<Index> kept_buffer;
    Index* kept = kept_buffer.get(static_cast<std::size_t>(k));
    BitReader reader(message.bytes);
    detail::read_sparse_indices(reader, p, kept, k);
    out.setZero();
    for (Index n = 0; n < k; ++n) out[kept[n]] = detail::read_value(reader, wire_.float_bits);
    reader.expect_end();
  }

  // decode(encode(x)) without the bytes. `out` may be x itself.
  Bits compress(const Vector& x, Vector& out, RandomStream& /*rng*/) const {
    const Index p = x.size();
    const Index k = count(p);
    const Index* kept = select(x, k);
    const double* values = sent_values(x, kept, k);
    out.resize(p);
    out.setZero();
    for (Index n = 0; n < k; ++n) out[kept[n]] = values[n];
    return bits(p);
  }

 private:
  // The kept values as the wire carries them, in a thread_local buffer.
  const double* sent_values(const Vector& x, const Index* kept, Index k) const {
    thread_local detail::ScratchBuffer<double> buffer;
    double* values = buffer.get(static_cast<std::size_t>(k));
    for (Index n = 0; n < k; ++n) {
      values[n] = detail::wire_value(x[kept[n]], wire_.float_bits);
      detail::require_representable(values[n], x[kept[n]], kept[n], wire_.float_bits, "top_k");
    }
    return values;
  }

  // The indices of the k largest |x_i|, ties to the lowest index, in ascending order, in a
  // thread_local buffer. Refuses a non-finite x.
  //
  // For p ≥ 65536 the k-th largest magnitude is first estimated from a fixed sample of 4096
  // coordinates (the r-th largest sample magnitude, with r three standard deviations above
  // the expected 4096·k/p, so that it lies below the true k-th largest with high
  // probability); one pass collects the candidates at or above that threshold, and the exact
  // selection (nth_element on their magnitudes, then one pass in index order) runs on those
  // only. Every coordinate of the top k is a candidate whenever there are at least k, so the
  // result is exact; if fewer than k turn up, the exact selection runs on all p coordinates
  // instead. Either way the expected cost is O(p), with one pass over x in the common case.
  // The sample is fixed (it does not use the random stream): top-k stays deterministic.
  static const Index* select(const Vector& x, Index k) {
    const Index p = x.size();
    const double* data = x.data();
    const auto size = static_cast<std::size_t>(p);
    thread_local detail::ScratchBuffer<Index> kept_buffer;
    thread_local detail::ScratchBuffer<Index> candidate_buffer;
    thread_local detail::ScratchBuffer<double> magnitude_buffer;
    Index* kept = kept_buffer.get(size);
    Index* candidates = candidate_buffer.get(size);
    double* magnitudes = magnitude_buffer.get(size);

    if (k == p) {
      require_finite_input(x.allFinite(), "top_k");
      for (Index i = 0; i < p; ++i) kept[i] = i;
      return kept;
    }
    if (p >= 16 * sample_size) {
      // Sample: a run of sample_run consecutive coordinates at a pseudo-random offset in each
      // of sample_size / sample_run equal blocks (runs, not single coordinates, so that the
      // sample reads a few hundred cache lines rather than thousands).
      const Index runs = sample_size / sample_run;
      const Index block = p / runs;
      bool finite = true;
      for (Index j = 0; j < runs; ++j) {
        // The offset is the high word of mix(j)·(block − sample_run + 1), so the run fits in
        // the block (and no division is needed).
        const auto offsets = static_cast<std::uint64_t>(block - sample_run + 1);
        const Index at =
            j * block +
            static_cast<Index>(
                (static_cast<uint128>(mix(static_cast<std::uint64_t>(j))) * offsets) >> 64);
        for (Index l = 0; l < sample_run; ++l) {
          const double m = std::abs(data[at + l]);
          magnitudes[j * sample_run + l] = m;
          finite &= m <= std::numeric_limits<double>::max();
        }
      }
      require_finite_input(finite, "top_k");
      const double expected =
          static_cast<double>(sample_size) * static_cast<double>(k) / static_cast<double>(p);
      const Index rank = std::min<Index>(
          sample_size, static_cast<Index>(std::ceil(expected + 3 * std::sqrt(expected))) + 1);
      std::nth_element(magnitudes, magnitudes + (rank - 1), magnitudes + sample_size,
                       std::greater<>());
      const double threshold = magnitudes[rank - 1];

      // Candidates: every |x_i| ≥ threshold, in ascending order, with its magnitude. When few
      // are expected, a block of 8 whose magnitudes are all below the threshold (false for a
      // NaN) is skipped; the others are taken one by one, which also checks them for
      // infinities and NaNs.
      Index count = 0;
      bool all_finite = true;
      Index i = 0;
      const auto take = [&](Index at) {
        const double m = std::abs(data[at]);
        all_finite &= m <= std::numeric_limits<double>::max();
        candidates[count] = at;
        magnitudes[count] = m;
        count += m >= threshold ? 1 : 0;
      };
      if (rank * 16 < sample_size) {
        for (; i + 8 <= p; i += 8) {
          if (all_below(data + i, threshold)) continue;
          for (Index j = 0; j < 8; ++j) take(i + j);
        }
      }
      for (; i < p; ++i) take(i);
      require_finite_input(all_finite, "top_k");
      if (count >= k) {
        select_among(candidates, magnitudes, count, k, kept);
        return kept;
      }
    }
    // All coordinates are candidates.
    bool finite = true;
    for (Index i = 0; i < p; ++i) {
      candidates[i] = i;
      magnitudes[i] = std::abs(data[i]);
      finite &= magnitudes[i] <= std::numeric_limits<double>::max();
    }
    require_finite_input(finite, "top_k");
    select_among(candidates, magnitudes, p, k, kept);
    return kept;
  }

  // Exact selection of the top k among `count` ascending candidate indices whose magnitudes
  // are magnitudes[0, count): finds the k-th largest magnitude v (nth_element on a copy), then
  // keeps every candidate above v and the lowest-indexed ones equal to v, k in all, in one
  // pass without branches (about as many candidates are kept as are not, so a branch would
  // be mispredicted half the time). kept must have room for k + 1 indices.
  static void select_among(const Index* candidates, const double* magnitudes, Index count, Index k,
                           Index* kept) {
    if (k == 0) return;
    thread_local detail::ScratchBuffer<double> copy_buffer;
    double* copy = copy_buffer.get(static_cast<std::size_t>(count));
    std::copy(magnitudes, magnitudes + count, copy);
    std::nth_element(copy, copy + (k - 1), copy + count, std::greater<>());
    const double v = copy[k - 1];
    Index above = 0;
    for (Index n = 0; n + 1 < k; ++n) above += copy[n] > v ? 1 : 0;
    Index equal_left = k - above;
    Index taken = 0;
    for (Index n = 0; n < count; ++n) {
      const double m = magnitudes[n];
      const Index tie = m == v && equal_left > 0 ? 1 : 0;
      kept[taken] = candidates[n];
      taken += (m > v ? 1 : 0) | tie;
      equal_left -= tie;
    }
  }

  // Whether all 8 magnitudes |data[0]|, ..., |data[7]| are below `threshold` (false when one
  // is a NaN), with two-double vector operations (GCC's and Clang's vector extensions) and
  // no branch: written with scalars or Eigen, the test compiles to a branch per coordinate,
  // mispredicted wherever a candidate lies, and the filtering pass takes twice as long.
  static bool all_below(const double* data, double threshold) {
    using Doubles = double __attribute__((vector_size(16)));
    using Mask = decltype(Doubles{} < Doubles{});
    const Doubles limit = {threshold, threshold};
    const Mask magnitude_bits = {std::numeric_limits<std::int64_t>::max(),
                                 std::numeric_limits<std::int64_t>::max()};
    Mask below = {-1, -1};
    for (int j = 0; j < 8; j += 2) {
      Doubles pair;
      std::memcpy(&pair, data + j, sizeof pair);
      below &= std::bit_cast<Doubles>(std::bit_cast<Mask>(pair) & magnitude_bits) < limit;
    }
    return (below[0] & below[1]) == -1;
  }

  // A fixed mixing of the sample number into an offset (the SplitMix64 finaliser).
  static std::uint64_t mix(std::uint64_t z) {
    z += 0x9E3779B97F4A7C15u;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
  }

  static constexpr Index sample_size = 4096;
  static constexpr Index sample_run = 8;

  Params params_;
  Wire wire_;
};

}  // namespace laconic::compress
