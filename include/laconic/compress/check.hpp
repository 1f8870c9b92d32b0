#pragma once

// Checks a compressor against the Compressor contract (compress/compressor.hpp,
// docs/compressors.md "Write your own"), for whoever writes one:
//
//   const MyCompressor c(params, compress::Wire{.float_bits = 32});
//   compress::check_contract(c, x, seed);  // throws std::logic_error naming every violation
//   std::vector<std::string> found = compress::contract_violations(c, x, seed);  // or lists them
//
// On the input x and the sender's stream RandomStream(seed, Purpose::compress) (or a stream you
// pass), it checks that
//   - decode(encode(x)) equals compress(x) bit for bit, and each writes every coordinate of its
//     output without resizing it;
//   - encode() and compress() draw the same random numbers (their streams end at one position);
//   - the Bits compress() returns are the message's, and the message is exactly its bits
//     rounded up to whole bytes;
//   - encode() is a function of x and the stream: a second call gives the same message;
//   - the message cut to 0, half or all but one of its bytes, or with a zero byte appended, is
//     refused by decode() with DecodeError;
//   - x with an infinity, a −infinity or a NaN in place of x[p/2] is refused by encode() and by
//     compress() with std::domain_error.
// Receivers decode through compress::decode() with a copy of the sender's stream as it was
// before encode(), so compressors that redraw what the sender drew (rand-k with a shared seed)
// are checked as the simulation uses them. Pick an x the compressor can send (finite, and
// within the float range on a 32-bit wire), and try several sizes and seeds: one input proves
// little. What cannot be seen from one call is left to you: unbiased() and describe() telling
// the truth, and thread safety (one const instance serves every worker and thread).

#include <laconic/compress/compressor.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace laconic::compress {

// The checks above, one group at a time, collecting what they find. Each method may be called
// for several inputs; violations() holds everything found so far.
template <Compressor C>
class ContractCheck {
 public:
  // `sender`: the stream as it is before encode(); a run passes
  // RandomStream(seed, Purpose::compress, round, worker). Every call starts from a copy of it.
  ContractCheck(const C& compressor, const RandomStream& sender)
      : c_(compressor), sender_(sender) {}

  // The round trip, the bits and the random numbers. Returns decode(encode(x)), of x's size
  // unless decode() resized it (NaN where nothing was decoded).
  Vector round_trip(const Vector& x) {
    const Index p = x.size();
    RandomStream encode_rng = sender_, decode_rng = sender_, compress_rng = sender_;
    Vector decoded = Vector::Constant(p, std::bit_cast<double>(unwritten_by_decode));
    Message message;
    if (!attempt("encode(x)", [&] { message = c_.encode(x, encode_rng); })) return decoded;
    if (message.bytes.size() != (message.bits.total() + 7) / 8) {
      add(fmt::format(
          "encode(x) wrote {} bytes for the {} bits it counts {}: a message is exactly its bits "
          "rounded up to whole bytes, {} bytes",
          message.bytes.size(), message.bits.total(), to_string(message.bits),
          (message.bits.total() + 7) / 8));
    }
    RandomStream again_rng = sender_;
    Message again;
    if (attempt("encode(x) called a second time", [&] { again = c_.encode(x, again_rng); }) &&
        (again.bytes != message.bytes || again.bits != message.bits)) {
      add("encode(x) called a second time from the same stream wrote another message: a "
          "compressor's output depends on x and the stream only (it keeps no state)");
    }
    const bool decoded_ok =
        attempt("decode(encode(x))", [&] { compress::decode(c_, message, decoded, decode_rng); });
    Vector fast = Vector::Constant(p, std::bit_cast<double>(unwritten_by_compress));
    Bits bits;
    if (!attempt("compress(x)", [&] { bits = c_.compress(x, fast, compress_rng); })) {
      return decoded;
    }
    if (bits != message.bits) {
      add(fmt::format("compress(x) returned the bits {} but encode(x)'s message counts {}",
                      to_string(bits), to_string(message.bits)));
    }
    if (compress_rng.position() != encode_rng.position()) {
      add(fmt::format(
          "compress(x) left the random stream at position {} and encode(x) at {}: both must "
          "draw the same random numbers",
          compress_rng.position(), encode_rng.position()));
    }
    if (decoded.size() != p) {
      add(fmt::format("decode() resized its output from {} to {} coordinates", p, decoded.size()));
    } else if (fast.size() != p) {
      add(fmt::format("compress(x) resized its output from {} to {} coordinates", p, fast.size()));
    } else if (decoded_ok) {
      compare(decoded, fast);
    }
    return decoded;
  }

  // Non-finite inputs: x with ∞, −∞ and NaN in place of x[p/2] (nothing to do when p = 0).
  void rejects_non_finite(const Vector& x) {
    const Index p = x.size();
    if (p == 0) return;
    for (const double bad :
         {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
          std::numeric_limits<double>::quiet_NaN()}) {
      Vector y = x;
      y[p / 2] = bad;
      expect_thrown<std::domain_error>(fmt::format("encode(x) with x[{}] = {}", p / 2, bad), [&] {
        RandomStream rng = sender_;
        static_cast<void>(c_.encode(y, rng));
      });
      expect_thrown<std::domain_error>(fmt::format("compress(x) with x[{}] = {}", p / 2, bad), [&] {
        RandomStream rng = sender_;
        Vector out(p);
        static_cast<void>(c_.compress(y, out, rng));
      });
    }
  }

