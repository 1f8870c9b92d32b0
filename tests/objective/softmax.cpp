#include <laconic/core/concepts.hpp>
#include <laconic/objective/softmax.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "objective/fixtures.hpp"
#include "support.hpp"

using namespace laconic;
using objective::Softmax;
using test::Storage;

static_assert(Objective<Softmax>);
static_assert(HasFullGradient<Softmax>);
static_assert(HasSmoothness<Softmax>);
static_assert(HasAccuracy<Softmax>);

namespace {

// A worker on rows [4, 30) of a random 36×6 dataset with `classes` classes.
Softmax make_worker(Storage storage, int classes = 4, double lambda = 0.1, std::uint64_t seed = 7) {
  const auto dataset = test::random_dataset(storage, data::Task::multiclass, 36, 6, seed, classes);
  return Softmax(data::Shard{dataset, 4, 30}, {.lambda = lambda});
}

}  // namespace

TEST_CASE("Softmax dimensions and layout", "[objective][softmax]") {
  Softmax worker = make_worker(Storage::dense, 4);
  CHECK(worker.classes() == 4);
  CHECK(worker.features() == 6);
  CHECK(worker.dim() == 24);
  CHECK(worker.size() == 26);

  // θ.segment(c·F, F) holds class c's weights: a one-hot sample a = e_f is assigned to
  // class c by θ[c·F + f] > 0 with all else zero.
  DenseMatrix a = DenseMatrix::Zero(2, 3);
  a(0, 1) = 1;
  a(1, 2) = 1;
  Vector labels(2);
  labels << 2, 0;
  const auto dataset = test::make_dataset(Storage::sparse, a, labels, data::Task::multiclass, 3);
  const Softmax toy(data::whole(dataset));
  Vector theta = Vector::Zero(9);
  theta[2 * 3 + 1] = 1;  // class 2, feature 1
  theta[0 * 3 + 2] = 1;  // class 0, feature 2
  CHECK(toy.accuracy(theta) == 1.0);
  // Class 1 on feature 1 takes the first sample; the second scores 0 everywhere, and a tie
  // goes to the lowest class, 0, which is its label.
  theta.setZero();
  theta[1 * 3 + 1] = 1;
  CHECK(toy.accuracy(theta) == 0.5);
}

TEST_CASE("Softmax gradients match central finite differences", "[objective][softmax]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const int classes = GENERATE(2, 5);
  INFO(test::storage_name(storage) << ", C = " << classes);
  Softmax worker = make_worker(storage, classes);
  const Vector x = test::random_vector(worker.dim(), 13, 0.7);

  Vector g;
  const double loss = worker.full_gradient(x, g);
  CHECK(loss == Approx(worker.loss(x)).epsilon(1e-14));
  const Vector numerical =
      test::numerical_gradient([&](const Vector& y) { return worker.loss(y); }, x);
  CHECK(test::relative_error(g, numerical) < 1e-6);

  const std::vector<Index> batch = {25, 0, 7, 7, 12};
  Vector scratch;
  worker.gradient(x, batch, g);
  const Vector numerical_batch = test::numerical_gradient(
      [&](const Vector& y) { return worker.gradient(y, batch, scratch); }, x);
  CHECK(test::relative_error(g, numerical_batch) < 1e-6);
}

TEST_CASE("Softmax minibatch gradient is the mean of single-sample gradients",
          "[objective][softmax]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  Softmax worker = make_worker(storage);
  const Vector x = test::random_vector(worker.dim(), 2);
  const std::vector<Index> batch = {3, 3, 19, 0, 25, 11, 6};

  Vector mean = Vector::Zero(worker.dim());
  double mean_loss = 0;
  Vector single;
  for (const Index i : batch) {
    mean_loss += worker.gradient(x, std::span<const Index>(&i, 1), single);
    mean += single;
  }
  mean /= static_cast<double>(batch.size());
  mean_loss /= static_cast<double>(batch.size());

  Vector g;
  CHECK(worker.gradient(x, batch, g) == Approx(mean_loss).epsilon(1e-13));
  CHECK(test::relative_error(g, mean) < 1e-13);
}

