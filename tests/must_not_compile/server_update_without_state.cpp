// A server update must offer state(io) for checkpoints (server/server_update.hpp,
// ServerUpdate); one that lacks it is refused where the method is run, and the compiler says
// which expression is missing.

#include <laconic/laconic.hpp>

#include <string>

using namespace laconic;

// Gradient descent with a step halved every round after the tenth.
class Halving {
 public:
  struct Params {
    server::StepSize step{};
    server::Batch batch{};
    server::Participation participation{};
  };
  static constexpr server::Shape shape = server::Shape::gradient;

  Halving() : Halving(Params{}) {}
  explicit Halving(const Params& params) : params_(params) {}
  const Params& params() const { return params_; }
  void update(Index k, const Vector& mean, Vector& theta) {
    theta -= params_.step.at(k) * (k > 10 ? 0.5 : 1.0) * mean;
  }
#ifndef LACONIC_MISUSE
  template <class Io>
  void state(Io&) {}
#endif
  std::string describe() const { return "halving"; }

 private:
  Params params_;
};

int main() {
  using Halved = Method<skip::Never, compress::Identity, Halving>;
  return sizeof(sim::Simulation<Halved, objective::Logistic>) > 0 ? 0 : 1;
}
