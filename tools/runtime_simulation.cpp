// runtime::Simulation<>'s seven compositions, compiled once for the programs that share them:
// laconic-run and the Python module (both define LACONIC_RUNTIME_SIMULATION_EXTERN).
#include <laconic/runtime/simulation.hpp>

template class laconic::runtime::Simulation<laconic::runtime::Objective>;
