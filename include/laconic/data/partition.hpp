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
};

struct PartitionParams {
  Index workers = 1;
  Split split = Split::contiguous;
  std::uint64_t seed = 0;       // for iid and label_skewed
  Index shards_per_worker = 2;  // for label_skewed: label-sorted pieces per worker
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

}  // namespace detail

// Splits `data` among params.workers workers (see Split). The iid split permutes rows with
// the stream RandomStream(seed, Purpose::shuffle, 0, 0); the label-skewed split permutes its
// pieces with RandomStream(seed, Purpose::shuffle, 1, 0). Throws std::invalid_argument unless
// 1 <= workers <= rows and, for label_skewed, shards_per_worker >= 1 and
// workers * shards_per_worker <= rows.
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
      auto skewed = std::make_shared<const Dataset>(select_rows(*data, order));
      std::vector<Shard> shards;
      for (Index m = 0; m < workers; ++m) {
        shards.push_back(Shard{skewed, bounds[static_cast<std::size_t>(m)],
                               bounds[static_cast<std::size_t>(m + 1)]});
      }
      return shards;
    }
  }
  require_param(false, "split", static_cast<int>(params.split), "contiguous, iid or label_skewed");
  return {};
}

}  // namespace laconic::data