TEST_CASE("Softmax full_gradient equals gradient over the whole shard", "[objective][softmax]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  Softmax worker = make_worker(storage);
  const auto all = test::all_indices(worker.size());
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const Vector x = test::random_vector(worker.dim(), seed);
    Vector full, batched;
    const double full_loss = worker.full_gradient(x, full);
    CHECK(full_loss == Approx(worker.gradient(x, all, batched)).epsilon(1e-13));
    CHECK(test::relative_error(full, batched) < 1e-13);
    Vector again;
    CHECK(worker.full_gradient(x, again) == full_loss);
    CHECK(again == full);
  }
}

TEST_CASE("Softmax loss at zero is log C", "[objective][softmax]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const int classes = GENERATE(2, 3, 10);
  Softmax worker = make_worker(storage, classes, 0.5);
  const Vector zero = Vector::Zero(worker.dim());
  Vector g;
  CHECK(worker.loss(zero) == Approx(std::log(classes)).epsilon(1e-15));
  CHECK(worker.full_gradient(zero, g) == Approx(std::log(classes)).epsilon(1e-15));
  const std::vector<Index> batch = {5};
  CHECK(worker.gradient(zero, batch, g) == Approx(std::log(classes)).epsilon(1e-15));
}

TEST_CASE("Softmax stays finite at extreme scores", "[objective][softmax]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  Softmax worker = make_worker(storage, 4, 1e-3);
  const Vector x = test::random_vector(worker.dim(), 29, 800.0);
  const Eigen::MatrixXd a = test::dense_rows(worker.shard());
  const Eigen::Map<const DenseMatrix> w(x.data(), worker.classes(), worker.features());
  const Eigen::MatrixXd scores = a * w.transpose();
  REQUIRE(scores.cwiseAbs().maxCoeff() > 1e3);

  Vector g;
  const double loss = worker.full_gradient(x, g);
  REQUIRE(std::isfinite(loss));
  REQUIRE(g.allFinite());
  // A reference in long double, shifted by the top score.
  double expected = 0;
  const auto labels = worker.shard().labels();
  for (Index i = 0; i < worker.size(); ++i) {
    const long double top = scores.row(i).maxCoeff();
    long double sum = 0;
    for (Index c = 0; c < worker.classes(); ++c) sum += std::exp(scores(i, c) - top);
    expected += static_cast<double>(top + std::log(sum) - scores(i, static_cast<Index>(labels[i])));
  }
  expected /= static_cast<double>(worker.size());
  expected += 0.5e-3 * x.squaredNorm();
  CHECK(loss == Approx(expected).epsilon(1e-9));

  Vector gb;
  CHECK(std::isfinite(worker.gradient(x, test::all_indices(worker.size()), gb)));
  CHECK(gb.allFinite());
  CHECK(test::relative_error(gb, g) < 1e-12);
  CHECK(std::isfinite(worker.loss(x)));
}

TEST_CASE("Softmax accuracy on a separable set", "[objective][softmax]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  // Three clusters around well-separated centers; W with the centers as rows classifies
  // them all correctly.
  const int classes = 3;
  DenseMatrix centers(classes, 4);
  centers << 5, 0, 0, 0, 0, 5, 0, 0, 0, 0, 5, 0;
  DenseMatrix a = test::random_matrix(45, 4, 1.0, 4, 0.3);
  Vector labels(45);
  for (Index i = 0; i < 45; ++i) {
    labels[i] = static_cast<double>(i % classes);
    a.row(i) += centers.row(i % classes);
  }
  const auto dataset = test::make_dataset(storage, a, labels, data::Task::multiclass, classes);
  const Softmax worker(data::whole(dataset));
  const Vector theta = Eigen::Map<const Vector>(centers.data(), centers.size());
  CHECK(worker.accuracy(theta) == 1.0);
  CHECK(worker.loss(theta * 3) < worker.loss(theta));
  // Permuting the classes' weights gets every sample wrong.
  DenseMatrix shuffled(classes, 4);
  shuffled << centers.row(1), centers.row(2), centers.row(0);
  CHECK(worker.accuracy(Eigen::Map<const Vector>(shuffled.data(), shuffled.size())) == 0.0);
}

