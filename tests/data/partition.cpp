#include <laconic/data/libsvm.hpp>
#include <laconic/data/partition.hpp>

#include "data/fixtures.hpp"
#include "support.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
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
  CHECK_THAT(refused({.workers = 1, .split = static_cast<Split>(4)}),
             Contains("split = 4: must be contiguous, iid, label_skewed or dirichlet"));
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

namespace {

// rows[m][c]: how many rows of class c worker m has (labels are class indices).
std::vector<std::vector<Index>> class_counts(const std::vector<Shard>& shards, Index classes) {
  std::vector<std::vector<Index>> counts;
  for (const auto& shard : shards) {
    std::vector<Index> row(static_cast<std::size_t>(classes), 0);
    for (Index i = 0; i < shard.size(); ++i) ++row[static_cast<std::size_t>(shard.labels()[i])];
    counts.push_back(row);
  }
  return counts;
}

// The mean over workers of the share of the worker's rows in its `top` largest classes.
double mean_top_share(const std::vector<Shard>& shards, Index classes, int top = 1) {
  double total = 0;
  for (auto row : class_counts(shards, classes)) {
    std::sort(row.rbegin(), row.rend());
    Index sum = 0, largest = 0;
    for (std::size_t c = 0; c < row.size(); ++c) {
      sum += row[c];
      if (c < static_cast<std::size_t>(top)) largest += row[c];
    }
    total += static_cast<double>(largest) / static_cast<double>(sum);
  }
  return total / static_cast<double>(shards.size());
}

// Sample mean, variance (ddof 0) and the standard error of that variance, from the sample's
// fourth central moment.
struct Moments {
  double mean, variance, variance_error;
};

Moments moments(const std::vector<double>& x) {
  const auto n = static_cast<double>(x.size());
  double mean = 0;
  for (const double v : x) mean += v;
  mean /= n;
  double m2 = 0, m4 = 0;
  for (const double v : x) {
    const double d2 = (v - mean) * (v - mean);
    m2 += d2;
    m4 += d2 * d2;
  }
  m2 /= n;
  m4 /= n;
  return {mean, m2, std::sqrt((m4 - m2 * m2) / n)};
}

}  // namespace

TEST_CASE("Dirichlet split: every row once, at least min_samples each, seeded",
          "[data][partition]") {
  const auto data = sorted_classes(10, 100);  // feature 0 is the row index
  const PartitionParams params{
      .workers = 8, .split = Split::dirichlet, .seed = 11, .alpha = 0.5, .min_samples = 30};
  const auto shards = partition(data, params);
  REQUIRE(shards.size() == 8);
  check_cover(shards, 1000);
  CHECK(shards[0].data != data);
  for (const auto& shard : shards) CHECK(shard.size() >= 30);

  const Dataset& split = *shards[0].data;
  CHECK(split.task() == Task::multiclass);
  CHECK(split.num_classes() == 10);
  std::vector<double> rows;
  for (Index i = 0; i < split.rows(); ++i) {
    const double row = split.dense()(i, 0);
    CHECK(split.labels()[i] == std::floor(row / 100));  // the label travels with the row
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end());
  for (Index i = 0; i < 1000; ++i) CHECK(rows[static_cast<std::size_t>(i)] == i);

  // Uneven sizes (an equal split would be 125 each): the shares are random.
  std::set<Index> sizes;
  for (const auto& shard : shards) sizes.insert(shard.size());
  CHECK(sizes.size() > 4);

  const auto again = partition(data, params);
  CHECK(again[0].data->labels() == split.labels());
  CHECK(laconic::test::dense_of(*again[0].data) == laconic::test::dense_of(split));
  for (std::size_t m = 0; m < 8; ++m) CHECK(again[m].end == shards[m].end);
  auto other = params;
  other.seed = 12;
  CHECK(laconic::test::dense_of(*partition(data, other)[0].data) != laconic::test::dense_of(split));
}

