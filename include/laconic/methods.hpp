#pragma once

// The named methods of the papers, as compositions of policies (see docs/).

#include <laconic/compress/identity.hpp>
#include <laconic/server/sgd.hpp>
#include <laconic/sim/method.hpp>
#include <laconic/skip/never.hpp>

namespace laconic {

// Distributed (stochastic) gradient descent: every worker uploads its full-precision
// gradient every round. Gd and Sgd are one composition; the batch in server::Sgd::Params
// (full by default) makes the difference.
using Sgd = Method<skip::Never, compress::Identity, server::Sgd>;
using Gd = Sgd;

}  // namespace laconic
