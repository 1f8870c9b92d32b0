// Fuzzes every Message decoder: the compressors, RandK with a shared seed, and the receiving
// end of the Markov and ErrorFeedback channels (input layout in message_cases.hpp). The
// contract (compress/compressor.hpp): decode() either fills all p coordinates with finite
// numbers or throws DecodeError, and never reads out of bounds.

#include "common.hpp"
#include "message_cases.hpp"

#include <compare>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

using namespace laconic;

namespace {

// out starts as NaN, so that a coordinate a decoder forgets to write fails the check too.
void check_decoded(const Vector& out, Index p) {
  if (out.size() != p) fuzz::violated("decoded vector of the wrong size");
  if (!out.allFinite()) fuzz::violated("decoded vector with a non-finite entry");
}

Message as_message(std::string_view bytes) {
  Message message;
  message.bytes.assign(bytes.begin(), bytes.end());
  return message;
}

template <class L>
void decode(const L& link, Index p, fuzz::Bytes& in) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Vector out = Vector::Constant(p, nan);
  if constexpr (std::is_same_v<L, fuzz::SharedSeedRandK>) {
    RandomStream stream = link.stream();
    try {
      link.rand_k.decode(as_message(in.rest()), out, stream);
      check_decoded(out, p);
    } catch (const DecodeError&) {
    }
  } else if constexpr (compress::Channel<L>) {
    // A receiver's state carries from one message to the next; after a refused message the
    // channel is out of step with its sender, so the sequence ends there.
    typename L::State receiver = link.make_state(p);
    for (int n = 0; n < fuzz::max_messages && !in.empty(); ++n) {
      const Message message = as_message(in.take(in.u16()));
      out.setConstant(nan);
      RandomStream senders(0, Purpose::compress, static_cast<std::uint64_t>(n));
      try {
        link.decode(receiver, message, out, senders);
      } catch (const DecodeError&) {
        return;
      }
      check_decoded(out, p);
    }
  } else {
    try {
      link.decode(as_message(in.rest()), out);
      check_decoded(out, p);
    } catch (const DecodeError&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Bytes in(data, size);
  fuzz::MessageSetup setup;
  setup.kind = in.u8();
  setup.a = in.u8();
  setup.b = in.u8();
  setup.p = in.u16() % (fuzz::max_dim + 1);
  fuzz::with_decoder(setup, [&](const auto& link) { decode(link, setup.p, in); });
  return 0;
}
