// What every shipped objective computes whatever the method: λ_max(AᵀA)/n, its smoothness,
// compiled once for every program that links laconic_precompiled
// (include/laconic/precompiled.hpp).
#include <laconic/precompiled.hpp>

template double ::laconic::objective::max_eigenvalue_gram<>(const ::laconic::data::Shard&,
                                                            ::laconic::objective::PowerIteration);
