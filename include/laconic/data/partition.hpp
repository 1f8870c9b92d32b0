#pragma once

// Splitting a dataset among workers. Every split returns one Shard per worker, each a block of
// consecutive rows of one shared dataset: the original for a contiguous split, a reordered
// copy for the others.

#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>
#include <laconic/data/dataset.hpp>
#include <laconic/data/io.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

namespace laconic::data {

enum class Split {
  // Worker m gets rows [m * (n / M), (m + 1) * (n / M)); the last worker also gets the
  // remainder n mod M (as the EF21 reference code splits data).
  contiguous,
  // The rows shuffled uniformly at random (seeded), then split contiguously.
  iid,
  // Non-iid: rows sorted by label (stably) and cut into workers * shards_per_worker pieces of
  // equal size (within one row); each worker gets shards_per_worker pieces chosen by a seeded
  // random permutation, so it sees few labels.
  label_skewed,
  // Non-iid by label proportions (Hsu, Qi & Brown 2019): for each class, the workers' shares of
  // its rows are drawn from Dirichlet(alpha, ..., alpha); small alpha gives each worker few
  // classes, large alpha approaches iid. Classification data only.
  dirichlet,
};

struct PartitionParams {
  Index workers = 1;
  Split split = Split::contiguous;
  std::uint64_t seed = 0;       // for iid and label_skewed
  Index shards_per_worker = 2;  // for label_skewed: label-sorted pieces per worker
  double alpha = 0.5;           // for dirichlet: the concentration, > 0 and finite
  Index min_samples = 1;        // for dirichlet: the fewest rows a worker may get, >= 1

