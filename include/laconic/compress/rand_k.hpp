#pragma once

// Random-k sparsification: keeps k coordinates drawn uniformly without replacement and zeroes
// the rest. Unscaled it is biased with E‖C(x) − x‖² = (1 − k/p)‖x‖²; scaled by p/k it is
// unbiased with E‖C(x) − x‖² = (p/k − 1)‖x‖² (ω = p/k − 1).
//
// The k indices come from Floyd's algorithm: for j = p − k, ..., p − 1 it draws
// t = rng.below(j + 1) and keeps t, or j if t is already kept. That is exactly k draws,
// whatever x is.
//
// Wire format, as TopK's (see top_k.hpp): a 1-bit flag, the indices as a list or a mask,
// then the k values float(x_i) in ascending index order, unscaled (the receiver applies p/k).
// With shared_seed the receiver regenerates the indices from the same random stream, so the
// message is the k values alone: no flag and no index bits. Decoding then needs that stream:
// call decode(message, out, rng) with a copy of the stream as it was before encode(); the
// two-argument decode throws std::logic_error in that mode.

#include <laconic/compress/compressor.hpp>
#include <laconic/compress/top_k.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace laconic::compress {

class RandK {
 public:
  // Exactly one of k and fraction is set.
  struct Params {
    Index k = 0;               // coordinates kept (≤ p, checked when p is known); or
    double fraction = 0;       // in (0, 1]: keeps max(1, ⌊fraction·p⌋)
    bool scaled = false;       // multiply the kept values by p/k (unbiased)
    bool shared_seed = false;  // no indices on the wire: the receiver redraws them
    template <class V>
    void fields(V&& v) {
      v("k", k);
      v("fraction", fraction);
      v("scaled", scaled);
      v("shared_seed", shared_seed);
    }
  };

  RandK() : RandK(Params{}) {}
  explicit RandK(const Params& params, const Wire& wire = {})
      : params_(params), wire_(validated(wire)) {
    detail::validate_count(params.k, params.fraction, "rand_k");
  }

  const Params& params() const { return params_; }
  bool unbiased() const { return params_.scaled; }
  // Whether decoding needs the sender's random stream (decode(message, out, rng)).
  bool decode_needs_rng() const { return params_.shared_seed; }
  std::string describe() const {
    const std::string count = params_.k > 0 ? fmt::format("k={}", params_.k)
                                            : fmt::format("fraction={}", params_.fraction);
    return fmt::format("rand_k({}{}{}, fp{})", count, params_.scaled ? ", scaled" : "",
                       params_.shared_seed ? ", shared_seed" : "", wire_.float_bits);
  }

  // The number of coordinates kept for dimension p; throws std::invalid_argument if k > p.
  Index count(Index p) const {
    return detail::effective_count(p, params_.k, params_.fraction, "rand_k");
  }

  // As for top-k: k floats of 32 bits, and the indices at the Wire's paper_index_bits each
  // unless the receiver redraws them (shared_seed).
  std::uint64_t paper_bits(Index p) const {
    const int index_bits = params_.shared_seed ? 0 : wire_.paper_index_bits;
    return static_cast<std::uint64_t>(32 + index_bits) * static_cast<std::uint64_t>(count(p));
  }

  // The bits of every message for dimension p.
  Bits bits(Index p) const {
    const Index k = count(p);
    Bits bits = params_.shared_seed ? Bits{} : detail::sparse_index_bits(p, k);
    bits.values = static_cast<std::uint64_t>(k) * static_cast<std::uint64_t>(wire_.float_bits);
    return bits;
  }

  Message encode(const Vector& x, RandomStream& rng) const {
    require_finite_input(x.allFinite(), "rand_k");
    const Index p = x.size();
    const Index k = count(p);
    const Index* kept = draw(p, k, rng);
    const double factor = scale(p, k);
    Message message;
    BitWriter writer(message);
    writer.reserve(bits(p).total());
    if (!params_.shared_seed) detail::write_sparse_indices(writer, p, kept, k);
    for (Index n = 0; n < k; ++n) {
      const double value = sent_value(x[kept[n]], kept[n], factor);
      detail::write_value(writer, value, wire_.float_bits);
    }
    writer.finish();
    return message;
  }

