#pragma once

// The Compressor contract, shared by every compressor in compress/:
//
//   struct Params { ... };                      validated by the constructor (require_param)
//   C(const Params&, const Wire&)               the link's conventions (Wire, below)
//   Message encode(const Vector& x, RandomStream& rng) const;
//   void decode(const Message& m, Vector& out) const;   out already has x's size
//   Bits compress(const Vector& x, Vector& out, RandomStream& rng) const;
//   bool unbiased() const;                      E C(x) = x
//   std::string describe() const;               name and parameters, for History headers
//   std::optional<Bits> verbatim(Index p) const;  optional: when the receiver decodes every
//       finite p-vector as itself, bit for bit, drawing nothing, the bits compress() returns
//       for one (else nullopt); the round engine then hands the server the sender's vector
//       instead of a copy
//
// A compressor whose receiver must redraw what the sender drew (rand-k with a shared seed)
// also has decode(m, out, rng), rng the sender's stream as it was before encode(); receivers
// call compress::decode(), which passes the stream where it is needed.
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
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace laconic::compress {

// The conventions of the link a compressor serves, the same for every link of a method and set
// once there (Method::float_bits, Method::paper_index_bits): how wide the floats it puts on the
// wire are, and how the papers' count (Bits::paper) treats a sparse message's indices.
// Compressors and channels take it beside their Params: C(params, wire).
struct Wire {
  // 64: every float travels exactly, so the method runs the papers' exact arithmetic; 32: the
  // papers' wire format (half the value bits; the model, gradients and scales rounded to
  // float on the way, which lazy rules notice once a run has converged: docs/simulation.md).
  int float_bits = 64;
  // Bits::paper per index of a sparse message: 0 (EF21, LASG, LAQ count values only) or 32
  // (CD-Adam's Table 2 counts each index as a 32-bit integer).
  int paper_index_bits = 0;

  void validate() const {
    require_param(float_bits == 32 || float_bits == 64, "float_bits", float_bits, "32 or 64");
    require_param(paper_index_bits == 0 || paper_index_bits == 32, "paper_index_bits",
                  paper_index_bits, "0 or 32");
  }
  std::string describe() const { return fmt::format("fp{}", float_bits); }
};

// The wire, checked: for a compressor's constructor.
inline const Wire& validated(const Wire& wire) {
  wire.validate();
  return wire;
}

template <class C>
concept Compressor = std::constructible_from<C, const typename C::Params&, const Wire&> &&
    requires(const C& c, const Vector& x, Vector& out, RandomStream& rng, const Message& m) {
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

// Refuses, for a 32-bit wire, a finite x with an entry whose float would be infinite: from
// the midpoint above the largest float on, values round to infinity.
inline void require_fits_float(const Vector& x, std::string_view compressor) {
  constexpr double limit = 0x1.ffffffp127;
  if (x.size() == 0 || x.cwiseAbs().maxCoeff() < limit) return;
  Index i = 0;
  while (std::abs(x[i]) < limit) ++i;
  throw std::domain_error(
      fmt::format("{}: x[{}] = {} does not fit in a 32-bit float", compressor, i, x[i]));
}

// Decodes a message of c into out (already of the message's dimension); `rng` is the sender's
// stream as it was before encode(), used by compressors that redraw what the sender drew.
template <Compressor C>
void decode(const C& c, const Message& message, Vector& out, RandomStream& rng) {
  if constexpr (requires { c.decode(message, out, rng); }) {
    c.decode(message, out, rng);
  } else {
    c.decode(message, out);
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

// A link's (compressor's or channel's) verbatim(p) where it declares one, else nullopt: the
// bits of a message the receiver decodes as the sent vector itself.
template <class L>
std::optional<Bits> verbatim(const L& link, Index p) {
  if constexpr (requires { link.verbatim(p); }) {
    return link.verbatim(p);
  } else {
    return std::nullopt;
  }
}

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

// Refuses parameters that cannot serve dimension p (k > p for top-k and rand-k), with the
// compressor's own message, for a link (compressor or channel) about to carry p-vectors: a
// run then fails when it is set up rather than at its first message.
template <class L>
void require_dimension(const L& link, Index p) {
  if constexpr (requires { link.compressor(); }) require_dimension(link.compressor(), p);
  if constexpr (requires { link.count(p); }) static_cast<void>(link.count(p));
  if constexpr (requires { link.require_dimension(p); }) link.require_dimension(p);
}

}  // namespace laconic::compress
