#pragma once

// The named methods' simulations on the three objectives laconic ships, compiled once.
//
// sim::Simulation<M, Obj> is the largest code a program that trains compiles. The library
// laconic_precompiled (src/precompiled_*.cpp; CMake option LACONIC_PRECOMPILED, on by default)
// compiles it for every pair below, and the objectives' max_eigenvalue_gram, once; the target
// laconic::laconic links it and defines LACONIC_PRECOMPILED, under which this header declares
// those instantiations extern. A file that trains with, say, LasgWk2 on objective::Logistic
// then compiles the call, not the round engine; any other composition or objective is compiled
// where it is used, as without the library. laconic.hpp includes this header;
// docs/getting-started.md#compile-time says more.

#include <laconic/methods.hpp>
#include <laconic/objective/least_squares.hpp>
#include <laconic/objective/logistic.hpp>
#include <laconic/objective/softmax.hpp>
#include <laconic/sim/simulation.hpp>

// X(M, Obj) for each named method of methods.hpp (each alias once: Gd is Sgd and FedAvg is
// LocalSgd; the methods that take a compressor at their paper's default, EF21 with top-k).
// clang-format off
#define LACONIC_PRECOMPILED_METHODS(X, Obj) \
  X(::laconic::Sgd, Obj) \
  X(::laconic::Qsgd, Obj) \
  X(::laconic::LagWk, Obj) \
  X(::laconic::LagPs, Obj) \
  X(::laconic::Laq, Obj) \
  X(::laconic::Qgd, Obj) \
  X(::laconic::LasgWk1, Obj) \
  X(::laconic::LasgWk2, Obj) \
  X(::laconic::LasgPs, Obj) \
  X(::laconic::LasgPse, Obj) \
  X(::laconic::LocalSgd, Obj) \
  X(::laconic::FedPaq, Obj) \
  X(::laconic::Amsgrad, Obj) \
  X(::laconic::CdAdam<>, Obj) \
  X(::laconic::AmsgradEf<>, Obj) \
  X(::laconic::AmsgradNaive<>, Obj) \
  X(::laconic::Ef21<::laconic::compress::TopK>, Obj)
// clang-format on

// Every pair: X(M, Obj).
#define LACONIC_PRECOMPILED_SIMULATIONS(X)                           \
  LACONIC_PRECOMPILED_METHODS(X, ::laconic::objective::Logistic)     \
  LACONIC_PRECOMPILED_METHODS(X, ::laconic::objective::LeastSquares) \
  LACONIC_PRECOMPILED_METHODS(X, ::laconic::objective::Softmax)

#ifdef LACONIC_PRECOMPILED
#define LACONIC_EXTERN_SIMULATION(M, Obj) extern template class ::laconic::sim::Simulation<M, Obj>;
LACONIC_PRECOMPILED_SIMULATIONS(LACONIC_EXTERN_SIMULATION)
#undef LACONIC_EXTERN_SIMULATION
// Every shipped objective's smoothness, which any composition on it computes: dense and sparse
// Gram products and an eigenvalue solver (src/precompiled_objective.cpp).
extern template double ::laconic::objective::max_eigenvalue_gram<>(
    const ::laconic::data::Shard&, ::laconic::objective::PowerIteration);
#endif