TEST_CASE("Softmax validates its inputs", "[objective][softmax]") {
  const auto multiclass = test::random_dataset(Storage::dense, data::Task::multiclass, 10, 3, 1, 3);
  CHECK_THROWS_WITH(Softmax(data::whole(multiclass), {.lambda = -0.5}), Catch::Contains("lambda"));
  CHECK_THROWS_AS(Softmax(data::whole(multiclass), {.lambda = -0.5}), std::invalid_argument);
  CHECK_THROWS_AS(
      Softmax(data::whole(multiclass), {.lambda = std::numeric_limits<double>::infinity()}),
      std::invalid_argument);

  const auto binary = test::random_dataset(Storage::dense, data::Task::binary, 10, 3, 1);
  CHECK_THROWS_WITH(Softmax(data::whole(binary)), Catch::Contains("multiclass"));
  const auto regression = test::random_dataset(Storage::dense, data::Task::regression, 10, 3, 1);
  CHECK_THROWS_AS(Softmax(data::whole(regression)), std::invalid_argument);
  CHECK_THROWS_AS(Softmax(data::Shard{multiclass, 3, 3}), std::invalid_argument);

  Softmax worker(data::whole(multiclass));
  Vector g;
  CHECK_THROWS_WITH(worker.full_gradient(Vector::Zero(3), g), Catch::Contains("x.size()"));
  const std::vector<Index> outside = {10};
  CHECK_THROWS_AS(worker.gradient(Vector::Zero(9), outside, g), std::out_of_range);
}

TEST_CASE("Softmax smoothness is the stated constant and an upper bound", "[objective][softmax]") {
  const auto storage = GENERATE(Storage::sparse, Storage::dense);
  const int classes = GENERATE(2, 4);
  INFO(test::storage_name(storage) << ", C = " << classes);
  const double lambda = 0.05;
  Softmax worker = make_worker(storage, classes, lambda);
  const auto top = test::top_eigen_gram(worker.shard());
  const double smoothness = worker.smoothness();
  CHECK(smoothness == Approx(top.value / 2 + lambda).epsilon(1e-8));

  Vector gx, gy;
  for (std::uint64_t seed = 0; seed < 30; ++seed) {
    const double scale = seed % 3 == 0 ? 0.1 : seed % 3 == 1 ? 1.0 : 5.0;
    const Vector x = test::random_vector(worker.dim(), 300 + seed, scale);
    const Vector y = x + test::random_vector(worker.dim(), 400 + seed, scale);
    worker.full_gradient(x, gx);
    worker.full_gradient(y, gy);
    CHECK((gx - gy).norm() <= smoothness * (x - y).norm());
  }
  if (classes == 2) {
    // For two classes at θ = 0, diag(p) − ppᵀ has eigenvalue exactly 1/2 along
    // (1, −1)/√2, so moving w_0 and w_1 oppositely along the top eigenvector of AᵀA attains
    // the bound.
    Vector step(worker.dim());
    step << top.vector, -top.vector;
    step *= 1e-3;
    worker.full_gradient(Vector::Zero(worker.dim()), gx);
    worker.full_gradient(step, gy);
    const double ratio = (gx - gy).norm() / step.norm();
    CHECK(ratio <= smoothness * (1 + 1e-9));
    CHECK(ratio >= smoothness * (1 - 1e-5));
  }
}

TEST_CASE("Softmax: invalid parameters name themselves, their value and the allowed range",
          "[objective][softmax]") {
  using Catch::Contains;
  const auto multiclass = test::random_dataset(Storage::dense, data::Task::multiclass, 10, 3, 1, 3);
  const auto refused = [&](double lambda) {
    return test::refusal([&] { Softmax(data::whole(multiclass), {.lambda = lambda}); });
  };
  CHECK_THAT(refused(-0.5), Contains("lambda = -0.5: must be >= 0 and finite"));
  CHECK_THAT(refused(std::nan("")), Contains("lambda = nan: must be >= 0 and finite"));
  CHECK(refused(0) == "accepted");
}
