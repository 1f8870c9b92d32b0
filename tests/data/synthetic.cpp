#include <laconic/data/synthetic.hpp>

#include "support.hpp"

#include <cmath>
#include <limits>

using laconic::Index;
using laconic::data::LeastSquaresParams;
using laconic::data::LogisticParams;
using laconic::data::make_least_squares;
using laconic::data::make_logistic;
using laconic::data::make_multiclass_logistic;
using laconic::data::MulticlassParams;
using laconic::data::Task;

TEST_CASE("synthetic logistic data", "[data][synthetic]") {
  const auto problem = make_logistic({.samples = 4000, .features = 10, .seed = 1});
  const auto& data = *problem.data;
  CHECK(data.rows() == 4000);
  CHECK(data.cols() == 10);
  CHECK(data.task() == Task::binary);
  CHECK_FALSE(data.is_sparse());
  CHECK(problem.truth.size() == 10);

  // Both labels, neither rare.
  const auto positives = (data.labels().array() == 1).count();
  CHECK(positives > 1200);
  CHECK(positives < 2800);
  // Features are standard normal.
  CHECK(std::abs(data.dense().mean()) < 0.02);
  CHECK(std::abs(data.dense().array().square().mean() - 1) < 0.03);
  // The truth predicts labels far better than chance.
  const laconic::Vector margins = data.dense() * problem.truth;
  const auto agree = (margins.array() * data.labels().array() > 0).count();
  CHECK(agree > 3000);

  SECTION("deterministic, seeded, and independent of the number of samples") {
    const auto again = make_logistic({.samples = 4000, .features = 10, .seed = 1});
    CHECK(again.truth == problem.truth);
    CHECK(again.data->dense() == data.dense());
    CHECK(again.data->labels() == data.labels());
    const auto fewer = make_logistic({.samples = 50, .features = 10, .seed = 1});
    CHECK(fewer.truth == problem.truth);
    CHECK(fewer.data->dense() == data.dense().topRows(50));
    CHECK(fewer.data->labels() == data.labels().head(50));
    const auto other = make_logistic({.samples = 50, .features = 10, .seed = 2});
    CHECK(other.truth != problem.truth);
    CHECK(other.data->dense() != fewer.data->dense());
  }
  SECTION("row i comes from the stream (seed, synthetic, i, 1)") {
    laconic::RandomStream stream(1, laconic::Purpose::synthetic, 7, 1);
    for (Index j = 0; j < 10; ++j) CHECK(data.dense()(7, j) == stream.normal());
  }
  SECTION("label noise flips labels") {
    const auto noisy = make_logistic({.samples = 4000, .features = 10, .noise = 0.3, .seed = 1});
    CHECK(noisy.data->dense() == data.dense());
    const auto flipped = (noisy.data->labels().array() != data.labels().array()).count();
    CHECK(flipped > 1000);
    CHECK(flipped < 1400);
    const auto all = make_logistic({.samples = 100, .features = 10, .noise = 1, .seed = 1});
    CHECK(all.data->labels() == -data.labels().head(100));
  }
  CHECK(make_logistic().data->rows() == 1000);
}

TEST_CASE("synthetic multiclass data", "[data][synthetic]") {
  const auto problem =
      make_multiclass_logistic({.samples = 3000, .features = 8, .classes = 4, .seed = 3});
  const auto& data = *problem.data;
  CHECK(data.rows() == 3000);
  CHECK(data.cols() == 8);
  CHECK(data.task() == Task::multiclass);
  CHECK(data.num_classes() == 4);
  CHECK(problem.truth.size() == 4 * 8);
  for (int c = 0; c < 4; ++c) CHECK((data.labels().array() == c).count() > 300);

  // The true weights' argmax agrees with the drawn class more often than chance (1/4).
  const auto weights = Eigen::Map<const laconic::DenseMatrix>(problem.truth.data(), 4, 8);
  Index agree = 0;
  for (Index i = 0; i < data.rows(); ++i) {
    Index best = 0;
    (weights * data.dense().row(i).transpose()).maxCoeff(&best);
    agree += best == static_cast<Index>(data.labels()[i]);
  }
  CHECK(agree > 1800);

  const auto again =
      make_multiclass_logistic({.samples = 3000, .features = 8, .classes = 4, .seed = 3});
  CHECK(again.data->labels() == data.labels());
  CHECK(make_multiclass_logistic().data->num_classes() == 3);
}

TEST_CASE("synthetic least squares data", "[data][synthetic]") {
  const auto problem =
      make_least_squares({.samples = 5000, .features = 12, .noise = 0.5, .seed = 4});
  const auto& data = *problem.data;
  CHECK(data.task() == Task::regression);
  CHECK(problem.truth.size() == 12);
  const laconic::Vector residual = data.labels() - data.dense() * problem.truth;
  const double sd = std::sqrt(residual.squaredNorm() / 5000);
  CHECK(sd == Approx(0.5).epsilon(0.05));
  CHECK(std::abs(residual.mean()) < 0.03);

  const auto exact = make_least_squares({.samples = 100, .features = 12, .noise = 0, .seed = 4});
  CHECK((exact.data->labels() - exact.data->dense() * exact.truth).norm() < 1e-12);
  CHECK(exact.data->dense() == data.dense().topRows(100));
  CHECK(make_least_squares().data->rows() == 1000);
}

TEST_CASE("synthetic: invalid parameters name themselves, their value and the allowed range",
          "[data][synthetic]") {
  using Catch::Matchers::Contains;
  using laconic::test::refusal;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto logistic = [](LogisticParams p) { return refusal([&] { make_logistic(p); }); };
  const auto multiclass = [](MulticlassParams p) {
    return refusal([&] { make_multiclass_logistic(p); });
  };
  const auto least_squares = [](LeastSquaresParams p) {
    return refusal([&] { make_least_squares(p); });
  };
  CHECK_THAT(logistic({.samples = 0}), Contains("samples = 0: must be >= 1"));
  CHECK_THAT(logistic({.features = 0}), Contains("features = 0: must be >= 1"));
  CHECK_THAT(logistic({.noise = -0.1}),
             Contains("noise = -0.1: must be a flip probability in [0, 1]"));
  CHECK_THAT(logistic({.noise = 1.5}), Contains("noise = 1.5: must be a flip probability"));
  CHECK_THAT(logistic({.noise = nan}), Contains("noise = nan: must be a flip probability"));
  CHECK(logistic({.samples = 1, .features = 1, .noise = 1}) == "accepted");
  CHECK_THAT(multiclass({.samples = -1}), Contains("samples = -1: must be >= 1"));
  CHECK_THAT(multiclass({.features = 0}), Contains("features = 0: must be >= 1"));
  CHECK_THAT(multiclass({.classes = 1}), Contains("classes = 1: must be in 2..2147483647"));
  CHECK(multiclass({.samples = 1, .features = 1, .classes = 2}) == "accepted");
  CHECK_THAT(least_squares({.samples = 0}), Contains("samples = 0: must be >= 1"));
  CHECK_THAT(least_squares({.features = 0}), Contains("features = 0: must be >= 1"));
  CHECK_THAT(least_squares({.noise = -1}), Contains("noise = -1: must be >= 0 and finite"));
  CHECK_THAT(least_squares({.noise = std::numeric_limits<double>::infinity()}),
             Contains("noise = inf: must be >= 0 and finite"));
  CHECK_THAT(least_squares({.noise = nan}), Contains("noise = nan: must be >= 0 and finite"));
  CHECK(least_squares({.samples = 1, .features = 1, .noise = 0}) == "accepted");
}
