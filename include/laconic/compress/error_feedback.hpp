#pragma once

// Classic error feedback (Seide et al. 2014; Karimireddy et al. 2019): the sender keeps what
// compression left out and adds it to the next vector,
//
//   c_t = C(w_t + e_{t−1}),   e_t = w_t + e_{t−1} − c_t,   e_{−1} = 0,
//
// and the receiver uses c_t as it is. Only the sender has state. Karimireddy et al.'s EF-SGD
// (Algorithm 2) compresses the scaled step, p_t = γ_t g_t + e_t: that is this channel on the
// workers' model changes −γ_t g_t (server::PeriodicAverage with one local step, laconic::EfSgd),
// the same trajectory for every step schedule. On gradients (server::Sgd, Seide et al.'s 1-bit
// SGD, CD-Adam's EF baseline) the error is kept in gradient units instead, which differs from
// EF-SGD once the step changes.

#include <laconic/compress/channel.hpp>

#include <string>

namespace laconic::compress {

template <Compressor C>
class ErrorFeedback {
 public:
  struct Params {
    typename C::Params compressor{};
    template <class V>
    void fields(V&& v) {
      v("compressor", compressor);
    }
  };
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
  explicit ErrorFeedback(const Params& params, const Wire& wire = {})
      : compressor_(params.compressor, wire) {}

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
    RandomStream receivers = rng;  // the stream as the receiver will have it
    Message message = compressor_.encode(sender.corrected, rng);
    message.bits.paper = paper_bits(compressor_, w.size(), message.bits);
    compress::decode(compressor_, message, sender.error, receivers);  // c_t, for a moment
    sender.error = sender.corrected - sender.error;
    return message;
  }

  void decode(State& /*receiver*/, const Message& message, Vector& out, RandomStream& rng) const {
    compress::decode(compressor_, message, out, rng);
  }

  std::string describe() const { return fmt::format("error_feedback({})", compressor_.describe()); }

 private:
  C compressor_;
};

}  // namespace laconic::compress