  // Each parameter by name, for experiments chosen at run time (runtime/experiment.hpp).
  template <class V>
  void fields(V&& v) {
    v("workers", workers);
    v("split", split, {"contiguous", "iid", "label_skewed", "dirichlet"});
    v("seed", seed);
    v("shards_per_worker", shards_per_worker);
    v("alpha", alpha);
    v("min_samples", min_samples);
  }
};

// A new dataset whose row i is row rows[i] of `data` (a permutation reorders; indices may also
// repeat or leave rows out). Keeps the storage (CSR or dense), task and number of classes.
inline Dataset select_rows(const Dataset& data, std::span<const Index> rows) {
  const Index n = data.rows();
  const auto count = static_cast<Index>(rows.size());
  for (Index i = 0; i < count; ++i) {
    const Index r = rows[static_cast<std::size_t>(i)];
    require_param(r >= 0 && r < n, fmt::format("rows[{}]", i), r,
                  fmt::format("a row index in [0, {})", n));
  }
  Vector labels(count);
  for (Index i = 0; i < count; ++i) labels[i] = data.labels()[rows[static_cast<std::size_t>(i)]];

  if (!data.is_sparse()) {
    const DenseMatrix& source = data.dense();
    DenseMatrix features(count, source.cols());
    for (Index i = 0; i < count; ++i)
      features.row(i) = source.row(rows[static_cast<std::size_t>(i)]);
    return Dataset(std::move(features), std::move(labels), data.task(), data.num_classes());
  }

  SparseMatrix compressed;
  const SparseMatrix* source = &data.sparse();
  if (!source->isCompressed()) {
    compressed = *source;
    compressed.makeCompressed();
    source = &compressed;
  }
  const std::int32_t* outer = source->outerIndexPtr();
  std::int64_t nnz = 0;
  for (const Index r : rows) nnz += outer[r + 1] - outer[r];
  if (nnz > std::numeric_limits<std::int32_t>::max()) {
    throw std::length_error("select_rows: more than 2^31 - 1 non-zero values");
  }
  SparseMatrix features(count, source->cols());
  features.resizeNonZeros(static_cast<Index>(nnz));
  std::int32_t* new_outer = features.outerIndexPtr();
  std::int32_t k = 0;
  new_outer[0] = 0;
  for (Index i = 0; i < count; ++i) {
    const Index r = rows[static_cast<std::size_t>(i)];
    const std::int32_t begin = outer[r], length = outer[r + 1] - outer[r];
    std::copy_n(source->innerIndexPtr() + begin, length, features.innerIndexPtr() + k);
    std::copy_n(source->valuePtr() + begin, length, features.valuePtr() + k);
    k += length;
    new_outer[i + 1] = k;
  }
  return Dataset(std::move(features), std::move(labels), data.task(), data.num_classes());
}

namespace detail {

// A uniformly random permutation of 0..n-1 by Fisher–Yates, drawing from `stream`.
inline std::vector<Index> random_permutation(Index n, RandomStream& stream) {
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  for (Index i = n - 1; i > 0; --i) {
    const auto j = static_cast<Index>(stream.below(static_cast<std::uint64_t>(i) + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

inline std::vector<Shard> contiguous_shards(const std::shared_ptr<const Dataset>& data,
                                            Index workers) {
  const Index n = data->rows();
  const Index per_worker = n / workers;
  std::vector<Shard> shards;
  shards.reserve(static_cast<std::size_t>(workers));
  for (Index m = 0; m < workers; ++m) {
    shards.push_back(Shard{data, m * per_worker, m + 1 == workers ? n : (m + 1) * per_worker});
  }
  return shards;
}

// One shard per worker over a copy of `data` whose row i is row order[i]; worker m gets the
// positions [bounds[m], bounds[m + 1]).
inline std::vector<Shard> reordered_shards(const Dataset& data, std::span<const Index> order,
                                           std::span<const Index> bounds) {
  auto reordered = std::make_shared<const Dataset>(select_rows(data, order));
  std::vector<Shard> shards;
  shards.reserve(bounds.size() - 1);
  for (std::size_t m = 0; m + 1 < bounds.size(); ++m) {
    shards.push_back(Shard{reordered, bounds[m], bounds[m + 1]});
  }
  return shards;
}

// The logarithm of a Gamma(shape, 1) draw, shape > 0, by Marsaglia & Tsang (ACM TOMS 26(3),
// 2000); shape < 1 draws Gamma(shape + 1) and multiplies by U^(1/shape). The logarithm because
// that factor underflows to 0 for small shapes (at shape 0.001, in half the draws).
inline double log_gamma_variate(RandomStream& stream, double shape) {
  const bool boost = shape < 1;
  const double d = (boost ? shape + 1 : shape) - 1.0 / 3;
  const double c = 1 / std::sqrt(9 * d);
  double log_draw = 0;
  for (;;) {
    const double x = stream.normal();
    const double t = 1 + c * x;
    if (t <= 0) continue;
    const double v = t * t * t;
    const double u = stream.uniform_open();
    const double x2 = x * x;
    // The squeeze accepts most draws without the logarithms.
    if (u < 1 - 0.0331 * x2 * x2 || std::log(u) < 0.5 * x2 + d * (1 - v + std::log(v))) {
      log_draw = std::log(d * v);
      break;
    }
  }
  if (boost) log_draw += std::log(stream.uniform_open()) / shape;
  return log_draw;
}

// A Gamma(shape, 1) draw (see log_gamma_variate).
inline double gamma_variate(RandomStream& stream, double shape) {
  return std::exp(log_gamma_variate(stream, shape));
}

// A Dirichlet(alpha, ..., alpha) draw of k components: k Gamma(alpha, 1) draws over their sum,
// normalised from the logarithms so that no alpha makes every draw 0. (When alpha is so small
// that every logarithm overflows to -inf, the shares come out even.)
inline std::vector<double> dirichlet(RandomStream& stream, double alpha, Index k) {
  std::vector<double> shares(static_cast<std::size_t>(k));
  double top = -std::numeric_limits<double>::infinity();
  for (double& p : shares) {
    p = log_gamma_variate(stream, alpha);
    top = std::max(top, p);
  }
  double sum = 0;
  for (double& p : shares) {
    p = p == top ? 1.0 : std::exp(p - top);
    sum += p;
  }
  for (double& p : shares) p /= sum;
  return shares;
}

// Proportion draws the Dirichlet split tries before giving up on min_samples.
inline constexpr int dirichlet_attempts = 1000;

// The Dirichlet label-skew split (see Split::dirichlet and docs/data.md); parameters checked.
inline std::vector<Shard> dirichlet_shards(const Dataset& data, const PartitionParams& params) {
  const Index n = data.rows();
  const Index workers = params.workers;
  const auto classes = static_cast<std::size_t>(data.num_classes());

  // Each class's rows (binary: -1 is class 0, +1 class 1), in a seeded random order.
  std::vector<std::vector<Index>> members(classes);
  const Vector& labels = data.labels();
  for (Index i = 0; i < n; ++i) {
    const double y = labels[i];
    const auto c =
        data.task() == Task::binary ? static_cast<std::size_t>(y > 0) : static_cast<std::size_t>(y);
    members[c].push_back(i);
  }
  for (std::size_t c = 0; c < classes; ++c) {
    std::vector<Index>& rows = members[c];
    RandomStream stream(params.seed, Purpose::shuffle, 2, c);
    const auto order = random_permutation(static_cast<Index>(rows.size()), stream);
    std::vector<Index> shuffled(rows.size());
    for (std::size_t k = 0; k < rows.size(); ++k) {
      shuffled[k] = rows[static_cast<std::size_t>(order[k])];
    }
    rows = std::move(shuffled);
  }

  // cuts[c * (M + 1) + m]: where worker m's part of class c begins; redrawn (the stream goes on)
  // until every worker has min_samples rows.
  const auto stride = static_cast<std::size_t>(workers) + 1;
  std::vector<Index> cuts(classes * stride);
  std::vector<Index> sizes(static_cast<std::size_t>(workers));
  RandomStream stream(params.seed, Purpose::shuffle, 3, 0);
  for (int attempt = 1;; ++attempt) {
    std::fill(sizes.begin(), sizes.end(), Index{0});
    for (std::size_t c = 0; c < classes; ++c) {
      const auto shares = dirichlet(stream, params.alpha, workers);
      const auto count = static_cast<Index>(members[c].size());
      Index* cut = cuts.data() + c * stride;
      // Rounded cumulative shares: monotone, so the parts tile the class exactly.
      double cumulative = 0;
      cut[0] = 0;
      for (Index m = 1; m < workers; ++m) {
        cumulative += shares[static_cast<std::size_t>(m - 1)];
        cut[m] = std::min(count, static_cast<Index>(std::llround(cumulative * count)));
      }
      cut[workers] = count;
      for (Index m = 0; m < workers; ++m) sizes[static_cast<std::size_t>(m)] += cut[m + 1] - cut[m];
    }
    if (*std::min_element(sizes.begin(), sizes.end()) >= params.min_samples) break;
    if (attempt == dirichlet_attempts) {
      require_param(false, "alpha", params.alpha,
                    fmt::format("large enough that each of the {} workers gets at least "
                                "min_samples = {} rows, but none of {} draws of the proportions "
                                "did (seed {}): use a larger alpha, fewer workers or a smaller "
                                "min_samples",
                                workers, params.min_samples, dirichlet_attempts, params.seed));
    }
  }

  std::vector<Index> order;
  order.reserve(static_cast<std::size_t>(n));
  std::vector<Index> bounds{0};
  for (Index m = 0; m < workers; ++m) {
    for (std::size_t c = 0; c < classes; ++c) {
      const Index* cut = cuts.data() + c * stride;
      order.insert(order.end(), members[c].begin() + cut[m], members[c].begin() + cut[m + 1]);
    }
    bounds.push_back(static_cast<Index>(order.size()));
  }
  return reordered_shards(data, order, bounds);
}

}  // namespace detail

// Splits `data` among params.workers workers (see Split). The iid split permutes rows with
// the stream RandomStream(seed, Purpose::shuffle, 0, 0); the label-skewed split permutes its
// pieces with RandomStream(seed, Purpose::shuffle, 1, 0); the Dirichlet split shuffles class c
// with RandomStream(seed, Purpose::shuffle, 2, c) and draws its proportions from
// RandomStream(seed, Purpose::shuffle, 3, 0). Throws std::invalid_argument unless
// 1 <= workers <= rows and, for label_skewed, shards_per_worker >= 1 and
// workers * shards_per_worker <= rows; for dirichlet, unless the data is a classification
// dataset, alpha > 0 is finite and 1 <= min_samples <= rows / workers, and when no draw of
// the proportions gives every worker min_samples rows.
inline std::vector<Shard> partition(std::shared_ptr<const Dataset> data, PartitionParams params) {
  if (data == nullptr) throw std::invalid_argument("partition: the dataset is null");
  const Index n = data->rows();
  const Index workers = params.workers;
  require_param(workers >= 1 && workers <= n, "workers", workers,
                fmt::format("in [1, {}] (the number of rows)", n));

  switch (params.split) {
    case Split::contiguous:
      return detail::contiguous_shards(data, workers);

    case Split::iid: {
      RandomStream stream(params.seed, Purpose::shuffle, 0, 0);
      const auto order = detail::random_permutation(n, stream);
      auto shuffled = std::make_shared<const Dataset>(select_rows(*data, order));
      return detail::contiguous_shards(shuffled, workers);
    }

    case Split::label_skewed: {
      const Index per_worker = params.shards_per_worker;
      require_param(per_worker >= 1, "shards_per_worker", per_worker, ">= 1");
      require_param(per_worker <= n / workers, "workers * shards_per_worker", workers * per_worker,
                    fmt::format("<= {} (the number of rows)", n));
      const Index pieces = workers * per_worker;

      std::vector<Index> by_label(static_cast<std::size_t>(n));
      std::iota(by_label.begin(), by_label.end(), Index{0});
      const Vector& labels = data->labels();
      std::stable_sort(by_label.begin(), by_label.end(),
                       [&labels](Index a, Index b) { return labels[a] < labels[b]; });

      RandomStream stream(params.seed, Purpose::shuffle, 1, 0);
      const auto assignment = detail::random_permutation(pieces, stream);
      std::vector<Index> order;
      order.reserve(static_cast<std::size_t>(n));
      std::vector<Index> bounds{0};
      for (Index m = 0; m < workers; ++m) {
        for (Index s = 0; s < per_worker; ++s) {
          const Index piece = assignment[static_cast<std::size_t>(m * per_worker + s)];
          const auto begin = by_label.begin() + piece * n / pieces;
          const auto end = by_label.begin() + (piece + 1) * n / pieces;
          order.insert(order.end(), begin, end);
        }
        bounds.push_back(static_cast<Index>(order.size()));
      }
      return detail::reordered_shards(*data, order, bounds);
    }

    case Split::dirichlet: {
      require_param(data->task() != Task::regression, "split", "dirichlet",
                    "contiguous, iid or label_skewed for a regression dataset (task = "
                    "regression): dirichlet draws the workers' shares of each class");
      require_positive_finite("alpha", params.alpha);
      require_param(params.min_samples >= 1 && params.min_samples <= n / workers, "min_samples",
                    params.min_samples,
                    fmt::format("in [1, {}] (rows / workers = {} / {})", n / workers, n, workers));
      return detail::dirichlet_shards(*data, params);
    }
  }
  require_param(false, "split", static_cast<int>(params.split),
                "contiguous, iid, label_skewed or dirichlet");
  return {};
}

}  // namespace laconic::data