  // Malformed messages: encode(x)'s message cut to 0, half and all but one of its bytes, and
  // with a zero byte appended.
  void rejects_resized(const Vector& x) {
    RandomStream rng = sender_;
    Message message;
    if (!attempt("encode(x)", [&] { message = c_.encode(x, rng); })) return;
    const std::size_t n = message.bytes.size();
    std::vector<std::size_t> keep{0, n / 2, n - 1};
    std::erase_if(keep, [&](std::size_t k) { return k >= n; });
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    for (const std::size_t k : keep) {
      Message cut = message;
      cut.bytes.resize(k);
      expect_refused(
          cut, x.size(),
          fmt::format("decode() of encode(x)'s message cut to {} of its {} bytes", k, n));
    }
    Message longer = message;
    longer.bytes.push_back(0);
    expect_refused(longer, x.size(),
                   fmt::format("decode() of encode(x)'s {} bytes with a zero byte appended", n));
  }

  // All of the above on x.
  void all(const Vector& x) {
    round_trip(x);
    rejects_non_finite(x);
    rejects_resized(x);
  }

  const std::vector<std::string>& violations() const { return violations_; }
  bool ok() const { return violations_.empty(); }

 private:
  // NaNs with payloads no arithmetic produces, in the outputs before decode() and compress()
  // write them: a coordinate still holding one was not written.
  static constexpr std::uint64_t unwritten_by_decode = 0x7ff800000000dec0;
  static constexpr std::uint64_t unwritten_by_compress = 0x7ff800000000c0b0;

  static std::string to_string(const Bits& b) {
    return fmt::format("{{values {}, indices {}, metadata {}}}", b.values, b.indices, b.metadata);
  }

  void add(std::string violation) { violations_.push_back(std::move(violation)); }

  // Runs f; false, and a violation naming `what`, if it throws.
  template <class F>
  bool attempt(std::string_view what, F&& f) {
    try {
      f();
      return true;
    } catch (const std::exception& e) {
      add(fmt::format("{} threw: {}", what, e.what()));
    } catch (...) {
      add(fmt::format("{} threw something that is not a std::exception", what));
    }
    return false;
  }

  // A violation unless f throws E.
  template <class E, class F>
  void expect_thrown(std::string_view what, F&& f) {
    constexpr std::string_view name =
        std::is_same_v<E, DecodeError> ? "laconic::DecodeError" : "std::domain_error";
    try {
      f();
      add(fmt::format("{} returned: it must throw {}", what, name));
    } catch (const E&) {
      return;
    } catch (const std::exception& e) {
      add(fmt::format("{} threw another exception ({}) instead of {}", what, e.what(), name));
    } catch (...) {
      add(fmt::format("{} threw something that is not a std::exception instead of {}", what, name));
    }
  }

  void expect_refused(const Message& m, Index p, std::string_view what) {
    expect_thrown<DecodeError>(what, [&] {
      RandomStream rng = sender_;
      Vector out(p);
      compress::decode(c_, m, out, rng);
    });
  }

  // decode(encode(x)) against compress(x), bit for bit.
  void compare(const Vector& decoded, const Vector& fast) {
    Index first = -1, differ = 0;
    for (Index i = 0; i < decoded.size(); ++i) {
      if (std::bit_cast<std::uint64_t>(decoded[i]) != std::bit_cast<std::uint64_t>(fast[i])) {
        if (first < 0) first = i;
        ++differ;
      }
    }
    if (first < 0) return;
    if (std::bit_cast<std::uint64_t>(decoded[first]) == unwritten_by_decode) {
      add(fmt::format("decode() did not write coordinate {} of its output", first));
    } else if (std::bit_cast<std::uint64_t>(fast[first]) == unwritten_by_compress) {
      add(fmt::format("compress(x) did not write coordinate {} of its output", first));
    } else {
      add(fmt::format(
          "decode(encode(x)) and compress(x) differ at {} of {} coordinates, first at {}: {} and "
          "{}",
          differ, decoded.size(), first, decoded[first], fast[first]));
    }
  }

  const C& c_;
  RandomStream sender_;
  std::vector<std::string> violations_;
};

// Every violation of the contract found on x, with the sender's stream `sender` (or
// RandomStream(seed, Purpose::compress)); empty when there is none.
template <Compressor C>
std::vector<std::string> contract_violations(const C& c, const Vector& x,
                                             const RandomStream& sender) {
  ContractCheck<C> check(c, sender);
  check.all(x);
  return check.violations();
}
template <Compressor C>
std::vector<std::string> contract_violations(const C& c, const Vector& x, std::uint64_t seed) {
  return contract_violations(c, x, RandomStream(seed, Purpose::compress));
}

// Throws std::logic_error naming the compressor, p and every violation found on x, if any.
template <Compressor C>
void check_contract(const C& c, const Vector& x, const RandomStream& sender) {
  const std::vector<std::string> found = contract_violations(c, x, sender);
  if (found.empty()) return;
  std::string what = fmt::format("{} breaks the Compressor contract at p = {}: {}", c.describe(),
                                 x.size(), found.front());
  for (std::size_t i = 1; i < found.size(); ++i) what += "; " + found[i];
  throw std::logic_error(what);
}
template <Compressor C>
void check_contract(const C& c, const Vector& x, std::uint64_t seed) {
  check_contract(c, x, RandomStream(seed, Purpose::compress));
}

}  // namespace laconic::compress
