#include <laconic/data/libsvm.hpp>
#include <laconic/data/partition.hpp>

#include "support.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <vector>

using laconic::DenseMatrix;
using laconic::Index;
using laconic::Vector;
using laconic::data::Dataset;
using laconic::data::partition;
using laconic::data::PartitionParams;
using laconic::data::Shard;
using laconic::data::Split;
using laconic::data::Task;

namespace {

// n rows; row i is (i, 2i) and has label i (regression), so every row can be traced.
std::shared_ptr<const Dataset> traceable(Index n) {
  DenseMatrix x(n, 2);
  Vector y(n);
  for (Index i = 0; i < n; ++i) {
    x(i, 0) = static_cast<double>(i);
    x(i, 1) = 2.0 * static_cast<double>(i);
    y[i] = static_cast<double>(i);
  }
  return std::make_shared<const Dataset>(std::move(x), std::move(y), Task::regression);
}

// `classes` labels, `per_class` rows each, sorted by label; feature 0 is the row index.
std::shared_ptr<const Dataset> sorted_classes(Index classes, Index per_class) {
  const Index n = classes * per_class;
  DenseMatrix x(n, 1);
  Vector y(n);
  for (Index i = 0; i < n; ++i) {
    x(i, 0) = static_cast<double>(i);
    y[i] = static_cast<double>(i / per_class);
  }
  return std::make_shared<const Dataset>(std::move(x), std::move(y), Task::multiclass,
                                         static_cast<int>(classes));
}

std::vector<double> sorted_labels(const std::vector<Shard>& shards) {
  std::vector<double> labels;
  for (const auto& shard : shards) {
    for (Index i = 0; i < shard.size(); ++i) labels.push_back(shard.labels()[i]);
  }
  std::sort(labels.begin(), labels.end());
  return labels;
}

// Shards cover their dataset: consecutive, from row 0 to the last row.
void check_cover(const std::vector<Shard>& shards, Index n) {
  REQUIRE_FALSE(shards.empty());
  CHECK(shards.front().begin == 0);
  CHECK(shards.back().end == n);
  for (std::size_t m = 0; m < shards.size(); ++m) {
    CHECK(shards[m].data == shards.front().data);
    CHECK(shards[m].data->rows() == n);
    if (m > 0) CHECK(shards[m].begin == shards[m - 1].end);
  }
}

}  // namespace

TEST_CASE("contiguous split: n / M rows each, remainder to the last worker", "[data][partition]") {
  const auto data = traceable(23);
  const auto shards = partition(data, {.workers = 5});
  REQUIRE(shards.size() == 5);
  check_cover(shards, 23);
  for (int m = 0; m < 4; ++m) CHECK(shards[static_cast<std::size_t>(m)].size() == 4);
  CHECK(shards[4].size() == 7);
  CHECK(shards[0].data == data);  // no copy
  CHECK(shards[2].begin == 8);

  CHECK(partition(data, {.workers = 1})[0].size() == 23);
  const auto each = partition(data, {.workers = 23});
  for (const auto& shard : each) CHECK(shard.size() == 1);
}

TEST_CASE("PartitionParams: invalid parameters name themselves, their value and the allowed range",
          "[data][partition]") {
  using Catch::Matchers::Contains;
  const auto data = traceable(10);
  const auto refused = [&](PartitionParams p) {
    return laconic::test::refusal([&] { partition(data, p); });
  };
  CHECK_THAT(refused({.workers = 0}), Contains("workers = 0: must be in [1, 10]"));
  CHECK_THAT(refused({.workers = 11}), Contains("workers = 11: must be in [1, 10]"));
  CHECK_THAT(refused({.workers = 1, .split = static_cast<Split>(3)}),
             Contains("split = 3: must be contiguous, iid or label_skewed"));
  CHECK_THAT(refused({.workers = 2, .split = Split::label_skewed, .shards_per_worker = 0}),
             Contains("shards_per_worker = 0: must be >= 1"));
  CHECK_THAT(refused({.workers = 4, .split = Split::label_skewed, .shards_per_worker = 3}),
             Contains("workers * shards_per_worker = 12: must be <= 10"));
  CHECK(refused({.workers = 5, .split = Split::label_skewed, .shards_per_worker = 2}) ==
        "accepted");
  CHECK(refused({.workers = 10, .split = Split::iid, .seed = 3}) == "accepted");
  CHECK(refused({.workers = 1, .split = Split::label_skewed, .shards_per_worker = 1}) ==
        "accepted");
  CHECK_THROWS_AS(partition(nullptr, {.workers = 1}), std::invalid_argument);
}