TEST_CASE("Dirichlet split: the documented streams and rounding", "[data][partition]") {
  // 3 classes of 50, 40 and 30 rows, interleaved, so each class's rows are spread out.
  const Index n = 120;
  DenseMatrix x(n, 1);
  Vector y(n);
  std::vector<std::vector<Index>> members(3);
  for (Index i = 0; i < n; ++i) {
    const Index c = i < 90 ? i % 3 : (i < 110 ? i % 2 : 0);
    x(i, 0) = static_cast<double>(i);
    y[i] = static_cast<double>(c);
    members[static_cast<std::size_t>(c)].push_back(i);
  }
  REQUIRE(members[0].size() == 50);
  REQUIRE(members[1].size() == 40);
  REQUIRE(members[2].size() == 30);
  const auto data =
      std::make_shared<const Dataset>(std::move(x), std::move(y), Task::multiclass, 3);
  // min_samples 25 of the 30 rows per worker: the first draws of the shares fall short.
  const PartitionParams params{
      .workers = 4, .split = Split::dirichlet, .seed = 7, .alpha = 2.0, .min_samples = 25};
  const auto shards = partition(data, params);

  // Class c's rows permuted by RandomStream(seed, shuffle, 2, c); the shares of class 0, 1, 2
  // drawn from RandomStream(seed, shuffle, 3, 0), again (the stream going on) until every
  // worker has min_samples rows; worker m's block is its part of class 0, then 1, then 2.
  std::vector<std::vector<Index>> shuffled;
  for (std::size_t c = 0; c < 3; ++c) {
    laconic::RandomStream order_stream(7, laconic::Purpose::shuffle, 2, c);
    auto rows = members[c];
    for (std::size_t i = rows.size() - 1; i > 0; --i) {
      std::swap(rows[i], rows[order_stream.below(i + 1)]);
    }
    shuffled.push_back(rows);
  }
  laconic::RandomStream shares_stream(7, laconic::Purpose::shuffle, 3, 0);
  std::vector<std::vector<double>> expected;
  int attempts = 0;
  bool enough = false;
  while (!enough) {
    ++attempts;
    expected.assign(4, {});
    for (std::size_t c = 0; c < 3; ++c) {
      const auto& rows = shuffled[c];
      const auto shares = laconic::data::detail::dirichlet(shares_stream, 2.0, 4);
      double cumulative = 0;
      Index begin = 0;
      for (std::size_t m = 0; m < 4; ++m) {
        cumulative += shares[m];
        const Index end = m == 3 ? static_cast<Index>(rows.size())
                                 : std::llround(cumulative * static_cast<double>(rows.size()));
        for (Index k = begin; k < end; ++k) {
          expected[m].push_back(static_cast<double>(rows[static_cast<std::size_t>(k)]));
        }
        begin = end;
      }
    }
    enough = std::all_of(expected.begin(), expected.end(),
                         [](const auto& rows) { return rows.size() >= 25; });
  }
  CHECK(attempts > 1);
  for (std::size_t m = 0; m < 4; ++m) {
    const Shard& shard = shards[m];
    std::vector<double> got;
    for (Index i = shard.begin; i < shard.end; ++i) got.push_back(shard.data->dense()(i, 0));
    CHECK(got == expected[m]);
  }
}

