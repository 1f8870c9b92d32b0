#include <laconic/data/libsvm.hpp>
#include <laconic/data/transform.hpp>

#include "data/fixtures.hpp"
#include "support.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <vector>

using laconic::DenseMatrix;
using laconic::Index;
using laconic::SparseMatrix;
using laconic::Vector;
using laconic::data::Dataset;
using laconic::data::hold_out;
using laconic::data::Scaler;
using laconic::data::Scaling;
using laconic::data::Task;
using laconic::test::dense_of;

namespace {

// Rows {1, 10, -2}, {3, 10, 2}, {5, 10, 6}: feature 0 has mean 3 and variance 8/3, feature 1
// is constant, feature 2 has mean 2 and variance 32/3. Labels are classes 0, 2, 1 of 3.
Dataset dense_train() {
  DenseMatrix x{{1, 10, -2}, {3, 10, 2}, {5, 10, 6}};
  return Dataset(std::move(x), Vector{{0, 2, 1}}, Task::multiclass, 3);
}

Dataset dense_test() {
  DenseMatrix x{{7, 12, 0}, {3, 10, 2}};
  return Dataset(std::move(x), Vector{{1, 1}}, Task::multiclass, 3);
}

SparseMatrix sparse_of(const DenseMatrix& x) {
  SparseMatrix a = x.sparseView();
  a.makeCompressed();
  return a;
}

// Rows {0, 2, 0}, {4, 0, 0}, {0, 6, 0}, {0, 0, 0} as CSR. Counting the implicit zeros,
// feature 0 has mean 1 and variance 3, feature 1 mean 2 and variance 6, and feature 2 is all
// zero (over the stored values alone, feature 1 would have mean 4 and variance 4).
Dataset sparse_train() {
  return Dataset(sparse_of(DenseMatrix{{0, 2, 0}, {4, 0, 0}, {0, 6, 0}, {0, 0, 0}}),
                 Vector{{1, -1, 1, 1}}, Task::binary);
}

Dataset sparse_test() {
  return Dataset(sparse_of(DenseMatrix{{8, 3, 5}, {0, 0, 0}}), Vector{{-1, 1}}, Task::binary);
}

void check_matrix(const DenseMatrix& got, const DenseMatrix& expected) {
  REQUIRE(got.rows() == expected.rows());
  REQUIRE(got.cols() == expected.cols());
  for (Index i = 0; i < got.rows(); ++i) {
    for (Index j = 0; j < got.cols(); ++j) {
      INFO("entry (" << i << ", " << j << ")");
      CHECK(got(i, j) == Approx(expected(i, j)).margin(1e-15));
    }
  }
}

// n rows; row i is (i, -i) with label i (regression), so rows can be traced.
Dataset traceable(Index n) {
  DenseMatrix x(n, 2);
  Vector y(n);
  for (Index i = 0; i < n; ++i) {
    x(i, 0) = static_cast<double>(i);
    x(i, 1) = -static_cast<double>(i);
    y[i] = static_cast<double>(i);
  }
  return Dataset(std::move(x), std::move(y), Task::regression);
}

std::vector<Index> rows_of(const Dataset& part) {
  std::vector<Index> rows;
  for (Index i = 0; i < part.rows(); ++i) rows.push_back(static_cast<Index>(part.labels()[i]));
  return rows;
}

}  // namespace

TEST_CASE("standardize: training statistics, population std, constant features centred",
          "[data][transform]") {
  const Scaler scaler = Scaler::fit(dense_train(), Scaling::standardize);
  CHECK(scaler.scaling() == Scaling::standardize);
  CHECK(scaler.cols() == 3);
  CHECK(scaler.shift() == Vector{{3, 10, 2}});
  const double s0 = std::sqrt(8.0 / 3), s2 = std::sqrt(32.0 / 3);

  const Dataset train = scaler.apply(dense_train());
  REQUIRE_FALSE(train.is_sparse());
  check_matrix(train.dense(), DenseMatrix{{-2 / s0, 0, -4 / s2}, {0, 0, 0}, {2 / s0, 0, 4 / s2}});
  const DenseMatrix& a = train.dense();
  const Vector variance =
      (a.rowwise() - a.colwise().mean()).array().square().colwise().mean().transpose();
  CHECK(variance[0] == Approx(1.0));
  CHECK(variance[1] == 0.0);
  CHECK(variance[2] == Approx(1.0));
  CHECK(laconic::test::labels_of(train) == std::vector<double>{0, 2, 1});
  CHECK(train.task() == Task::multiclass);
  CHECK(train.num_classes() == 3);

  // Held-out rows use the training mean and std, not their own: the second test row equals
  // the second training row and maps to 0, and the constant feature is only centred (12 -> 2).
  const Dataset test = scaler.apply(dense_test());
  check_matrix(test.dense(), DenseMatrix{{4 / s0, 2, -2 / s2}, {0, 0, 0}});
  CHECK(laconic::test::labels_of(test) == std::vector<double>{1, 1});
}

