#include <laconic/data/libsvm.hpp>

#include "data/fixtures.hpp"
#include "support.hpp"

#include <cmath>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using laconic::Index;
using laconic::ParseError;
using laconic::data::Dataset;
using laconic::data::LibsvmOptions;
using laconic::data::parse_libsvm;
using laconic::data::read_libsvm;
using laconic::data::Task;
using laconic::test::dense_of;
using laconic::test::labels_of;

namespace {

Index nonzeros(const Dataset& data) {
  return data.visit([](const auto& a) -> Index {
    if constexpr (std::is_same_v<std::decay_t<decltype(a)>, laconic::SparseMatrix>) {
      return a.nonZeros();
    } else {
      return (a.array() != 0).count();
    }
  });
}

}  // namespace

TEST_CASE("LIBSVM text parses into rows, columns and labels", "[data][libsvm]") {
  const std::string text =
      "# a comment line\n"
      "+1 1:0.5 3:-2   # trailing comment\n"
      "\n"
      "-1\t2:1e-3\t\t4:7\r\n"
      "   \t\n"
      "-1 1:+4 4:0 5:.25\r\n"
      "+1";  // no features, no final newline
  const Dataset data = parse_libsvm(text, "toy");
  REQUIRE(data.rows() == 4);
  CHECK(data.cols() == 5);
  CHECK(data.task() == Task::binary);
  CHECK(labels_of(data) == std::vector<double>{1, -1, -1, 1});
  laconic::DenseMatrix expected(4, 5);
  expected << 0.5, 0, -2, 0, 0,  //
      0, 1e-3, 0, 7, 0,          //
      4, 0, 0, 0, 0.25,          //
      0, 0, 0, 0, 0;
  CHECK(dense_of(data) == expected);
  CHECK(nonzeros(data) == 6);  // the explicit 4:0 is dropped
}

TEST_CASE("a UTF-8 byte order mark is skipped", "[data][libsvm]") {
  const Dataset data = parse_libsvm("\xEF\xBB\xBF+1 2:1\n-1 1:1\n", "t");
  CHECK(labels_of(data) == std::vector<double>{1, -1});
  CHECK_THROWS_WITH(parse_libsvm("\xEF\xBB\xBFx 2:1\n", "t"), Contains("t:1:1: expected a label"));
}

TEST_CASE("a declared number of features sets the width", "[data][libsvm]") {
  const Dataset data = parse_libsvm("1 2:1\n-1 1:1\n", "t", {.num_features = 10});
  CHECK(data.cols() == 10);
  CHECK(parse_libsvm("1 2:1\n-1 1:1\n", "t").cols() == 2);
}

TEST_CASE("LibsvmOptions: invalid parameters name themselves, their value and the allowed range",
          "[data][libsvm]") {
  const auto refused = [](LibsvmOptions o) {
    return laconic::test::refusal([&] { parse_libsvm("1 1:1", "t", o); });
  };
  CHECK_THAT(refused({.num_features = -1}),
             Contains("num_features = -1: must be in [0, 2^31 - 1]"));
  CHECK_THAT(refused({.num_features = Index{1} << 31}),
             Contains("num_features = 2147483648: must be in [0, 2^31 - 1]"));
  CHECK_THAT(refused({.task = static_cast<Task>(3)}),
             Contains("task = 3: must be binary, multiclass or regression"));
  CHECK(refused({.num_features = 0}) == "accepted");
  CHECK(refused({.num_features = 1, .task = Task::regression}) == "accepted");
}

TEST_CASE("LIBSVM binary labels map to -1 and +1", "[data][libsvm]") {
  const auto labels = [](const std::string& text) { return labels_of(parse_libsvm(text, "t")); };
  CHECK(labels("-1 1:1\n+1 1:1\n") == std::vector<double>{-1, 1});
  CHECK(labels("0 1:1\n1 1:1\n0 1:1\n") == std::vector<double>{-1, 1, -1});
  CHECK(labels("1 1:1\n2 1:1\n") == std::vector<double>{-1, 1});
  CHECK(labels("-1.0 1:1\n1.0 1:1\n") == std::vector<double>{-1, 1});
  CHECK(labels("7 1:1\n3 1:1\n") == std::vector<double>{1, -1});
  // A single distinct label maps by its name.
  CHECK(labels("1 1:1\n1 1:1\n") == std::vector<double>{1, 1});
  CHECK(labels("+1 1:1\n") == std::vector<double>{1});
  CHECK(labels("2 1:1\n") == std::vector<double>{1});
  CHECK(labels("-1 1:1\n") == std::vector<double>{-1});
  CHECK(labels("0 1:1\n0 2:1\n") == std::vector<double>{-1, -1});
  CHECK_THROWS_WITH(parse_libsvm("\n5 1:1\n", "t"), Contains("t:2:1:") && Contains("found 5"));
}

