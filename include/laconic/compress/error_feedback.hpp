#pragma once

// Classic error feedback (Seide et al. 2014; Karimireddy et al. 2019): the sender keeps what
// compression left out and adds it to the next vector,
//
//   c_t = C(w_t + e_{t−1}),   e_t = w_t + e_{t−1} − c_t,   e_{−1} = 0,
//
// and the receiver uses c_t as it is. The papers fold the step size into w (p_t = γ g_t + e_t);
// with a constant step and a positively homogeneous C (top-k, rand-k, scaled sign) that is
// the same trajectory, since C(γ y) = γ C(y). Only the sender has state.

#include <laconic/compress/channel.hpp>

#include <string>

namespace laconic::compress {

template <Compressor C>
class ErrorFeedback {
 public:
  using Params = typename C::Params;
  struct State {
    Vector error{};      // e: the sender's memory (unused at the receiver)
    Vector corrected{};  // w + e
    template <class Io>
    void state(Io& io) {
      io(error);
      io(corrected);
    }
  };

  ErrorFeedback() : ErrorFeedback(Params{}) {}
  explicit ErrorFeedback(const Params& params) : compressor_(params) {}

  const C& compressor() const { return compressor_; }

  State make_state(Index p) const { return State{Vector::Zero(p), Vector::Zero(p)}; }

  Bits send(State& s, const Vector& w, Vector& out, RandomStream& rng) const {
    s.corrected.noalias() = w + s.error;
    Bits bits = compressor_.compress(s.corrected, out, rng);
    bits.paper = paper_bits(compressor_, w.size(), bits);
    s.error.noalias() = s.corrected - out;
    return bits;
  }

  Message encode(State& sender, const Vector& w, RandomStream& rng) const {
    sender.corrected.noalias() = w + sender.error;
    Message message = compressor_.encode(sender.corrected, rng);
    message.bits.paper = paper_bits(compressor_, w.size(), message.bits);
    compressor_.decode(message, sender.error);  // c_t, for a moment
    sender.error = sender.corrected - sender.error;
    return message;
  }

  void decode(State& /*receiver*/, const Message& message, Vector& out) const {
    compressor_.decode(message, out);
  }

  std::string describe() const { return fmt::format("error_feedback({})", compressor_.describe()); }

 private:
  C compressor_;
};

}  // namespace laconic::compress