TEST_CASE("iid split: a seeded permutation, then contiguous", "[data][partition]") {
  const auto data = traceable(101);
  const PartitionParams params{.workers = 4, .split = Split::iid, .seed = 42};
  const auto shards = partition(data, params);
  REQUIRE(shards.size() == 4);
  check_cover(shards, 101);
  CHECK(shards[3].size() == 26);
  CHECK(shards[0].data != data);

  // A permutation: every row exactly once, its features still with its label.
  const Dataset& shuffled = *shards[0].data;
  std::vector<double> seen;
  for (Index i = 0; i < 101; ++i) {
    const double row = shuffled.dense()(i, 0);
    CHECK(shuffled.dense()(i, 1) == 2 * row);
    CHECK(shuffled.labels()[i] == row);
    seen.push_back(row);
  }
  std::sort(seen.begin(), seen.end());
  for (Index i = 0; i < 101; ++i) CHECK(seen[static_cast<std::size_t>(i)] == i);
  CHECK(shuffled.labels() != data->labels());  // shuffled

  // Deterministic for a seed; a different seed gives a different order.
  CHECK(partition(data, params)[0].data->labels() == shuffled.labels());
  auto other = params;
  other.seed = 43;
  CHECK(partition(data, other)[0].data->labels() != shuffled.labels());

  // The documented stream: Fisher–Yates with RandomStream(seed, shuffle, 0, 0).below(i + 1).
  laconic::RandomStream stream(42, laconic::Purpose::shuffle, 0, 0);
  std::vector<Index> order(101);
  for (Index i = 0; i < 101; ++i) order[static_cast<std::size_t>(i)] = i;
  for (Index i = 100; i > 0; --i) {
    std::swap(order[static_cast<std::size_t>(i)],
              order[stream.below(static_cast<std::uint64_t>(i) + 1)]);
  }
  for (Index i = 0; i < 101; ++i) CHECK(shuffled.labels()[i] == order[static_cast<std::size_t>(i)]);
}

TEST_CASE("iid split keeps sparse rows and binary labels", "[data][partition]") {
  std::string text;
  for (int i = 0; i < 40; ++i) {
    text += (i % 3 == 0 ? "+1" : "-1") + std::string(" ") + std::to_string(i % 7 + 1) + ":" +
            std::to_string(i + 1) + " 50:1\n";
  }
  const auto data = std::make_shared<const Dataset>(laconic::data::parse_libsvm(text, "t"));
  REQUIRE(data->is_sparse());
  const auto shards = partition(data, {.workers = 3, .split = Split::iid, .seed = 7});
  const Dataset& shuffled = *shards[0].data;
  REQUIRE(shuffled.is_sparse());
  CHECK(shuffled.task() == Task::binary);
  CHECK(shuffled.sparse().nonZeros() == data->sparse().nonZeros());
  CHECK(sorted_labels(shards) == sorted_labels(partition(data, {.workers = 1})));
  // Row values i + 1 identify rows; their labels travel with them.
  std::set<int> rows;
  for (Index i = 0; i < shuffled.rows(); ++i) {
    const laconic::SparseMatrix row = shuffled.sparse().row(i);
    REQUIRE(row.nonZeros() == 2);
    const int original = static_cast<int>(row.valuePtr()[0]) - 1;
    rows.insert(original);
    CHECK(row.innerIndexPtr()[0] == original % 7);
    CHECK(shuffled.labels()[i] == (original % 3 == 0 ? 1.0 : -1.0));
  }
  CHECK(rows.size() == 40);
}

