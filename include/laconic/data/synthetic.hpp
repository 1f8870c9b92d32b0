#pragma once

// Synthetic problems with a known true model, so every example runs without data files.
//
// All randomness comes from RandomStream(seed, Purpose::synthetic, round, worker): the true
// model from (round 0, worker 0), and row i (features, then label) from (round i, worker 1).
// Row i is therefore the same whatever the number of samples and whatever order rows are
// generated in. Features are dense, a_i ~ N(0, I).

#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>

namespace laconic::data {

// A generated dataset and the model it was generated from.
struct Synthetic {
  std::shared_ptr<const Dataset> data{};
  Vector truth{};
};

struct LogisticParams {
  Index samples = 1000;
  Index features = 20;
  double noise = 0;  // probability of flipping each label after it is drawn, in [0, 1]
  std::uint64_t seed = 0;
};

struct MulticlassParams {
  Index samples = 1000;
  Index features = 20;
  Index classes = 3;
  std::uint64_t seed = 0;
};

struct LeastSquaresParams {
  Index samples = 1000;
  Index features = 20;
  double noise = 0.1;  // standard deviation of the additive Gaussian noise
  std::uint64_t seed = 0;
};

namespace detail {

// The standard deviation of a_i^T truth for the classification generators: large enough that
// labels are mostly predictable, small enough that they are not separable.
inline constexpr double synthetic_margin = 3.0;

inline void validate_shape(Index samples, Index features) {
  require_param(samples >= 1, "samples", samples, ">= 1");
  require_param(features >= 1, "features", features, ">= 1");
}

// `size` entries scale * z_j / sqrt(dim), z_j ~ N(0, 1), from the stream (round 0, worker 0).
inline Vector synthetic_truth(std::uint64_t seed, Index size, Index dim, double scale) {
  RandomStream stream(seed, Purpose::synthetic, 0, 0);
  Vector truth(size);
  const double factor = scale / std::sqrt(static_cast<double>(dim));
  for (Index j = 0; j < size; ++j) truth[j] = factor * stream.normal();
  return truth;
}

inline RandomStream synthetic_row(std::uint64_t seed, Index row) {
  return RandomStream(seed, Purpose::synthetic, static_cast<std::uint64_t>(row), 1);
}

}  // namespace detail

// Binary logistic regression. truth ~ N(0, (9 / features) I). Row i: a_i ~ N(0, I), then
// u ~ U[0, 1) and b_i = +1 if u < sigmoid(a_i^T truth), else -1; then, with v ~ U[0, 1),
// b_i is flipped if v < noise.
inline Synthetic make_logistic(LogisticParams params) {
  detail::validate_shape(params.samples, params.features);
  require_param(params.noise >= 0 && params.noise <= 1, "noise", params.noise,
                "a flip probability in [0, 1]");
  const Index n = params.samples, d = params.features;
  Vector truth = detail::synthetic_truth(params.seed, d, d, detail::synthetic_margin);
  DenseMatrix features(n, d);
  Vector labels(n);
  for (Index i = 0; i < n; ++i) {
    RandomStream stream = detail::synthetic_row(params.seed, i);
    for (Index j = 0; j < d; ++j) features(i, j) = stream.normal();
    const double margin = features.row(i).dot(truth);
    const double probability = 1 / (1 + std::exp(-margin));
    double label = stream.uniform() < probability ? 1.0 : -1.0;
    if (stream.uniform() < params.noise) label = -label;
    labels[i] = label;
  }
  return {std::make_shared<const Dataset>(std::move(features), std::move(labels), Task::binary),
          std::move(truth)};
}
inline Synthetic make_logistic() {
  return make_logistic(LogisticParams{});
}

// Multinomial logistic regression with C classes. truth is C x F, stored row-major in a
// vector of C * F entries (class c's weights are truth.segment(c * F, F)), each entry
// ~ N(0, 9 / F). Row i: a_i ~ N(0, I), then u ~ U[0, 1) picks the class c_i from
// softmax(W a_i) by inverting its cumulative distribution.
inline Synthetic make_multiclass_logistic(MulticlassParams params) {
  detail::validate_shape(params.samples, params.features);
  require_param(params.classes >= 2 && params.classes <= std::numeric_limits<int>::max(), "classes",
                params.classes, "in 2..2147483647");
  const Index n = params.samples, d = params.features, c = params.classes;
  Vector truth = detail::synthetic_truth(params.seed, c * d, d, detail::synthetic_margin);
  const auto weights = Eigen::Map<const DenseMatrix>(truth.data(), c, d);
  DenseMatrix features(n, d);
  Vector labels(n);
  Vector scores(c);
  for (Index i = 0; i < n; ++i) {
    RandomStream stream = detail::synthetic_row(params.seed, i);
    for (Index j = 0; j < d; ++j) features(i, j) = stream.normal();
    scores.noalias() = weights * features.row(i).transpose();
    scores = (scores.array() - scores.maxCoeff()).exp();
    double remaining = stream.uniform() * scores.sum();
    Index label = c - 1;
    for (Index k = 0; k + 1 < c; ++k) {
      remaining -= scores[k];
      if (remaining < 0) {
        label = k;
        break;
      }
    }
    labels[i] = static_cast<double>(label);
  }
  return {std::make_shared<const Dataset>(std::move(features), std::move(labels), Task::multiclass,
                                          static_cast<int>(c)),
          std::move(truth)};
}
inline Synthetic make_multiclass_logistic() {
  return make_multiclass_logistic(MulticlassParams{});
}

// Least squares regression. truth ~ N(0, I / features), so a_i^T truth has variance about 1.
// Row i: a_i ~ N(0, I), then b_i = a_i^T truth + noise * e_i with e_i ~ N(0, 1).
inline Synthetic make_least_squares(LeastSquaresParams params) {
  detail::validate_shape(params.samples, params.features);
  require_param(std::isfinite(params.noise) && params.noise >= 0, "noise", params.noise,
                ">= 0 and finite");
  const Index n = params.samples, d = params.features;
  Vector truth = detail::synthetic_truth(params.seed, d, d, 1.0);
  DenseMatrix features(n, d);
  Vector labels(n);
  for (Index i = 0; i < n; ++i) {
    RandomStream stream = detail::synthetic_row(params.seed, i);
    for (Index j = 0; j < d; ++j) features(i, j) = stream.normal();
    labels[i] = features.row(i).dot(truth) + params.noise * stream.normal();
  }
  return {std::make_shared<const Dataset>(std::move(features), std::move(labels), Task::regression),
          std::move(truth)};
}
inline Synthetic make_least_squares() {
  return make_least_squares(LeastSquaresParams{});
}

}  // namespace laconic::data
