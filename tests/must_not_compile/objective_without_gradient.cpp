// An objective must offer double gradient(x, batch, g) (core/concepts.hpp); one that only
// evaluates the loss is refused where the simulation is named, and the compiler says which
// expression is missing.

#include <laconic/laconic.hpp>

#include <span>

using namespace laconic;

struct OnlyLoss {
  Index dim() const { return 2; }
  Index size() const { return 1; }
  double loss(const Vector& x) const { return 0.5 * x.squaredNorm(); }
#ifndef LACONIC_MISUSE
  double gradient(const Vector& x, std::span<const Index> /*batch*/, Vector& g) const {
    g = x;
    return loss(x);
  }
#endif
};

int main() {
  return sizeof(sim::Simulation<Sgd, OnlyLoss>) > 0 ? 0 : 1;
}
