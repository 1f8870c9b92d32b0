#pragma once

// The contracts between the parts of laconic, as C++20 concepts. docs/ explains each.

#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <concepts>
#include <numeric>
#include <span>
#include <vector>

namespace laconic {

// What a worker can compute on its own data. `gradient` writes the mean gradient over the
// batch (indices into the worker's samples, 0..size()-1) into g and returns the mean loss.
// One instance is only ever used by one thread at a time, so it may keep mutable scratch.
template <class O>
concept Objective = requires(O& o, const O& co, const Vector& x, std::span<const Index> batch,
                             Vector& g) {
  { co.dim() } -> std::convertible_to<Index>;
  { co.size() } -> std::convertible_to<Index>;
  { o.gradient(x, batch, g) } -> std::convertible_to<double>;
};

// Optional: a faster gradient over all of the worker's samples (same value as gradient()
// with the batch 0..size()-1; for an objective with randomness, below, the value without it,
// e.g. without dropout).
template <class O>
concept HasFullGradient = Objective<O> && requires(O& o, const Vector& x, Vector& g) {
  { o.full_gradient(x, g) } -> std::convertible_to<double>;
};

// The batch 0..n−1 in order, kept in `indices` (built again only when n changes): what a
// full gradient passes to gradient() where it has none of its own.
inline std::span<const Index> full_batch(Index n, std::vector<Index>& indices) {
  if (static_cast<Index>(indices.size()) != n) {
    indices.resize(static_cast<std::size_t>(n));
    std::iota(indices.begin(), indices.end(), Index{0});
  }
  return indices;
}

// Optional: gradient() without computing the loss, for training steps that never read it
// (same g).
template <class O>
concept HasGradientOnly = Objective<O> &&
    requires(O& o, const Vector& x, std::span<const Index> batch, Vector& g) {
  o.gradient_only(x, batch, g);
};

// Optional: full_gradient() without computing the loss (same g).
template <class O>
concept HasFullGradientOnly = HasFullGradient<O> && requires(O& o, const Vector& x, Vector& g) {
  o.full_gradient_only(x, g);
};

// Optional: the smoothness constant L_m of the worker's loss.
template <class O>
concept HasSmoothness = Objective<O> && requires(const O& o) {
  { o.smoothness() } -> std::convertible_to<double>;
};

// Optional: classification accuracy of a model on the worker's samples.
template <class O>
concept HasAccuracy = Objective<O> && requires(const O& o, const Vector& x) {
  { o.accuracy(x) } -> std::convertible_to<double>;
};

// Optional: an objective whose gradient() draws random numbers (dropout) draws them from
// `stream`, which the round engine gives it before each minibatch (sim::objective_stream):
// until the next draw_from(), every gradient() draws the same numbers, so a skip rule's second
// gradient on the same minibatch sees the same dropout masks. Runs then repeat on any number
// of threads and from a checkpoint, which needs nothing more for it.
template <class O>
concept HasRandomness = Objective<O> && requires(O& o, const RandomStream& stream) {
  o.draw_from(stream);
};

}  // namespace laconic
