#include <laconic/data/csv.hpp>

#include "data/fixtures.hpp"
#include "support.hpp"

#include <string>
#include <vector>

using Catch::Matchers::Contains;
using laconic::Index;
using laconic::ParseError;
using laconic::data::CsvOptions;
using laconic::data::Dataset;
using laconic::data::parse_csv;
using laconic::data::read_csv;
using laconic::data::Task;
using laconic::test::dense_of;
using laconic::test::labels_of;

TEST_CASE("CSV text parses into features and labels", "[data][csv]") {
  const std::string text =
      "1.5,2,0\n"
      " -3 , +4e1 ,1\r\n"
      "\n"
      "0.25,\t7,1";  // no final newline
  const Dataset data = parse_csv(text, "toy");
  REQUIRE(data.rows() == 3);
  CHECK(data.cols() == 2);
  CHECK_FALSE(data.is_sparse());
  CHECK(labels_of(data) == std::vector<double>{-1, 1, 1});
  laconic::DenseMatrix expected(3, 2);
  expected << 1.5, 2, -3, 40, 0.25, 7;
  CHECK(data.dense() == expected);
}

TEST_CASE("CSV options: header, label column, delimiter, task", "[data][csv]") {
  SECTION("skip a header, label first, semicolons") {
    const Dataset data = parse_csv("label;a;b\n2;1;1\n1;2;2\n", "t",
                                   {.skip_lines = 1, .label_column = 0, .delimiter = ';'});
    CHECK(labels_of(data) == std::vector<double>{1, -1});
    CHECK(dense_of(data)(1, 0) == 2);
  }
  SECTION("label in a middle column") {
    const Dataset data = parse_csv("1,5,2\n3,7,4\n", "t", {.label_column = 1});
    CHECK(labels_of(data) == std::vector<double>{-1, 1});
    laconic::DenseMatrix expected(2, 2);
    expected << 1, 2, 3, 4;
    CHECK(dense_of(data) == expected);
  }
  SECTION("multiclass and regression") {
    const Dataset multi = parse_csv("1,9\n2,4\n3,9\n4,0\n", "t", {.task = Task::multiclass});
    CHECK(multi.num_classes() == 3);
    CHECK(labels_of(multi) == std::vector<double>{2, 1, 2, 0});
    const Dataset regression = parse_csv("1,0.5\n2,-7\n", "t", {.task = Task::regression});
    CHECK(labels_of(regression) == std::vector<double>{0.5, -7});
  }
  SECTION("mostly-zero features are stored as CSR") {
    std::string text;
    for (int i = 0; i < 10; ++i) text += (i == 3 ? "1" : "0") + std::string(",0,0,0,0,0,0,0,1\n");
    CHECK(parse_csv(text, "t", {.task = Task::regression}).is_sparse());
  }
  SECTION("a UTF-8 byte order mark is skipped") {
    CHECK(parse_csv("\xEF\xBB\xBF"
                    "1,2,1\n3,4,-1\n",
                    "t")
              .rows() == 2);
  }
  SECTION("tab-separated") {
    CHECK(parse_csv("1\t2\t1\n3\t4\t-1\n", "t", {.delimiter = '\t'}).cols() == 2);
  }
}

TEST_CASE("CsvOptions: invalid parameters name themselves, their value and the allowed range",
          "[data][csv]") {
  const auto refused = [](CsvOptions o) {
    return laconic::test::refusal([&] { parse_csv("1,1\n", "t", o); });
  };
  CHECK_THAT(refused({.skip_lines = -1}), Contains("skip_lines = -1: must be >= 0"));
  CHECK_THAT(refused({.task = static_cast<Task>(3)}),
             Contains("task = 3: must be binary, multiclass or regression"));
  CHECK_THAT(refused({.label_column = -2}), Contains("label_column = -2: must be >= 0, or -1"));
  CHECK_THAT(refused({.label_column = 2}),
             Contains("label_column = 2: must be below the number of fields (2)"));
  CHECK_THAT(refused({.delimiter = '.'}), Contains("delimiter = .: must be a character that"));
  CHECK_THAT(refused({.delimiter = 'e'}), Contains("delimiter = e: must be a character that"));
  CHECK(refused({.skip_lines = 0, .task = Task::regression, .label_column = 1}) == "accepted");
  CHECK(refused({.label_column = 0}) == "accepted");
  CHECK(laconic::test::refusal([] { parse_csv("1;1\n", "t", {.delimiter = ';'}); }) == "accepted");
}

