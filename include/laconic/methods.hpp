#pragma once

// The named methods of the papers, as compositions of policies (see docs/).

#include <laconic/compress/error_feedback.hpp>
#include <laconic/compress/identity.hpp>
#include <laconic/compress/markov.hpp>
#include <laconic/compress/qsgd.hpp>
#include <laconic/compress/rand_k.hpp>
#include <laconic/compress/scaled_sign.hpp>
#include <laconic/compress/top_k.hpp>
#include <laconic/compress/uniform.hpp>
#include <laconic/server/amsgrad.hpp>
#include <laconic/server/periodic_average.hpp>
#include <laconic/server/sgd.hpp>
#include <laconic/sim/method.hpp>
#include <laconic/skip/lag.hpp>
#include <laconic/skip/laq.hpp>
#include <laconic/skip/lasg.hpp>
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

// EF-SGD (Karimireddy et al. 2019, Algorithm 2, distributed): each worker compresses its
// scaled step with error feedback, Δ_m = C(γ_k g_m + e_m), and the server applies the mean Δ.
// Here: the workers' model change −γ_k g_m after one local step, through ErrorFeedback, which
// is that update for every step schedule (error_feedback.hpp says why).
template <class C>
using EfSgd = Method<skip::Never, compress::ErrorFeedback<C>, server::PeriodicAverage>;

// QSGD (Alistarh et al. 2017); set .uplink.levels (LASG's "4-bit" is s = 7).
using Qsgd = CompressedSgd<compress::Qsgd>;

// LAG (Chen, Giannakis, Sun, Yin 2018): full-precision gradients uploaded lazily, decided by
// the worker (WK) or by the server from L_m (PS). With a minibatch, LagWk is LASG's
// "stochastic LAG-WK".
using LagWk = Method<skip::LagWk, compress::Identity, server::Sgd>;
using LagPs = Method<skip::LagPs, compress::Identity, server::Sgd>;

// LAQ (Sun, Chen, Giannakis, Yang 2019): the innovation against the last uploaded quantized
// gradient on LAQ's b-bit grid, uploaded lazily by criterion (7a)/(7b).
using Laq = Method<skip::Laq, compress::Markov<compress::Uniform>, server::Sgd>;
// LAQ's "QGD" baseline: the same quantized innovation, uploaded every round.
using Qgd = Method<skip::Never, compress::Markov<compress::Uniform>, server::Sgd>;

// LASG (Chen, Sun, Yin 2021): lazily aggregated stochastic gradients.
using LasgWk1 = Method<skip::LasgWk1, compress::Identity, server::Sgd>;
using LasgWk2 = Method<skip::LasgWk2, compress::Identity, server::Sgd>;
using LasgPs = Method<skip::LasgPs, compress::Identity, server::Sgd>;
using LasgPse = Method<skip::LasgPse, compress::Identity, server::Sgd>;
// LAQSG (LASG §II-C): a LASG rule decides on the exact gradients; what is uploaded is the
// QSGD-quantized fresh gradient (b bits: s = 2^{b−1} − 1).
template <class Rule>
using Laqsg = Method<Rule, compress::Qsgd, server::Sgd>;

// Local SGD / FedAvg: participants take τ local SGD steps and the server averages their exact
// model changes; set .server.local_steps and .server.participation.
using LocalSgd = Method<skip::Never, compress::Identity, server::PeriodicAverage>;
using FedAvg = LocalSgd;
// FedPAQ (Reisizadeh et al. 2020): r of n workers, τ local steps, QSGD-quantized model changes
// (set .uplink.levels: the paper's s).
using FedPaq = Method<skip::Never, compress::Qsgd, server::PeriodicAverage>;

// Distributed AMSGrad: the workers hold the model, the server broadcasts the mean gradient.
using Amsgrad = Method<skip::Never, compress::Identity, server::Amsgrad>;
// CD-Adam (Wang, Lin, Chen 2022): Markov compression both ways, scaled sign by default.
template <class C = compress::ScaledSign>
using CdAdam = Method<skip::Never, compress::Markov<C>, server::Amsgrad, compress::Markov<C>>;
// CD-Adam's baselines (its Fig. 2): error feedback both ways, and direct compression.
template <class C = compress::ScaledSign>
using AmsgradEf =
    Method<skip::Never, compress::ErrorFeedback<C>, server::Amsgrad, compress::ErrorFeedback<C>>;
template <class C = compress::ScaledSign>
using AmsgradNaive = Method<skip::Never, C, server::Amsgrad, C>;

}  // namespace laconic