TEST_CASE("min_max: [0, 1] on the training rows, constant features to 0", "[data][transform]") {
  const Scaler scaler = Scaler::fit(dense_train(), Scaling::min_max);
  CHECK(scaler.shift() == Vector{{1, 10, -2}});
  CHECK(scaler.factor() == Vector{{0.25, 1, 0.125}});
  check_matrix(scaler.apply(dense_train()).dense(),
               DenseMatrix{{0, 0, 0}, {0.5, 0, 0.5}, {1, 0, 1}});
  // Outside the training range, held-out values fall outside [0, 1].
  check_matrix(scaler.apply(dense_test()).dense(), DenseMatrix{{1.5, 2, 0.25}, {0.5, 0, 0.5}});
}

TEST_CASE("sparse data stays sparse: standardize only scales, min_max divides by the max",
          "[data][transform]") {
  const double r3 = std::sqrt(3.0), r6 = std::sqrt(6.0);
  SECTION("standardize") {
    const Scaler scaler = Scaler::fit(sparse_train(), Scaling::standardize);
    CHECK(scaler.shift() == Vector::Zero(3));
    const Dataset train = scaler.apply(sparse_train());
    REQUIRE(train.is_sparse());
    CHECK(train.sparse().nonZeros() == 3);
    CHECK(train.task() == Task::binary);
    CHECK(laconic::test::labels_of(train) == std::vector<double>{1, -1, 1, 1});
    check_matrix(dense_of(train),
                 DenseMatrix{{0, 2 / r6, 0}, {4 / r3, 0, 0}, {0, 6 / r6, 0}, {0, 0, 0}});
    // With the implicit zeros, the scaled features have variance 1 (the all-zero one 0).
    const DenseMatrix a = dense_of(train);
    const Vector variance =
        (a.rowwise() - a.colwise().mean()).array().square().colwise().mean().transpose();
    CHECK(variance[0] == Approx(1.0));
    CHECK(variance[1] == Approx(1.0));
    CHECK(variance[2] == 0.0);

    const Dataset test = scaler.apply(sparse_test());
    REQUIRE(test.is_sparse());
    check_matrix(dense_of(test), DenseMatrix{{8 / r3, 3 / r6, 5}, {0, 0, 0}});
  }
  SECTION("min_max") {
    const Scaler scaler = Scaler::fit(sparse_train(), Scaling::min_max);
    CHECK(scaler.factor() == Vector{{0.25, 1.0 / 6, 1}});
    const Dataset train = scaler.apply(sparse_train());
    REQUIRE(train.is_sparse());
    check_matrix(dense_of(train), DenseMatrix{{0, 1.0 / 3, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 0}});
    // Every feature has a zero, so this is exactly the dense min-max of the same rows.
    const Dataset dense(dense_of(sparse_train()), Vector{{1, -1, 1, 1}}, Task::binary);
    check_matrix(dense_of(train), Scaler::fit(dense, Scaling::min_max).apply(dense).dense());
    const Dataset test = scaler.apply(sparse_test());
    REQUIRE(test.is_sparse());
    check_matrix(dense_of(test), DenseMatrix{{2, 0.5, 5}, {0, 0, 0}});
  }
  SECTION("a feature stored in every row (no implicit zeros)") {
    // Feature 0 is 5 in every row, feature 1 is 2 or 6 (mean 4, std 2).
    const Dataset data(sparse_of(DenseMatrix{{5, 2}, {5, 6}, {5, 2}, {5, 6}}),
                       Vector{{1, 1, -1, 1}}, Task::binary);
    REQUIRE(data.is_sparse());
    // Constant: left unscaled by standardize; feature 1 only divided by its std.
    check_matrix(dense_of(Scaler::fit(data, Scaling::standardize).apply(data)),
                 DenseMatrix{{5, 1}, {5, 3}, {5, 1}, {5, 3}});
    // x / max: not the dense min-max (which gives 0 and 0/1) once a minimum is above 0.
    check_matrix(dense_of(Scaler::fit(data, Scaling::min_max).apply(data)),
                 DenseMatrix{{1, 1.0 / 3}, {1, 1}, {1, 1.0 / 3}, {1, 1}});
  }
  SECTION("a negative value refuses min_max, naming the feature") {
    using Catch::Matchers::Contains;
    const Dataset data(sparse_of(DenseMatrix{{0, 1, 0}, {2, 0, -0.5}, {0, 3, 0}, {0, 0, 1}}),
                       Vector{{1, 1, -1, 1}}, Task::binary);
    REQUIRE(data.is_sparse());
    const auto message = laconic::test::refusal([&] { Scaler::fit(data, Scaling::min_max); });
    CHECK_THAT(message,
               Contains("feature 2") && Contains("-0.5") && Contains("Scaling::standardize"));
    CHECK(laconic::test::refusal([&] { Scaler::fit(data, Scaling::standardize); }) == "accepted");
    // Dense storage has no implicit zeros to keep: min_max is exact there.
    const Dataset dense(dense_of(data), data.labels(), Task::binary);
    check_matrix(Scaler::fit(dense, Scaling::min_max).apply(dense).dense(),
                 DenseMatrix{{0, 1.0 / 3, 1.0 / 3}, {1, 0, 0}, {0, 1, 1.0 / 3}, {0, 0, 1}});
  }
}