TEST_CASE("malformed CSV names the file, line, column and expectation", "[data][csv]") {
  struct Case {
    std::string text;
    CsvOptions options;
    std::string position;
    std::string expected;
  };
  const std::vector<Case> cases{
      {"a,b,label\n1,2,1\n", {}, "bad:1:1:", "a number in field 1, found 'a' (if this is a header"},
      {"1,2,1\n1,x,1\n", {}, "bad:2:3:", "a number in field 2, found 'x'"},
      {"1,2,1\n1,2.5.1,1\n", {}, "bad:2:3:", "a number in field 2"},
      {"1,2,1\n1,,1\n", {}, "bad:2:3:", "a number in field 2, found ''"},
      {"1,2,1\n1,2,\n", {}, "bad:2:5:", "a number in field 3, found ''"},
      {"1,2,1\n1,nan,1\n", {}, "bad:2:3:", "a finite number in field 2"},
      {"1,2,1\n1,2,1,4\n", {}, "bad:2:7:", "3 fields as on line 1, found more"},
      {"h\n\n1,2,1\n1,2\r\n", {.skip_lines = 1}, "bad:4:4:", "3 fields as on line 3, found 2"},
      {"1,2,1\n-1,2,1\n7,2,3\n", {.label_column = 0}, "bad:3:1:", "at most 2 distinct labels"},
      {"1,2,1\n-1,2,2\n7,2,3\n", {}, "bad:3:5:", "at most 2 distinct labels"},
      {"5\n", {}, "bad:1:1:", "at least 2 fields"},
      {"header\n", {.skip_lines = 1}, "bad:1:1:", "at least one line of data"},
  };
  for (const auto& c : cases) {
    INFO("input: " << c.text);
    CHECK_THROWS_AS(parse_csv(c.text, "bad", c.options), ParseError);
    CHECK_THROWS_WITH(parse_csv(c.text, "bad", c.options),
                      Contains(c.position + " expected " + c.expected));
  }
}

TEST_CASE("real CSV files load", "[data][csv][real]") {
  SECTION("breast cancer (Wisconsin diagnostic), header line") {
    const auto path = laconic::test::data_file("breast_cancer_wdbc/breast_cancer.csv");
    if (!path) return;
    CHECK_THROWS_WITH(read_csv(*path), Contains(":1:") && Contains("skip_lines"));
    const Dataset data = read_csv(*path, {.skip_lines = 1});
    CHECK(data.rows() == 569);
    CHECK(data.cols() == 30);
    CHECK_FALSE(data.is_sparse());
    CHECK((data.labels().array() == -1).count() == 212);  // 0 = malignant
    CHECK((data.labels().array() == 1).count() == 357);   // 1 = benign
    CHECK(data.dense()(0, 0) == 17.99);
  }
  SECTION("digits, gzip-compressed") {
    const auto path = laconic::test::data_file("digits/digits.csv.gz");
    if (!path) return;
    if (!laconic::data::has_gzip_support) {
      WARN("SKIPPED: digits.csv.gz needs zlib");
      return;
    }
    const Dataset data = read_csv(*path, {.task = Task::multiclass});
    CHECK(data.rows() == 1797);
    CHECK(data.cols() == 64);
    CHECK(data.num_classes() == 10);
    CHECK((data.labels().array() == 0).count() == 178);
    const auto x = dense_of(data);
    CHECK(x.minCoeff() == 0);
    CHECK(x.maxCoeff() == 16);
  }
}
