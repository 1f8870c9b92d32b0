#pragma once

// A link's channel chosen at run time: any channel (or compressor, made a channel) behind one
// type, so that one instantiation of the round engine serves every choice. It meets the
// Channel contract (compress/channel.hpp) by forwarding each call to the chosen channel, so a
// run through it is the run of the chosen type bit for bit — messages, bits, states and
// checkpoints alike; what it adds is one virtual call per message.
//
//   runtime::Channel::Params up = runtime::channel<compress::Markov<compress::TopK>>({.compressor =
//   {.k = 3}}); Method<skip::Never, runtime::Channel, server::Sgd> ef21{.uplink = up};

#include <laconic/compress/channel.hpp>
#include <laconic/compress/identity.hpp>
#include <laconic/core/archive.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace laconic::runtime {

class Channel {
 public:
  // One end's state of the chosen channel, as the chosen channel keeps it.
  struct StateBase {
    virtual ~StateBase() = default;
    virtual std::unique_ptr<StateBase> clone() const = 0;
    virtual void assign(const StateBase& other) = 0;  // of the same channel: reuses storage
    virtual void write(ArchiveWriter& io) = 0;
    virtual void read(ArchiveReader& io) = 0;
    virtual void shape(ArchiveShape& io) = 0;
  };

  // An end's state: the chosen channel's, copied and archived as that one is.
  class State {
   public:
    State() = default;
    explicit State(std::unique_ptr<StateBase> s) : s_(std::move(s)) {}
    State(const State& o) : s_(o.s_ ? o.s_->clone() : nullptr) {}
    State(State&&) noexcept = default;
    State& operator=(const State& o) {
      if (this == &o) return *this;
      if (s_ && o.s_) {
        s_->assign(*o.s_);
      } else {
        s_ = o.s_ ? o.s_->clone() : nullptr;
      }
      return *this;
    }
    State& operator=(State&&) noexcept = default;

    template <class Io>
    void state(Io& io) {
      if (!s_) return;  // a stateless channel
      if constexpr (std::is_same_v<Io, ArchiveWriter>) s_->write(io);
      if constexpr (std::is_same_v<Io, ArchiveReader>) s_->read(io);
      if constexpr (std::is_same_v<Io, ArchiveShape>) s_->shape(io);
    }

   private:
    template <class L>
    friend class ModelOf;
    std::unique_ptr<StateBase> s_;
  };

  // What a run does with the chosen channel.
  class Model {
   public:
    virtual ~Model() = default;
    virtual State make_state(Index p) const = 0;
    virtual Bits send(State& s, const Vector& w, Vector& out, RandomStream& rng) const = 0;
    virtual Message encode(State& s, const Vector& w, RandomStream& rng) const = 0;
    virtual void decode(State& s, const Message& m, Vector& out, RandomStream& rng) const = 0;
    virtual std::string describe() const = 0;
    virtual std::optional<Bits> verbatim(Index p) const = 0;
    virtual bool keeps_state() const = 0;  // a stateful channel: every receiver must hear it
    virtual void require_dimension(Index p) const = 0;
  };

  // Builds the chosen channel for a link's wire (runtime::channel<L>() below); empty: the
  // exact link, compress::Identity.
  struct Params {
    std::function<std::shared_ptr<const Model>(const compress::Wire&)> make{};
  };

  Channel() : Channel(Params{}) {}
  explicit Channel(const Params& params, const compress::Wire& wire = {});

  State make_state(Index p) const { return model_->make_state(p); }
  Bits send(State& s, const Vector& w, Vector& out, RandomStream& rng) const {
    return model_->send(s, w, out, rng);
  }
  Message encode(State& s, const Vector& w, RandomStream& rng) const {
    return model_->encode(s, w, rng);
  }
  void decode(State& s, const Message& m, Vector& out, RandomStream& rng) const {
    model_->decode(s, m, out, rng);
  }
  std::string describe() const { return model_->describe(); }
  std::optional<Bits> verbatim(Index p) const { return model_->verbatim(p); }
  bool keeps_state() const { return model_->keeps_state(); }
  void require_dimension(Index p) const { model_->require_dimension(p); }

  // The concrete state of s, a state of channel L (for tests and tools).
  template <class L>
  static typename L::State& as(State& s);

 private:
  std::shared_ptr<const Model> model_;
};

// Channel L behind runtime::Channel.
template <class L>
class ModelOf final : public Channel::Model {
  using Concrete = typename L::State;
  struct StateOf final : Channel::StateBase {
    explicit StateOf(Concrete s) : state(std::move(s)) {}
    std::unique_ptr<Channel::StateBase> clone() const override {
      return std::make_unique<StateOf>(state);
    }
    void assign(const Channel::StateBase& other) override {
      state = static_cast<const StateOf&>(other).state;
    }
    void write(ArchiveWriter& io) override { state.state(io); }
    void read(ArchiveReader& io) override { state.state(io); }
    void shape(ArchiveShape& io) override { state.state(io); }
    Concrete state;
  };
  static constexpr bool stateless = std::is_empty_v<Concrete>;

  // The concrete state inside s (a stateless channel keeps none: any will do).
  static Concrete& of(Channel::State& s) {
    if constexpr (stateless) {
      static_cast<void>(s);
      static Concrete none{};
      return none;
    } else {
      return static_cast<StateOf&>(*s.s_).state;
    }
  }

 public:
  ModelOf(const typename L::Params& params, const compress::Wire& wire) : link_(params, wire) {}

  Channel::State make_state(Index p) const override {
    if constexpr (stateless) {
      static_cast<void>(p);
      return {};
    } else {
      return Channel::State(std::make_unique<StateOf>(link_.make_state(p)));
    }
  }
  Bits send(Channel::State& s, const Vector& w, Vector& out, RandomStream& rng) const override {
    return link_.send(of(s), w, out, rng);
  }
  Message encode(Channel::State& s, const Vector& w, RandomStream& rng) const override {
    return link_.encode(of(s), w, rng);
  }
  void decode(Channel::State& s, const Message& m, Vector& out, RandomStream& rng) const override {
    link_.decode(of(s), m, out, rng);
  }
  std::string describe() const override { return link_.describe(); }
  std::optional<Bits> verbatim(Index p) const override { return compress::verbatim(link_, p); }
  bool keeps_state() const override { return !stateless; }
  void require_dimension(Index p) const override { compress::require_dimension(link_, p); }

  static typename L::State& state_of(Channel::State& s) { return of(s); }

 private:
  L link_;
};

// The Params that choose L (a channel, or a compressor made one) with its parameters.
template <class C>
Channel::Params channel(const typename C::Params& params = {}) {
  using L = compress::channel_t<C>;
  return {.make = [params](const compress::Wire& wire) -> std::shared_ptr<const Channel::Model> {
    return std::make_shared<const ModelOf<L>>(params, wire);
  }};
}

inline Channel::Channel(const Params& params, const compress::Wire& wire)
    : model_(params.make ? params.make(wire) : channel<compress::Identity>().make(wire)) {}

template <class L>
typename L::State& Channel::as(State& s) {
  return ModelOf<compress::channel_t<L>>::state_of(s);
}

static_assert(compress::Channel<Channel>);

}  // namespace laconic::runtime