TEST_CASE("Dirichlet split: alpha moves it between iid and one class per worker",
          "[data][partition]") {
  SECTION("large alpha: every worker's class shares approach the global ones") {
    // Classes of 500, 1000, ..., 2500 rows: global shares 1/15, 2/15, ..., 5/15.
    const Index classes = 5;
    Index n = 0;
    for (Index c = 0; c < classes; ++c) n += 500 * (c + 1);
    DenseMatrix x = DenseMatrix::Zero(n, 1);
    Vector y(n);
    for (Index c = 0, i = 0; c < classes; ++c) {
      for (Index k = 0; k < 500 * (c + 1); ++k) y[i++] = static_cast<double>(c);
    }
    const auto data = std::make_shared<const Dataset>(std::move(x), std::move(y), Task::multiclass,
                                                      static_cast<int>(classes));
    const auto shards =
        partition(data, {.workers = 6, .split = Split::dirichlet, .seed = 1, .alpha = 1e4});
    double worst = 0;
    for (const auto& row : class_counts(shards, classes)) {
      Index sum = 0;
      for (const Index k : row) sum += k;
      CHECK(std::abs(static_cast<double>(sum) - static_cast<double>(n) / 6) < 0.02 * n / 6);
      for (Index c = 0; c < classes; ++c) {
        const double share =
            static_cast<double>(row[static_cast<std::size_t>(c)]) / static_cast<double>(sum);
        worst = std::max(worst, std::abs(share - static_cast<double>(c + 1) / 15));
      }
    }
    // Share standard deviation about sqrt(p (1 - p) / (M alpha)) < 0.003, plus rounding.
    CHECK(worst < 0.01);
    CHECK(mean_top_share(shards, classes) == Approx(5.0 / 15).margin(0.01));
  }
  SECTION("small alpha: most workers are dominated by one or two classes") {
    // Averaged over 5 seeds. At alpha 0.05 a class's rows go almost wholly to one worker.
    const auto mean_over_seeds = [](const std::shared_ptr<const Dataset>& data, Index classes,
                                    double alpha, int top) {
      double mean = 0;
      for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        const auto shards = partition(
            data, {.workers = 10, .split = Split::dirichlet, .seed = seed, .alpha = alpha});
        for (const auto& shard : shards) CHECK(shard.size() >= 1);
        mean += mean_top_share(shards, classes, top) / 5;
      }
      return mean;
    };
    // 5 classes over 10 workers: a worker rarely holds the bulk of two classes.
    const auto five = sorted_classes(5, 200);
    CHECK(mean_over_seeds(five, 5, 0.05, 1) > 0.8);
    const double moderate = mean_over_seeds(five, 5, 0.5, 1);
    CHECK(moderate > 0.4);
    CHECK(moderate < 0.7);
    // 10 classes over 10 workers: about a third of the workers hold two classes' bulk.
    const auto ten = sorted_classes(10, 200);
    CHECK(mean_over_seeds(ten, 10, 0.05, 2) > 0.8);
    // The same data split iid: every class about 1/10 of each worker.
    const auto iid = partition(ten, {.workers = 10, .split = Split::iid, .seed = 1});
    CHECK(mean_top_share(iid, 10) < 0.2);
    CHECK(mean_top_share(iid, 10, 2) < 0.35);
  }
  SECTION("binary labels: -1 is class 0, +1 class 1") {
    DenseMatrix x(300, 1);
    Vector y(300);
    for (Index i = 0; i < 300; ++i) {
      x(i, 0) = static_cast<double>(i);
      y[i] = i < 100 ? 1.0 : -1.0;
    }
    const auto data = std::make_shared<const Dataset>(std::move(x), std::move(y), Task::binary);
    const auto shards =
        partition(data, {.workers = 3, .split = Split::dirichlet, .seed = 2, .alpha = 0.1});
    check_cover(shards, 300);
    CHECK(sorted_labels(shards) == sorted_labels(partition(data, {.workers = 1})));
    for (const auto& shard : shards) {
      for (Index i = shard.begin; i < shard.end; ++i) {
        CHECK(shard.data->labels()[i] == (shard.data->dense()(i, 0) < 100 ? 1.0 : -1.0));
      }
      // A worker's block lists class 0 (-1) before class 1 (+1).
      CHECK(std::is_sorted(shard.labels().begin(), shard.labels().end()));
    }
  }
}