TEST_CASE("label-skewed split: few labels per worker", "[data][partition]") {
  SECTION("pieces never straddle labels") {
    // 8 labels x 30 rows, 4 workers x 2 pieces of 30 rows: each piece is one label.
    const auto data = sorted_classes(8, 30);
    const auto shards = partition(
        data, {.workers = 4, .split = Split::label_skewed, .seed = 3, .shards_per_worker = 2});
    REQUIRE(shards.size() == 4);
    check_cover(shards, 240);
    std::set<double> all;
    for (const auto& shard : shards) {
      CHECK(shard.size() == 60);
      const auto labels = shard.labels();
      const std::set<double> distinct(labels.begin(), labels.end());
      CHECK(distinct.size() <= 2);
      all.insert(distinct.begin(), distinct.end());
    }
    CHECK(all.size() == 8);
    CHECK(sorted_labels(shards) == sorted_labels(partition(data, {.workers = 1})));
    // Features travel with their labels.
    const Dataset& skewed = *shards[0].data;
    for (Index i = 0; i < skewed.rows(); ++i) {
      CHECK(skewed.labels()[i] == std::floor(skewed.dense()(i, 0) / 30));
    }
  }
  SECTION("shuffled input, uneven pieces") {
    const auto sorted = sorted_classes(5, 21);  // 105 rows
    const auto data = partition(sorted, {.workers = 1, .split = Split::iid, .seed = 9})[0].data;
    const auto shards = partition(
        data, {.workers = 5, .split = Split::label_skewed, .seed = 1, .shards_per_worker = 1});
    check_cover(shards, 105);
    for (const auto& shard : shards) {
      CHECK(shard.size() == 21);
      const auto labels = shard.labels();
      CHECK(std::set<double>(labels.begin(), labels.end()).size() == 1);
    }
    const auto uneven = partition(
        data, {.workers = 4, .split = Split::label_skewed, .seed = 1, .shards_per_worker = 2});
    check_cover(uneven, 105);
    Index total = 0;
    for (const auto& shard : uneven) {
      CHECK(shard.size() >= 26);
      CHECK(shard.size() <= 27);
      total += shard.size();
      const auto labels = shard.labels();
      // Two pieces of 13 or 14 rows, each within at most two adjacent labels.
      CHECK(std::set<double>(labels.begin(), labels.end()).size() <= 4);
    }
    CHECK(total == 105);
  }
  SECTION("seeded") {
    const auto data = sorted_classes(6, 10);
    const PartitionParams params{.workers = 3, .split = Split::label_skewed, .seed = 5};
    const auto a = partition(data, params);
    const auto b = partition(data, params);
    CHECK(a[0].data->labels() == b[0].data->labels());
    bool differs = false;
    for (std::uint64_t seed = 6; seed < 16 && !differs; ++seed) {
      auto other = params;
      other.seed = seed;
      differs = partition(data, other)[0].data->labels() != a[0].data->labels();
    }
    CHECK(differs);
  }
}

TEST_CASE("select_rows picks, reorders and repeats rows", "[data][partition]") {
  const auto data = traceable(5);
  const std::vector<Index> rows{4, 0, 4};
  const Dataset picked = laconic::data::select_rows(*data, rows);
  CHECK(picked.rows() == 3);
  CHECK(picked.labels() == Vector{{4.0, 0.0, 4.0}});
  CHECK(picked.dense()(0, 1) == 8);
  const std::vector<Index> bad{5};
  CHECK_THROWS_AS(laconic::data::select_rows(*data, bad), std::invalid_argument);
}
