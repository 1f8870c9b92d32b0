#pragma once

// A channel is one direction of one link (a worker's uplink, the server's broadcast) that may
// keep state on both of its ends: what is sent can depend on what was sent before. The
// Channel contract:
//
//   struct Params { ... };  struct State { ... };
//   Channel(const Params&, const Wire&)          the link's conventions (compressor.hpp)
//   State make_state(Index p) const;            the state of either end before the first send
//   Bits send(State& s, const Vector& w, Vector& out, RandomStream& rng) const;
//       what the simulation uses: updates the (shared) state of both ends and writes what the
//       receiver reconstructs into out; returns the bits of the message
//   Message encode(State& sender, const Vector& w, RandomStream& rng) const;
//   void decode(State& receiver, const Message& m, Vector& out, RandomStream& rng) const;
//       the two ends kept apart, as over a real network; send() equals their composition,
//       and encode() leaves the sender's state as send() leaves the shared one: that is the
//       link's state in a checkpoint, from which a receiver's end is rebuilt (its own state
//       must be a copy of the sender's, or unused, as error feedback leaves it).
//       The receiver's rng is the sender's stream as it was before encode() — both ends build
//       it from the same (seed, purpose, round, worker) — for compressors that redraw what
//       the sender drew (rand-k with a shared seed)
//   std::string describe() const;
//   std::optional<Bits> verbatim(Index p) const;   optional, as for a compressor: the bits of
//       a message whose receiver decodes it as the sent vector itself and whose state is
//       unchanged by sending it; nullopt if not
//
// A stateless Compressor is a channel whose state is empty (Stateless below); the simulation
// treats every link as a channel through channel_t.

#include <laconic/compress/compressor.hpp>

#include <concepts>
#include <optional>
#include <string>
#include <type_traits>

namespace laconic::compress {

template <class L>
concept Channel = requires(const L& l, typename L::State& s, const Vector& w, Vector& out,
                           RandomStream& rng, const Message& m, Index p) {
  typename L::Params;
  { l.make_state(p) } -> std::same_as<typename L::State>;
  { l.send(s, w, out, rng) } -> std::same_as<Bits>;
  { l.encode(s, w, rng) } -> std::same_as<Message>;
  l.decode(s, m, out, rng);
  { l.describe() } -> std::convertible_to<std::string>;
};

// A compressor applied to each message on its own.
template <Compressor C>
class Stateless {
 public:
  using Params = typename C::Params;
  struct State {
    template <class Io>
    void state(Io&) {}
  };

  explicit Stateless(const Params& params = {}, const Wire& wire = {})
      : compressor_(params, wire) {}

  State make_state(Index /*p*/) const { return {}; }
  Bits send(State& /*s*/, const Vector& w, Vector& out, RandomStream& rng) const {
    Bits bits = compressor_.compress(w, out, rng);
    bits.paper = paper_bits(compressor_, w.size(), bits);
    return bits;
  }
  Message encode(State& /*s*/, const Vector& w, RandomStream& rng) const {
    Message message = compressor_.encode(w, rng);
    message.bits.paper = paper_bits(compressor_, w.size(), message.bits);
    return message;
  }
  void decode(State& /*s*/, const Message& m, Vector& out, RandomStream& rng) const {
    compress::decode(compressor_, m, out, rng);
  }
  std::string describe() const { return compressor_.describe(); }
  std::optional<Bits> verbatim(Index p) const {
    std::optional<Bits> bits = compress::verbatim(compressor_, p);
    if (bits) bits->paper = paper_bits(compressor_, p, *bits);
    return bits;
  }
  const C& compressor() const { return compressor_; }

 private:
  C compressor_;
};

// The channel for a link type: itself when it is a channel, else its compressor made one.
template <class L>
struct channel_for {
  using type = Stateless<L>;
};
template <Channel L>
struct channel_for<L> {
  using type = L;
};
template <class L>
using channel_t = typename channel_for<L>::type;

// Whether a link keeps state from one message to the next, so that every receiver must hear
// every message: a channel with a non-empty State does, a compressor does not, and a link that
// is chosen at run time (runtime::Channel) says so through keeps_state().
template <class L>
bool keeps_state(const L& link) {
  if constexpr (requires { link.keeps_state(); }) {
    return link.keeps_state();
  } else {
    return !std::is_empty_v<typename channel_t<L>::State>;
  }
}
// Whether every link of type L keeps state, known at compile time.
template <class L>
inline constexpr bool always_keeps_state = !requires(const L& l) {
  l.keeps_state();
}
&&!std::is_empty_v<typename channel_t<L>::State>;

}  // namespace laconic::compress
