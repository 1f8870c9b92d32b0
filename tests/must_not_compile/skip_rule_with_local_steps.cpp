// Skip rules decide on gradients; periodic averaging uploads model changes after local steps.

#include <laconic/laconic.hpp>

using namespace laconic;

#ifdef LACONIC_MISUSE
using Rule = skip::LasgWk2;
#else
using Rule = skip::Never;
#endif

using Averaging = Method<Rule, compress::Identity, server::PeriodicAverage>;

int main() {
  return sizeof(sim::Simulation<Averaging, objective::Logistic>) > 0 ? 0 : 1;
}
