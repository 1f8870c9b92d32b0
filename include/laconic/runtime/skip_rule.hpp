#pragma once

// A skip rule chosen at run time, one type per side (skip/skip_rule.hpp): WorkerRule for the
// rules that decide after a worker's gradient (LAG-WK, LAQ, LASG-WK1/WK2), ServerRule for those
// that decide before θ is sent (LAG-PS, LASG-PS/PSE). Each meets the SkipRule contract by
// forwarding every call to the chosen rule, so a run through it is the run of the chosen type
// bit for bit, checkpoints included; what it adds is one virtual call per worker and round.
//
//   runtime::WorkerRule::Params skip = runtime::rule<skip::LasgWk2>({.D = 50});
//   Method<runtime::WorkerRule, compress::Identity, server::Sgd> lazy{.skip = skip};

#include <laconic/core/archive.hpp>
#include <laconic/core/bits.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/types.hpp>
#include <laconic/skip/skip_rule.hpp>

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace laconic::runtime {

namespace detail {

// What every rule does, whatever its side; state() dispatches on the three kinds of Io.
class RuleModel {
 public:
  virtual ~RuleModel() = default;
  virtual void start(const skip::Setup& setup) = 0;
  virtual void begin_round(Index k, const Vector& theta) = 0;
  virtual void end_round(double step_sq) = 0;
  virtual void write(ArchiveWriter& io) = 0;
  virtual void read(ArchiveReader& io) = 0;
  virtual void shape(ArchiveShape& io) = 0;
  virtual std::string describe() const = 0;
};

class WorkerModel : public RuleModel {
 public:
  virtual bool upload(Index m, skip::Probe& p) = 0;
  virtual void write_worker(Index m, ArchiveWriter& io) = 0;
  virtual void read_worker(Index m, ArchiveReader& io) = 0;
};

class ServerModel : public RuleModel {
 public:
  virtual bool contact(Index m, const Vector& theta) const = 0;
  virtual Bits serve(Index m, skip::Probe& p) = 0;
  virtual double report(Index m) const = 0;
  virtual Bits receive(Index m, const Vector& theta, double report) = 0;
  virtual void pass(Index m) = 0;
};

// Rule R behind the model of its side: what every side forwards, ...
template <class R, class Base>
class RuleOf : public Base {
 public:
  explicit RuleOf(const typename R::Params& params) : rule_(params) {}

  void start(const skip::Setup& setup) override { rule_.start(setup); }
  void begin_round(Index k, const Vector& theta) override { rule_.begin_round(k, theta); }
  void end_round(double step_sq) override { rule_.end_round(step_sq); }
  void write(ArchiveWriter& io) override { rule_.state(io); }
  void read(ArchiveReader& io) override { rule_.state(io); }
  void shape(ArchiveShape& io) override { rule_.state(io); }
  std::string describe() const override { return rule_.describe(); }

 protected:
  R rule_;
};

// ... and what only a worker-side rule does,
template <class R>
class WorkerRuleOf final : public RuleOf<R, WorkerModel> {
 public:
  using RuleOf<R, WorkerModel>::RuleOf;
  bool upload(Index m, skip::Probe& p) override { return this->rule_.upload(m, p); }
  void write_worker(Index m, ArchiveWriter& io) override { this->rule_.worker_state(m, io); }
  void read_worker(Index m, ArchiveReader& io) override { this->rule_.worker_state(m, io); }
};

// or only a server-side rule.
template <class R>
class ServerRuleOf final : public RuleOf<R, ServerModel> {
 public:
  using RuleOf<R, ServerModel>::RuleOf;
  bool contact(Index m, const Vector& theta) const override {
    return this->rule_.contact(m, theta);
  }
  Bits serve(Index m, skip::Probe& p) override { return this->rule_.serve(m, p); }
  double report(Index m) const override { return this->rule_.report(m); }
  Bits receive(Index m, const Vector& theta, double report) override {
    return this->rule_.receive(m, theta, report);
  }
  void pass(Index m) override { this->rule_.pass(m); }
};

// The calls every rule of either side forwards, over a model of that side.
template <class Model>
class Rule {
 public:
  // Builds the chosen rule (runtime::rule<R>() below); a run needs one.
  struct Params {
    std::function<std::unique_ptr<Model>()> make{};
  };

  explicit Rule(const Params& params) : model_(params.make ? params.make() : nullptr) {
    require_param(model_ != nullptr, "skip", "none", "a chosen skip rule (runtime::rule<R>())");
  }

  void start(const skip::Setup& setup) { model_->start(setup); }
  void begin_round(Index k, const Vector& theta) { model_->begin_round(k, theta); }
  void end_round(double step_sq) { model_->end_round(step_sq); }
  template <class Io>
  void state(Io& io) {
    if constexpr (std::is_same_v<Io, ArchiveWriter>) model_->write(io);
    if constexpr (std::is_same_v<Io, ArchiveReader>) model_->read(io);
    if constexpr (std::is_same_v<Io, ArchiveShape>) model_->shape(io);
  }
  std::string describe() const { return model_->describe(); }

 protected:
  std::unique_ptr<Model> model_;
};

}  // namespace detail

// A worker-side rule chosen at run time.
class WorkerRule : public detail::Rule<detail::WorkerModel> {
 public:
  static constexpr skip::Side side = skip::Side::worker;
  using Rule::Rule;
  WorkerRule() : Rule(Params{}) {}

  bool upload(Index m, skip::Probe& p) { return model_->upload(m, p); }
  template <class Io>
  void worker_state(Index m, Io& io) {
    if constexpr (std::is_same_v<Io, ArchiveWriter>) model_->write_worker(m, io);
    if constexpr (std::is_same_v<Io, ArchiveReader>) model_->read_worker(m, io);
  }
};

// A server-side rule chosen at run time.
class ServerRule : public detail::Rule<detail::ServerModel> {
 public:
  static constexpr skip::Side side = skip::Side::server;
  using Rule::Rule;
  ServerRule() : Rule(Params{}) {}

  bool contact(Index m, const Vector& theta) const { return model_->contact(m, theta); }
  Bits serve(Index m, skip::Probe& p) { return model_->serve(m, p); }
  double report(Index m) const { return model_->report(m); }
  Bits receive(Index m, const Vector& theta, double report) {
    return model_->receive(m, theta, report);
  }
  void pass(Index m) { model_->pass(m); }
};

// The runtime rule type for rule R's side.
template <class R>
using rule_for = std::conditional_t<R::side == skip::Side::worker, WorkerRule, ServerRule>;

// The Params that choose rule R with its parameters, for the runtime rule of R's side.
template <class R>
typename rule_for<R>::Params rule(const typename R::Params& params = {}) {
  static_assert(R::side != skip::Side::none,
                "a rule that never skips is skip::Never; it needs no runtime choice");
  if constexpr (R::side == skip::Side::worker) {
    return {.make = [params]() -> std::unique_ptr<detail::WorkerModel> {
      return std::make_unique<detail::WorkerRuleOf<R>>(params);
    }};
  } else {
    return {.make = [params]() -> std::unique_ptr<detail::ServerModel> {
      return std::make_unique<detail::ServerRuleOf<R>>(params);
    }};
  }
}

static_assert(skip::SkipRule<WorkerRule>);
static_assert(skip::SkipRule<ServerRule>);

}  // namespace laconic::runtime
