#pragma once

// The Compressor contract, shared by every compressor in compress/:
//
//   struct Params { ... };                      validated by the constructor (require_param)
//   Message encode(const Vector& x, RandomStream& rng) const;
//   void decode(const Message& m, Vector& out) const;   out already has x's size
//   Bits compress(const Vector& x, Vector& out, RandomStream& rng) const;
//   bool unbiased() const;                      E C(x) = x
//   std::string describe() const;               name and parameters, for History headers
//
// compress() is the fast path the simulation uses: it writes decode(encode(x, rng)) into out
// bit for bit, draws the same random numbers, and returns the bits encode() would have
// produced, without building the bytes. decode() reads only the message's bytes and throws
// DecodeError for anything malformed (truncated, padded, an index out of range, a bad header);
// it never reads out of bounds. A non-finite x is refused with std::domain_error. Compressors
// are stateless and const, so one instance serves every worker and thread; scratch space, if
// any, is thread_local.

#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <cmath>
#include <concepts>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace laconic::compress {

template <class C>
concept Compressor = requires(const C& c, const Vector& x, Vector& out, RandomStream& rng,
                              const Message& m) {
  typename C::Params;
  { c.encode(x, rng) } -> std::same_as<Message>;
  c.decode(m, out);
  { c.compress(x, out, rng) } -> std::same_as<Bits>;
  { c.unbiased() } -> std::convertible_to<bool>;
  { c.describe() } -> std::convertible_to<std::string>;
};

// Throws std::domain_error unless the vector to compress can be sent. Compressors that compute
// a norm or scale of x pass std::isfinite of it: false when an entry is not finite, and also
// when the norm itself overflows, which no message could carry either.
inline void require_finite_input(bool finite, std::string_view compressor) {
  if (!finite) {
    throw std::domain_error(
        fmt::format("{}: the vector to compress has a non-finite entry or norm", compressor));
  }
}

// What the papers count for one message of C in dimension p: C's own paper_bits(p) when it
// declares one (the papers count floats as 32 bits and leave index bits out), else the exact
// count.
template <class C>
std::uint64_t paper_bits(const C& c, Index p, const Bits& exact) {
  if constexpr (requires { c.paper_bits(p); }) {
    return c.paper_bits(p);
  } else {
    return exact.total();
  }
}

// The width of floats on the wire: 32 (the papers' convention) or 64.
// out[j] = table[fields[j]] for j < m: the decode of a tabulated fixed-width field. Four
// lookups per iteration: with one, the loop's own instructions were half the work.
inline void look_up(const double* table, const std::uint32_t* fields, Index m, double* out) {
  Index j = 0;
  for (; j + 4 <= m; j += 4) {
    out[j] = table[fields[j]];
    out[j + 1] = table[fields[j + 1]];
    out[j + 2] = table[fields[j + 2]];
    out[j + 3] = table[fields[j + 3]];
  }
  for (; j < m; ++j) out[j] = table[fields[j]];
}

inline void require_float_bits(int bits, std::string_view compressor) {
  require_param(bits == 32 || bits == 64, fmt::format("{}.float_bits", compressor), bits,
                "32 or 64");
}

// Refuses parameters that cannot serve dimension p (k > p for top-k and rand-k), with the
// compressor's own message, for a link (compressor or channel) about to carry p-vectors: a
// run then fails when it is set up rather than at its first message.
template <class L>
void require_dimension(const L& link, Index p) {
  if constexpr (requires { link.compressor(); }) require_dimension(link.compressor(), p);
  if constexpr (requires { link.count(p); }) static_cast<void>(link.count(p));
}

}  // namespace laconic::compress
