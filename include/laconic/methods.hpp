#pragma once

// The named methods of the papers, as compositions of policies (see docs/).

#include <laconic/compress/error_feedback.hpp>
#include <laconic/compress/identity.hpp>
#include <laconic/compress/markov.hpp>
#include <laconic/server/sgd.hpp>
#include <laconic/sim/method.hpp>
#include <laconic/skip/never.hpp>

namespace laconic {

// Distributed (stochastic) gradient descent: every worker uploads its full-precision
// gradient every round. Gd and Sgd are one composition; the batch in server::Sgd::Params
// (full by default) makes the difference.
using Sgd = Method<skip::Never, compress::Identity, server::Sgd>;
using Gd = Sgd;

// SGD whose workers upload C(∇f_m) each round, e.g. CompressedSgd<compress::Qsgd> (QSGD).
template <class C>
using CompressedSgd = Method<skip::Never, C, server::Sgd>;

// EF21 (Richtárik, Sokolov, Fatkhullin 2021): workers send C(∇f_m(θ^k) − g_m^{k−1}) and the
// server steps along the mean of the g_m. Set .uplink.start = Start::exact for the paper's
// uncompressed g_m^0 = ∇f_m(θ^0).
template <class C>
using Ef21 = Method<skip::Never, compress::Markov<C>, server::Sgd>;

// Distributed SGD with classic error feedback on each worker's uplink.
template <class C>
using EfSgd = Method<skip::Never, compress::ErrorFeedback<C>, server::Sgd>;

}  // namespace laconic
