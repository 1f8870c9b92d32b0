// A worker-side skip rule must offer bool upload(m, probe) (skip/skip_rule.hpp, SkipRule); one
// that lacks it is refused where the method is run, and the compiler says which expression is
// missing.

#include <laconic/laconic.hpp>

#include <string>

using namespace laconic;

struct EveryOtherRound {
  struct Params {};
  static constexpr skip::Side side = skip::Side::worker;
  explicit EveryOtherRound(const Params& = {}) {}
  void start(const skip::Setup&) {}
  void begin_round(Index k, const Vector&) { odd_ = k % 2 == 1; }
  void end_round(double) {}
  template <class Io>
  void state(Io& io) {
    io(odd_);
  }
  template <class Io>
  void worker_state(Index, Io&) {}
  std::string describe() const { return "every_other_round"; }
#ifndef LACONIC_MISUSE
  bool upload(Index, skip::Probe&) const {
    return !odd_;
  }
#endif

 private:
  bool odd_ = false;
};

int main() {
  using Lazy = Method<EveryOtherRound, compress::Identity, server::Sgd>;
  return sizeof(sim::Simulation<Lazy, objective::Logistic>) > 0 ? 0 : 1;
}