TEST_CASE("LIBSVM multiclass and regression labels", "[data][libsvm]") {
  const Dataset multi =
      parse_libsvm("3 1:1\n10 1:1\n-2 1:1\n3 2:1\n", "t", {.task = Task::multiclass});
  CHECK(multi.num_classes() == 3);
  CHECK(labels_of(multi) == std::vector<double>{1, 2, 0, 1});
  CHECK_THROWS_WITH(parse_libsvm("4 1:1\n4 1:1\n", "t", {.task = Task::multiclass}),
                    Contains("t:1:1:") && Contains("at least 2 distinct labels"));

  const Dataset regression = parse_libsvm("3.5 1:1\n-0.25 1:1\n", "t", {.task = Task::regression});
  CHECK(regression.num_classes() == 0);
  CHECK(labels_of(regression) == std::vector<double>{3.5, -0.25});
}

TEST_CASE("LIBSVM storage follows the CSR-or-dense rule", "[data][libsvm]") {
  CHECK_FALSE(parse_libsvm("1 1:1 2:1 3:1\n-1 1:2 2:2 3:2\n", "t").is_sparse());
  CHECK(parse_libsvm("1 1:1\n-1 100:1\n", "t").is_sparse());
  CHECK(parse_libsvm("1 1:1\n-1 100:1\n", "t").sparse().isCompressed());
}

TEST_CASE("malformed LIBSVM input names the file, line, column and expectation", "[data][libsvm]") {
  struct Case {
    std::string text;
    LibsvmOptions options;
    std::string position;
    std::string expected;
  };
  const std::vector<Case> cases{
      {"abc 1:1\n", {}, "bad:1:1:", "a label (a number)"},
      {"1 1:1\n1:0.5 2:1\n", {}, "bad:2:1:", "a label (a number)"},
      {"nan 1:1\n", {}, "bad:1:1:", "a finite label"},
      {"1 1:1\n-inf 1:1\n", {}, "bad:2:1:", "a finite label"},
      {"1 0:1\n", {}, "bad:1:3:", "a feature index >= 1, found 0"},
      {"1 -3:1\n", {}, "bad:1:3:", "a feature index >= 1, found -3"},
      {"1 2:1 4:1\n", {.num_features = 3}, "bad:1:7:", "a feature index <= 3"},
      {"# c\n\n-1 2:1 5:1 5:2\n",
       {},
       "bad:3:12:",
       "feature indices in strictly ascending order, found 5 after 5"},
      {"1 3:1 2:1\n",
       {},
       "bad:1:7:",
       "feature indices in strictly ascending order, found 2 after 3"},
      {"1 2:x\n", {}, "bad:1:5:", "a number as the value of feature 2"},
      {"1 2:1.5x\n", {}, "bad:1:5:", "a number as the value of feature 2"},
      {"1 2:\n", {}, "bad:1:5:", "a number as the value of feature 2"},
      {"1 2 3:1\n", {}, "bad:1:4:", "':' after feature index 2"},
      {"1 2=1\n", {}, "bad:1:4:", "':' after feature index 2"},
      {"1 x:1\n", {}, "bad:1:3:", "a feature index (an integer)"},
      {"1 2:nan\n", {}, "bad:1:5:", "a finite value for feature 2"},
      {"1 2:1e999\n", {}, "bad:1:5:", "a finite value for feature 2"},
      {"1 99999999999:1\n", {}, "bad:1:3:", "a feature index below 2^31"},
      {"1 qid:3 1:1\n",
       {},
       "bad:1:3:",
       "index:value pairs; 'qid:' (ranking data) is not supported"},
      {"1 1:1\r\n-1 1:1\r\n\r\n2 1:1\r\n", {}, "bad:4:1:", "at most 2 distinct labels"},
      {"", {}, "bad:1:1:", "at least one example"},
      {"# only a comment\n\n", {}, "bad:2:1:", "at least one example"},
  };
  for (const auto& c : cases) {
    INFO("input: " << c.text);
    CHECK_THROWS_AS(parse_libsvm(c.text, "bad", c.options), ParseError);
    CHECK_THROWS_WITH(parse_libsvm(c.text, "bad", c.options),
                      Contains(c.position + " expected " + c.expected));
  }
}

