// What moving from a Python prototype buys: EF21 with top-1 and distributed GD on the EF21
// paper's mushrooms problem (nonconvex logistic regression, λ = 0.1, 20 workers on contiguous
// shards, x⁰ = 0), in laconic and in an independent NumPy implementation written here from the
// equations (bench/ef21_numpy.py, run with the system's python3). Both must give the same
// ‖∇f(x^t)‖² at every iteration to 1e-8 relative before their speeds are compared.
//
// laconic runs with 64-bit floats on every link (NumPy computes in doubles throughout and
// sends nothing), and its speed is timed without History rows after the first, since NumPy's
// loop measures ‖∇f‖² from gradients it computes anyway. The figure is seconds per iteration,
// NumPy's over laconic's, both single-threaded (NumPy's BLAS on vectors of 112 does not
// thread).
//
// Target (issue 6): same trajectory to 1e-8 relative; laconic >= 20x faster per iteration.
//
// Usage: bench_ef21_numpy [iterations]

#include <laconic/laconic.hpp>

#include <fmt/format.h>

#include "timing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace laconic;

namespace {

constexpr Index workers = 20;
constexpr double lambda = 0.1;
// 8 × EF21's theoretical step on this problem (docs/compressors.md): the reference's
// `--factor 8` setting.
constexpr double gamma_step = 0.01026;

struct Python {
  std::map<std::string, std::vector<double>> norms;  // per method, by iteration
  std::map<std::string, double> seconds_per_iteration;
};

// The first interpreter that has NumPy: Debian's (python3-numpy) before whatever python3 is
// first on the PATH; empty if none has it.
std::optional<std::string> python_with_numpy() {
  for (const std::string python : {"/usr/bin/python3", "python3"}) {
    const auto probe = fmt::format("{} -c 'import numpy' >/dev/null 2>&1", python);
    if (std::system(probe.c_str()) == 0) return python;
  }
  return std::nullopt;
}

// Runs the NumPy script; empty when no python3 has NumPy.
std::optional<Python> run_python(const std::filesystem::path& data, Index iterations) {
  const auto python = python_with_numpy();
  if (!python) return std::nullopt;
  const auto csv = std::filesystem::temp_directory_path() / "laconic_ef21_numpy.csv";
  const std::string command = fmt::format("{} '{}/ef21_numpy.py' '{}' {} {} {:.17g} {} '{}'",
                                          *python, LACONIC_BENCH_SOURCE_DIR, data.string(), workers,
                                          lambda, gamma_step, iterations, csv.string());
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  Python out;
  char method[32];
  double seconds = 0;
  while (std::fscanf(pipe, "%31s seconds_per_iteration %lf", method, &seconds) == 2) {
    out.seconds_per_iteration[method] = seconds;
  }
  if (pclose(pipe) != 0) throw std::runtime_error("ef21_numpy.py failed: " + command);
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string name, iteration, value;
    std::getline(fields, name, ',');
    std::getline(fields, iteration, ',');
    std::getline(fields, value, ',');
    out.norms[name].push_back(std::stod(value));
  }
  return out;
}

template <class Method>
sim::Simulation<Method, objective::Logistic> simulation(const Method& method,
                                                        const std::vector<objective::Logistic>& w,
                                                        Index iterations, Index record_every) {
  return sim::Simulation(method, w, Vector::Zero(w.front().dim()),
                         {.rounds = iterations, .record_every = record_every});
}

}  // namespace

int main(int argc, char** argv) {
  const Index iterations = argc > 1 ? std::atol(argv[1]) : 2000;
  const std::filesystem::path data =
      std::filesystem::path(LACONIC_BENCH_DATA_DIR) / "mushrooms" / "mushrooms";
  if (!std::filesystem::exists(data)) {
    fmt::print("SKIPPED: {} not found\n", data.string());
    return 0;
  }
  const auto dataset = std::make_shared<const data::Dataset>(data::read_libsvm(data));
  std::vector<objective::Logistic> w;
  for (const data::Shard& shard : data::partition(dataset, {.workers = workers})) {
    w.emplace_back(shard, objective::Logistic::Params{
                              .lambda = lambda, .regularizer = objective::Regularizer::nonconvex});
  }
  const auto step = server::StepSize::constant(gamma_step);
  const Gd gd{.server = {.step = step}};  // 64-bit links: the authors' exact arithmetic
  const Ef21<compress::TopK> ef21{
      .uplink = {.compressor = {.k = 1}, .start = compress::Markov<compress::TopK>::Start::exact},
      .server = {.step = step}};

  fmt::print(
      "mushrooms ({} x {}), {} workers, nonconvex logistic regression, lambda = {}, "
      "gamma = {}, {} iterations\n",
      dataset->rows(), dataset->cols(), workers, lambda, gamma_step, iterations);
  // Three rounds, each a NumPy run then laconic's two timed runs, so that both sides see the
  // same machine load; each figure is a median.
  std::vector<Python> python;
  std::map<std::string, std::vector<double>> ours;
  for (int r = 0; r < 3; ++r) {
    auto run = run_python(data, iterations);
    if (!run) {
      fmt::print("SKIPPED: python3 with NumPy not found (apt-get install python3-numpy)\n");
      return 0;
    }
    python.push_back(std::move(*run));
    auto time = [&](const std::string& name, const auto& method) {
      // History rows only at the start and the end: NumPy's loop measures nothing extra.
      const double seconds = bench::median_seconds(
          1, [&] { bench::keep(simulation(method, w, iterations, iterations).run()); });
      ours[name].push_back(seconds / static_cast<double>(iterations));
    };
    time("gd", gd);
    time("ef21", ef21);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };

  auto compare = [&](const std::string& name, const auto& method) {
    // The trajectory: a History row every iteration.
    const auto history = simulation(method, w, iterations, 1).run().history;
    const std::vector<double>& theirs = python.front().norms.at(name);
    double worst = 0;
    for (Index t = 0; t < iterations; ++t) {
      const double value = history.rows[static_cast<std::size_t>(t)].grad_norm_sq;
      worst = std::max(worst, std::abs(value - theirs[static_cast<std::size_t>(t)]) / value);
    }
    std::vector<double> numpy_seconds;
    for (const Python& run : python) numpy_seconds.push_back(run.seconds_per_iteration.at(name));
    const double numpy = median(numpy_seconds), seconds = median(ours.at(name));
    fmt::print(
        "  {:5}: ||grad f||^2 {:.6e} -> {:.6e}; max relative difference to NumPy {:.2e} "
        "({}, target <= 1e-8)\n",
        name, history.rows.front().grad_norm_sq,
        history.rows[static_cast<std::size_t>(iterations - 1)].grad_norm_sq, worst,
        worst <= 1e-8 ? "equal" : "DIFFERENT");
    fmt::print(
        "         per iteration: NumPy {:9.3f} us, laconic {:7.3f} us, laconic is {:.1f}x "
        "faster (target >= 20x)\n",
        numpy * 1e6, seconds * 1e6, numpy / seconds);
  };
  compare("gd", gd);
  compare("ef21", ef21);
}
