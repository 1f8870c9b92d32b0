// A server-side skip rule contacts only some workers, so a downlink whose two ends keep state
// (a Markov broadcast) would leave the others out of step.

#include <laconic/laconic.hpp>

using namespace laconic;

#ifdef LACONIC_MISUSE
using Downlink = compress::Markov<compress::TopK>;
#else
using Downlink = compress::TopK;
#endif

using Lazy = Method<skip::LasgPs, compress::Identity, server::Sgd, Downlink>;

int main() {
  return sizeof(sim::Simulation<Lazy, objective::Logistic>) > 0 ? 0 : 1;
}