TEST_CASE("ParseError from a file carries its position", "[data][libsvm]") {
  const auto path = laconic::test::write_temp("libsvm_bad.txt", "1 1:1\n1 2:1 2:1\n");
  try {
    read_libsvm(path);
    FAIL("no error");
  } catch (const ParseError& error) {
    CHECK(error.file() == path.string());
    CHECK(error.line() == 2);
    CHECK(error.column() == 7);
  }
}

TEST_CASE("real LIBSVM files load", "[data][libsvm][real]") {
  SECTION("a9a") {
    const auto path = laconic::test::data_file("a9a/a9a");
    if (!path) return;
    const Dataset data = read_libsvm(*path);
    CHECK(data.rows() == 32561);
    CHECK(data.cols() == 123);
    CHECK(data.is_sparse());
    CHECK(data.sparse().nonZeros() == 451592);
    CHECK((data.labels().array() == 1).count() == 7841);
    CHECK((data.labels().array() == -1).count() == 24720);
  }
  SECTION("a9a.t with the training width") {
    const auto path = laconic::test::data_file("a9a/a9a.t");
    if (!path) return;
    CHECK(read_libsvm(*path).cols() == 122);
    const Dataset data = read_libsvm(*path, {.num_features = 123});
    CHECK(data.rows() == 16281);
    CHECK(data.cols() == 123);
  }
  SECTION("mushrooms, labels 1/2") {
    const auto path = laconic::test::data_file("mushrooms/mushrooms");
    if (!path) return;
    const Dataset data = read_libsvm(*path);
    CHECK(data.rows() == 8124);
    CHECK(data.cols() == 112);
    CHECK((data.labels().array() == -1).count() == 3916);  // label 1
    CHECK((data.labels().array() == 1).count() == 4208);   // label 2
  }
  SECTION("phishing, labels 0/1") {
    const auto path = laconic::test::data_file("phishing/phishing");
    if (!path) return;
    const Dataset data = read_libsvm(*path);
    CHECK(data.rows() == 11055);
    CHECK(data.cols() == 68);
    CHECK((data.labels().array() == -1).count() == 4898);  // label 0
    CHECK((data.labels().array() == 1).count() == 6157);   // label 1
    CHECK(nonzeros(data) == 11055 * 30);
  }
  SECTION("ijcnn1, labels -1.0/1.0") {
    const auto path = laconic::test::data_file("ijcnn1/ijcnn1.trn");
    if (!path) return;
    const Dataset data = read_libsvm(*path);
    CHECK(data.rows() == 49990);
    CHECK(data.cols() == 22);
    CHECK((data.labels().array() == 1).count() == 4853);
    CHECK((data.labels().array() == -1).count() == 45137);
  }
  SECTION("german.numer_scale, no final newline") {
    const auto path = laconic::test::data_file("german.numer_scale/german_scale.txt");
    if (!path) return;
    const Dataset data = read_libsvm(*path);
    CHECK(data.rows() == 1000);
    CHECK(data.cols() == 24);
    CHECK((data.labels().array() == 1).count() == 300);
    const auto x = dense_of(data);
    CHECK(x.maxCoeff() <= 1.0);
    CHECK(x.minCoeff() >= -1.0);
  }
  SECTION("w8a") {
    const auto path = laconic::test::data_file("w8a/w8a");
    if (!path) return;
    const Dataset data = read_libsvm(*path, {.num_features = 300});
    CHECK(data.rows() == 49749);
    CHECK(data.cols() == 300);
    CHECK(nonzeros(data) == 579586);
  }
  SECTION("svmguide1, labels 0/1, unscaled values") {
    const auto path = laconic::test::data_file("svmguide1/svmguide1.txt");
    if (!path) return;
    const Dataset data = read_libsvm(*path);
    CHECK(data.rows() == 3089);
    CHECK(data.cols() == 4);
    CHECK((data.labels().array() == 1).count() == 2000);
  }
}