TEST_CASE("Scaler across storages, none, and refusals", "[data][transform]") {
  using Catch::Matchers::Contains;
  const double s0 = std::sqrt(8.0 / 3), s2 = std::sqrt(32.0 / 3);
  SECTION("fitted on dense data, applied to CSR: centring makes the result dense") {
    const Dataset test = Scaler::fit(dense_train(), Scaling::standardize).apply(sparse_test());
    REQUIRE_FALSE(test.is_sparse());
    check_matrix(test.dense(), DenseMatrix{{5 / s0, -7, 3 / s2}, {-3 / s0, -10, -2 / s2}});
    CHECK(test.task() == Task::binary);
  }
  SECTION("fitted on CSR, applied to dense data") {
    const Dataset test = Scaler::fit(sparse_train(), Scaling::standardize).apply(dense_test());
    REQUIRE_FALSE(test.is_sparse());
    check_matrix(test.dense(), DenseMatrix{{7 / std::sqrt(3.0), 12 / std::sqrt(6.0), 0},
                                           {3 / std::sqrt(3.0), 10 / std::sqrt(6.0), 2}});
  }
  SECTION("none") {
    const Scaler scaler = Scaler::fit(sparse_train(), Scaling::none);
    const Dataset same = scaler.apply(sparse_train());
    REQUIRE(same.is_sparse());
    CHECK(dense_of(same) == dense_of(sparse_train()));
    CHECK(Scaler::fit(dense_train(), Scaling::none).apply(dense_test()).dense() ==
          dense_test().dense());
  }
  SECTION("refusals") {
    const Scaler scaler = Scaler::fit(dense_train(), Scaling::standardize);
    CHECK_THAT(laconic::test::refusal([&] { scaler.apply(traceable(4)); }),
               Contains("data.cols() = 2: must be 3"));
    CHECK_THAT(laconic::test::refusal([&] { Scaler::fit(dense_train(), static_cast<Scaling>(3)); }),
               Contains("scaling = 3: must be none, standardize or min_max"));
    const Dataset empty(DenseMatrix(0, 3), Vector(0), Task::regression);
    CHECK_THAT(laconic::test::refusal([&] { Scaler::fit(empty, Scaling::min_max); }),
               Contains("train.rows() = 0: must be >= 1"));
  }
}

TEST_CASE("hold_out: a seeded test part, both parts in their original order", "[data][transform]") {
  const Dataset data = traceable(101);
  const auto parts = hold_out(data, 0.2, 42);
  REQUIRE(parts.test->rows() == 20);  // round(20.2)
  REQUIRE(parts.train->rows() == 81);
  const auto train = rows_of(*parts.train), test = rows_of(*parts.test);
  // Features travel with their labels.
  for (Index i = 0; i < parts.train->rows(); ++i) {
    CHECK(parts.train->dense()(i, 1) == -parts.train->labels()[i]);
  }
  CHECK(std::is_sorted(train.begin(), train.end()));
  CHECK(std::is_sorted(test.begin(), test.end()));
  std::set<Index> all(train.begin(), train.end());
  all.insert(test.begin(), test.end());
  CHECK(all.size() == 101);  // disjoint and complete
  CHECK(*all.rbegin() == 100);
  CHECK(parts.train->task() == Task::regression);

  // The documented stream: Fisher–Yates with RandomStream(seed, shuffle, 4, 0); the first
  // 20 positions are the test rows.
  laconic::RandomStream stream(42, laconic::Purpose::shuffle, 4, 0);
  std::vector<Index> order(101);
  for (Index i = 0; i < 101; ++i) order[static_cast<std::size_t>(i)] = i;
  for (std::size_t i = 100; i > 0; --i) std::swap(order[i], order[stream.below(i + 1)]);
  std::vector<Index> expected(order.begin(), order.begin() + 20);
  std::sort(expected.begin(), expected.end());
  CHECK(test == expected);

  CHECK(rows_of(*hold_out(data, 0.2, 42).test) == test);
  CHECK(rows_of(*hold_out(data, 0.2, 43).test) != test);
}