TEST_CASE("Gamma and Dirichlet draws have the right moments", "[data][partition]") {
  using laconic::data::detail::dirichlet;
  using laconic::data::detail::gamma_variate;
  const int draws = 100000;
  for (const double alpha : {0.3, 2.0}) {
    INFO("alpha = " << alpha);
    // Gamma(alpha, 1): mean alpha, variance alpha.
    laconic::RandomStream stream(5, laconic::Purpose::user, 0, 0);
    std::vector<double> g(draws);
    for (double& v : g) {
      v = gamma_variate(stream, alpha);
      REQUIRE(v >= 0);
    }
    const Moments gm = moments(g);
    CHECK(std::abs(gm.mean - alpha) < 4 * std::sqrt(alpha / draws));
    CHECK(std::abs(gm.variance - alpha) < 4 * gm.variance_error);

    // Dirichlet(alpha, ..., alpha) over M = 5: each component has mean 1/M and variance
    // alpha (M alpha - alpha) / ((M alpha)^2 (M alpha + 1)).
    const int m = 5;
    const double a0 = m * alpha;
    const double variance = alpha * (a0 - alpha) / (a0 * a0 * (a0 + 1));
    std::vector<std::vector<double>> components(m, std::vector<double>(draws));
    laconic::RandomStream dstream(6, laconic::Purpose::user, 0, 0);
    for (int k = 0; k < draws; ++k) {
      const auto q = dirichlet(dstream, alpha, m);
      double sum = 0;
      for (int j = 0; j < m; ++j) {
        components[static_cast<std::size_t>(j)][static_cast<std::size_t>(k)] =
            q[static_cast<std::size_t>(j)];
        sum += q[static_cast<std::size_t>(j)];
      }
      REQUIRE(sum == Approx(1.0).margin(1e-12));
    }
    for (int j = 0; j < m; ++j) {
      const Moments dm = moments(components[static_cast<std::size_t>(j)]);
      CHECK(std::abs(dm.mean - 1.0 / m) < 4 * std::sqrt(variance / draws));
      CHECK(std::abs(dm.variance - variance) < 4 * dm.variance_error);
    }
  }
  SECTION("tiny alpha: the shares are still a distribution") {
    laconic::RandomStream stream(1, laconic::Purpose::user, 0, 0);
    for (int k = 0; k < 100; ++k) {
      const auto q = dirichlet(stream, 1e-3, 4);
      double sum = 0;
      for (const double v : q) {
        CHECK(std::isfinite(v));
        sum += v;
      }
      CHECK(sum == Approx(1.0));
    }
  }
}

TEST_CASE("Dirichlet split: invalid parameters and data are refused by name", "[data][partition]") {
  using Catch::Matchers::Contains;
  const auto data = sorted_classes(2, 10);
  const auto refused = [&](PartitionParams p) {
    p.split = Split::dirichlet;
    return laconic::test::refusal([&] { partition(data, p); });
  };
  CHECK_THAT(refused({.workers = 2, .alpha = 0}), Contains("alpha = 0: must be positive"));
  CHECK_THAT(refused({.workers = 2, .alpha = -1}), Contains("alpha = -1: must be positive"));
  CHECK_THAT(refused({.workers = 2, .alpha = std::numeric_limits<double>::quiet_NaN()}),
             Contains("alpha = nan: must be positive and finite"));
  CHECK_THAT(refused({.workers = 2, .alpha = std::numeric_limits<double>::infinity()}),
             Contains("alpha = inf: must be positive and finite"));
  CHECK_THAT(refused({.workers = 2, .min_samples = 0}),
             Contains("min_samples = 0: must be in [1, 10]"));
  CHECK_THAT(refused({.workers = 4, .min_samples = 6}),
             Contains("min_samples = 6: must be in [1, 5]"));
  CHECK(refused({.workers = 2, .alpha = 100}) == "accepted");
  // Only the Dirichlet split reads alpha.
  CHECK(laconic::test::refusal([&] { partition(data, {.workers = 2, .alpha = -1}); }) ==
        "accepted");

  // Regression data has no classes.
  const auto regression = traceable(10);
  const auto message = laconic::test::refusal(
      [&] { partition(regression, {.workers = 2, .split = Split::dirichlet}); });
  CHECK_THAT(message, Contains("split = dirichlet") && Contains("task = regression"));

  // 10 workers of exactly 2 rows each is next to impossible at alpha 0.01.
  const auto impossible = refused({.workers = 10, .seed = 3, .alpha = 0.01, .min_samples = 2});
  CHECK_THAT(impossible, Contains("alpha = 0.01") && Contains("10 workers") &&
                             Contains("min_samples = 2") && Contains("1000 draws") &&
                             Contains("larger alpha"));
}
