// The named methods' simulations on objective::Softmax, compiled once for every program that
// links laconic_precompiled (include/laconic/precompiled.hpp).
#include <laconic/precompiled.hpp>

#define LACONIC_INSTANTIATE_SIMULATION(M, Obj) template class ::laconic::sim::Simulation<M, Obj>;
LACONIC_PRECOMPILED_METHODS(LACONIC_INSTANTIATE_SIMULATION, ::laconic::objective::Softmax)