TEST_CASE("hold_out: sizes, storage and refusals", "[data][transform]") {
  using Catch::Matchers::Contains;
  const Dataset ten = traceable(10);
  CHECK(hold_out(ten, 0.25, 1).test->rows() == 3);    // round(2.5), half away from zero
  CHECK(hold_out(ten, 0.001, 1).test->rows() == 1);   // at least one test row
  CHECK(hold_out(ten, 0.999, 1).train->rows() == 1);  // and one training row
  CHECK(hold_out(traceable(2), 0.5, 1).test->rows() == 1);

  std::string text;
  for (int i = 0; i < 30; ++i) {
    text += (i % 2 == 0 ? "+1 " : "-1 ") + std::to_string(i % 5 + 1) + ":" + std::to_string(i + 1) +
            " 40:1\n";
  }
  const Dataset sparse = laconic::data::parse_libsvm(text, "t");
  REQUIRE(sparse.is_sparse());
  const auto parts = hold_out(sparse, 0.3, 5);
  REQUIRE(parts.train->is_sparse());
  REQUIRE(parts.test->is_sparse());
  CHECK(parts.test->rows() == 9);
  CHECK(parts.train->sparse().nonZeros() + parts.test->sparse().nonZeros() ==
        sparse.sparse().nonZeros());
  CHECK(parts.test->task() == Task::binary);

  const auto refused = [&](double fraction) {
    return laconic::test::refusal([&] { hold_out(ten, fraction, 1); });
  };
  CHECK_THAT(refused(0), Contains("test_fraction = 0: must be in (0, 1)"));
  CHECK_THAT(refused(1), Contains("test_fraction = 1: must be in (0, 1)"));
  CHECK_THAT(refused(-0.5), Contains("test_fraction = -0.5: must be in (0, 1)"));
  CHECK_THAT(refused(1.5), Contains("test_fraction = 1.5: must be in (0, 1)"));
  CHECK_THAT(refused(std::numeric_limits<double>::quiet_NaN()),
             Contains("test_fraction = nan: must be in (0, 1)"));
  CHECK_THAT(laconic::test::refusal([&] { hold_out(traceable(1), 0.5, 1); }),
             Contains("data.rows() = 1: must be >= 2"));
}

TEST_CASE("two_classes: the rows of two labels in order, as -1 and +1", "[data][transform]") {
  // Labels 0, 2, 1 (dense) and, as CSR, the same rows.
  for (const bool sparse : {false, true}) {
    INFO((sparse ? "CSR" : "dense"));
    const Dataset all = sparse ? Dataset(sparse_of(dense_train().dense()), dense_train().labels(),
                                         Task::multiclass, 3)
                               : dense_train();
    const Dataset two = laconic::data::two_classes(all, 1, 0);  // 1 -> -1, 0 -> +1
    CHECK(two.task() == Task::binary);
    CHECK(two.is_sparse() == sparse);
    CHECK(two.labels() == Vector{{1, -1}});
    check_matrix(dense_of(two), DenseMatrix{{1, 10, -2}, {5, 10, 6}});
  }
  const Dataset all = dense_train();
  CHECK_THROWS_WITH(laconic::data::two_classes(all, 2, 7),
                    "invalid parameter two_classes = 7: must be a label some row has");
  CHECK_THROWS_WITH(laconic::data::two_classes(all, 9, 2),
                    "invalid parameter two_classes = 9: must be a label some row has");
  CHECK_THROWS_AS(laconic::data::two_classes(all, 2, 2), laconic::ParamError);
}

TEST_CASE("first_rows and with_bias", "[data][transform]") {
  const Dataset all = traceable(5);
  CHECK(rows_of(laconic::data::first_rows(all, 3)) == std::vector<Index>{0, 1, 2});
  CHECK(rows_of(laconic::data::first_rows(all, 9)) == std::vector<Index>{0, 1, 2, 3, 4});
  CHECK_THROWS_AS(laconic::data::first_rows(all, 0), laconic::ParamError);

  const Dataset dense = laconic::data::with_bias(dense_train());
  CHECK_FALSE(dense.is_sparse());
  CHECK(dense.num_classes() == 3);
  CHECK(dense.labels() == dense_train().labels());
  check_matrix(dense.dense(), DenseMatrix{{1, 10, -2, 1}, {3, 10, 2, 1}, {5, 10, 6, 1}});
  // CSR: a stored 1 at the end of every row, the empty row included.
  const Dataset sparse = laconic::data::with_bias(sparse_train());
  REQUIRE(sparse.is_sparse());
  CHECK(sparse.sparse().nonZeros() == 3 + 4);
  check_matrix(dense_of(sparse),
               DenseMatrix{{0, 2, 0, 1}, {4, 0, 0, 1}, {0, 6, 0, 1}, {0, 0, 0, 1}});
}
