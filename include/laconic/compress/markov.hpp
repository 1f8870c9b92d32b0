#pragma once

// The Markov compression sequence (EF21, Richtárik et al. 2021; CD-Adam, Wang et al. 2022 §5;
// LAQ's quantized innovation with C = Uniform): both ends keep an estimate ŵ of the sender's
// vector, and each message is the compressed innovation
//
//   c_t = C(w_t − ŵ_{t−1}),   ŵ_t = ŵ_{t−1} + c_t,
//
// so the receiver tracks w_t with an error that contracts whenever w_t settles. Start::zero
// begins from ŵ_{−1} = 0, which makes the first message C(w_0): CD-Adam's ŵ_0 = C(w_0).
// Start::exact sends w_0 itself as floats of the link's width (counted), EF21's
// g_i^0 = ∇f_i(x^0).

#include <laconic/compress/channel.hpp>
#include <laconic/compress/identity.hpp>
#include <laconic/core/errors.hpp>

#include <string>

namespace laconic::compress {

template <Compressor C>
class Markov {
 public:
  enum class Start { zero, exact };
  struct Params {
    typename C::Params compressor{};
    Start start = Start::zero;
    template <class V>
    void fields(V&& v) {
      v("compressor", compressor);
      v("start", start, {"zero", "exact"});
    }
  };
  struct State {
    Vector estimate{};    // ŵ
    Vector innovation{};  // w − ŵ, then its compression as decoded
    bool started = false;
    template <class Io>
    void state(Io& io) {
      io(estimate);
      io(innovation);
      io(started);
    }
  };

  Markov() : Markov(Params{}) {}
  explicit Markov(const Params& params, const Wire& wire = {})
      : params_(validated(params)), compressor_(params.compressor, wire), first_({}, wire) {}

  const Params& params() const { return params_; }
  const C& compressor() const { return compressor_; }

  State make_state(Index p) const { return State{Vector::Zero(p), Vector::Zero(p), false}; }

  // w and out must be distinct vectors.
  Bits send(State& s, const Vector& w, Vector& out, RandomStream& rng) const {
    Bits bits;
    if (sends_exact(s)) {
      bits = first_.compress(w, s.estimate, rng);
      bits.paper = paper_bits(first_, w.size(), bits);
    } else {
      out.noalias() = w - s.estimate;  // out holds the innovation until the end
      bits = compressor_.compress(out, s.innovation, rng);
      bits.paper = paper_bits(compressor_, w.size(), bits);
      s.estimate += s.innovation;
    }
    s.started = true;
    out = s.estimate;
    return bits;
  }

  Message encode(State& sender, const Vector& w, RandomStream& rng) const {
    Message message;
    if (sends_exact(sender)) {
      message = first_.encode(w, rng);
      message.bits.paper = paper_bits(first_, w.size(), message.bits);
      first_.decode(message, sender.estimate);
    } else {
      sender.innovation.noalias() = w - sender.estimate;
      RandomStream receivers = rng;  // the stream as the receiver will have it
      message = compressor_.encode(sender.innovation, rng);
      message.bits.paper = paper_bits(compressor_, w.size(), message.bits);
      compress::decode(compressor_, message, sender.innovation, receivers);
      sender.estimate += sender.innovation;
    }
    sender.started = true;
    return message;
  }

  void decode(State& receiver, const Message& message, Vector& out, RandomStream& rng) const {
    if (sends_exact(receiver)) {
      first_.decode(message, receiver.estimate);
    } else {
      compress::decode(compressor_, message, receiver.innovation, rng);
      // Finite innovations can still sum past the floats: such a message is refused, and the
      // estimate is left as it was (fuzz_message found one for Markov<Uniform>).
      if (!all_finite(receiver.estimate + receiver.innovation)) {
        throw DecodeError("markov: the message takes the estimate beyond the floats");
      }
      receiver.estimate += receiver.innovation;
    }
    receiver.started = true;
    out = receiver.estimate;
  }

  std::string describe() const {
    return fmt::format("markov({}, start={})", compressor_.describe(),
                       params_.start == Start::zero ? "zero" : "exact");
  }

 private:
  bool sends_exact(const State& s) const { return params_.start == Start::exact && !s.started; }

  static const Params& validated(const Params& params) {
    const int start = static_cast<int>(params.start);
    require_param(start == 0 || start == 1, "markov.start", start, "zero or exact");
    return params;
  }

  Params params_;
  C compressor_;
  Identity first_;
};

}  // namespace laconic::compress