  // `out` must already have the message's dimension. Its contents are unspecified after a
  // DecodeError. Throws std::logic_error with shared_seed, whose indices are not in the
  // message.
  void decode(const Message& message, Vector& out) const {
    if (params_.shared_seed) {
      throw std::logic_error(
          "rand_k: with shared_seed the indices are not in the message; call "
          "decode(message, out, rng) with the sender's random stream");
    }
    const Index p = out.size();
    const Index k = count(p);
    thread_local detail::ScratchBuffer<Index> kept_buffer;
    Index* kept = kept_buffer.get(static_cast<std::size_t>(k));
    BitReader reader(message.bytes);
    detail::read_sparse_indices(reader, p, kept, k);
    read_values(reader, kept, k, out);
  }

  // With shared_seed: decodes with the indices redrawn from `rng`, which must be in the state
  // the sender's stream was in before encode(); it advances as the sender's did. Without
  // shared_seed the indices are in the message and `rng` is not used.
  void decode(const Message& message, Vector& out, RandomStream& rng) const {
    if (!params_.shared_seed) {
      decode(message, out);
      return;
    }
    const Index p = out.size();
    const Index k = count(p);
    const Index* kept = draw(p, k, rng);
    BitReader reader(message.bytes);
    read_values(reader, kept, k, out);
  }

  // decode(encode(x)) without the bytes, drawing the same random numbers. `out` may be x.
  Bits compress(const Vector& x, Vector& out, RandomStream& rng) const {
    require_finite_input(x.allFinite(), "rand_k");
    const Index p = x.size();
    const Index k = count(p);
    const Index* kept = draw(p, k, rng);
    const double factor = scale(p, k);
    thread_local detail::ScratchBuffer<double> value_buffer;
    double* values = value_buffer.get(static_cast<std::size_t>(k));
    for (Index n = 0; n < k; ++n) {
      values[n] = received(sent_value(x[kept[n]], kept[n], factor), factor);
    }
    out.resize(p);
    out.setZero();
    for (Index n = 0; n < k; ++n) out[kept[n]] = values[n];
    return bits(p);
  }

 private:
  // p/k when scaled, else 1.
  double scale(Index p, Index k) const {
    return params_.scaled && k > 0 ? static_cast<double>(p) / static_cast<double>(k) : 1.0;
  }

  // The receiver's value for a value on the wire.
  double received(double sent, double factor) const {
    return params_.scaled ? factor * sent : sent;
  }

  // x_i as the wire carries it; refuses one that overflows the wire or, scaled, a double.
  double sent_value(double x_i, Index i, double factor) const {
    const double sent = detail::wire_value(x_i, wire_.float_bits);
    detail::require_representable(received(sent, factor), x_i, i, wire_.float_bits, "rand_k");
    return sent;
  }

  void read_values(BitReader& reader, const Index* kept, Index k, Vector& out) const {
    const double factor = scale(out.size(), k);
    out.setZero();
    for (Index n = 0; n < k; ++n) {
      const double value = received(detail::read_value(reader, wire_.float_bits), factor);
      if (!std::isfinite(value)) {
        throw DecodeError(fmt::format("value at index {} overflows when scaled", kept[n]));
      }
      out[kept[n]] = value;
    }
    reader.expect_end();
  }

  // k indices among p, uniformly without replacement (Floyd), in ascending order, in a
  // thread_local buffer. Exactly k calls to rng.below().
  static const Index* draw(Index p, Index k, RandomStream& rng) {
    const auto words = static_cast<std::size_t>((p + 63) / 64);
    thread_local detail::ScratchBuffer<std::uint64_t> mask_buffer;
    thread_local detail::ScratchBuffer<Index> kept_buffer;
    std::uint64_t* mask = mask_buffer.get(words);
    Index* kept = kept_buffer.get(static_cast<std::size_t>(k));
    std::fill(mask, mask + words, std::uint64_t{0});
    for (Index j = p - k; j < p; ++j) {
      auto t = static_cast<Index>(rng.below(static_cast<std::uint64_t>(j) + 1));
      if ((mask[t / 64] >> (t % 64) & 1) != 0) t = j;
      mask[t / 64] |= std::uint64_t{1} << (t % 64);
    }
    Index n = 0;
    for (std::size_t w = 0; w < words; ++w) {
      for (std::uint64_t word = mask[w]; word != 0; word &= word - 1) {
        kept[n++] = static_cast<Index>(w) * 64 + std::countr_zero(word);
      }
    }
    return kept;
  }

  Params params_;
  Wire wire_;
};

}  // namespace laconic::compress
