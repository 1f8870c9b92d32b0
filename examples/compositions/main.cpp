// Beyond the papers: compositions of laconic's policies that none of the papers ran, each
// against the plain methods it is built from, by bits against loss.
//
// (A) Lazy aggregation with Markov compression and AMSGrad — LASG-WK2's skip rule on
//     CD-Adam: Method<skip::LasgWk2, Markov<ScaledSign>, server::Amsgrad, Markov<ScaledSign>>.
//     A worker uploads the scaled sign of its gradient's innovation only when LASG-WK2's
//     test says its gradient moved; otherwise the server keeps its last estimate. The problem
//     is CD-Adam's (common/nonconvex_logistic.hpp): a9a, nonconvex regularizer λ = 0.1,
//     n = 20, full batches, step sizes from the paper's grid. LASG's threshold scale c defaults
//     to 1/η², which assumes an SGD step θ ← θ − η∇ (so that ‖Δθ‖/η = ‖∇‖); an AMSGrad
//     step is not proportional to the gradient, so c is also tried 10², 10⁴ and 10⁶ times smaller.
//
// (B) FedPAQ with an EF21-style uplink — periodic averaging whose model changes go through
//     Markov<TopK> instead of QSGD: Method<skip::Never, Markov<TopK>, PeriodicAverage>, on
//     FedPAQ's problem (common/fedpaq.hpp: MNIST 0 vs 8, n = 50, B = 10, T = 100,
//     C_comm/C_comp = 100), τ = 5, with k chosen so that an upload costs about as much as
//     FedPAQ's s = 1 (top-39 of 784: 39 · (32 + 10) + 1 = 1639 bits against 1602). As in
//     fedpaq_mnist the links carry 32-bit floats, the paper's time model's.
//
// Part A's links carry exact 64-bit floats (the library's default), part B's 32-bit floats;
// --float-bits sets both.
//
// Then it asks the library for compositions it refuses at run time and prints why.
// experiments/compositions/*.toml run the same with laconic-run, and
// docs/experiments/compositions.md discusses their results.
//
//   compositions [--part all|a|b] [--iterations T] [--seeds S] [--eta E] [--threads T]
//                [--out-dir DIR] [--data-dir DIR] [--float-bits 32|64]

#include <laconic/laconic.hpp>

#include "common/cli.hpp"
#include "common/data.hpp"
#include "common/fedpaq.hpp"
#include "common/nonconvex_logistic.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace laconic;
namespace nonconvex = examples::nonconvex;
namespace fedpaq = examples::fedpaq;

struct Arguments {
  std::string part = "all";
  Index iterations = 0;  // 0: each part's default (1000 for A, 100 for B)
  int seeds = 5;
  double eta = 0;  // when positive, this step for every method instead of tuning it
  std::vector<double> c_factors = {1, 1e-2, 1e-4, 1e-6};  // LASG's c = factor / η²
  int threads = 1;
  int float_bits = 0;  // of every float on every link; 0: each part's default (A 64, B 32)
  std::filesystem::path out_dir = "compositions";
  std::filesystem::path data_dir{};
};

using ScaledSign = compress::ScaledSign;
using LazyAmsgrad = Method<skip::LasgWk2, compress::Identity, server::Amsgrad>;
using LazyCdAdam = Method<skip::LasgWk2, compress::Markov<ScaledSign>, server::Amsgrad,
                          compress::Markov<ScaledSign>>;

// LASG's window (D = 100, d_max = 10, its logistic-regression values) with c = factor/η².
skip::LasgThreshold lasg(double factor) {
  return {.D = 100, .d_max = 10, .c_eta2 = factor};
}

void part_a(const Arguments& args, const std::filesystem::path& data_dir) {
  const nonconvex::Setting& a9a = nonconvex::setting("a9a");
  const examples::Loaded loaded = nonconvex::load(a9a, data_dir);
  const Index iterations = args.iterations > 0 ? args.iterations : 1000;
  auto problem = nonconvex::make_problem(loaded, iterations, 1, args.threads);
  if (args.float_bits > 0) problem.float_bits = args.float_bits;
  std::vector<nonconvex::Candidate> candidates = {
      nonconvex::candidate("amsgrad", "AMSGrad",
                           [](double eta) { return Amsgrad{.server = nonconvex::adam(eta)}; }),
      nonconvex::candidate("cdadam", "CD-Adam (scaled sign)",
                           [](double eta) { return CdAdam<>{.server = nonconvex::adam(eta)}; }),
  };
  for (double f : args.c_factors) {
    const std::string c = f == 1 ? std::string("1/eta^2") : fmt::format("{:g}/eta^2", f);
    candidates.push_back(nonconvex::candidate(
        fmt::format("lasg_amsgrad_c{:g}", f), "LASG-WK2 + AMSGrad, c=" + c,
        [f](double eta) { return LazyAmsgrad{.skip = lasg(f), .server = nonconvex::adam(eta)}; }));
    candidates.push_back(nonconvex::candidate(
        fmt::format("lasg_cdadam_c{:g}", f), "LASG-WK2 + CD-Adam, c=" + c,
        [f](double eta) { return LazyCdAdam{.skip = lasg(f), .server = nonconvex::adam(eta)}; }));
  }
  fmt::print(
      "\n(A) LASG-WK2 + CD-Adam on a9a ({} x {}, {}): n = {}, full batch, nonconvex lambda = {}, "
      "{} iterations, D = 100, d_max = 10, {}-bit floats on the links\n",
      loaded.data->rows(), loaded.data->cols(), loaded.source, nonconvex::workers,
      nonconvex::lambda, iterations, problem.float_bits);
  nonconvex::compare(problem, candidates,
                     args.eta > 0 ? std::vector<double>{args.eta} : nonconvex::step_grid,
                     args.out_dir / "lasg_cdadam");
}

void part_b(const Arguments& args) {
  fedpaq::Settings settings{
      .seeds = args.seeds, .threads = args.threads, .data_dir = args.data_dir};
  if (args.iterations > 0) settings.iterations = args.iterations;
  if (args.float_bits > 0) settings.float_bits = args.float_bits;
  fmt::print("\n(B) FedPAQ with a Markov<TopK> uplink on MNIST 0 vs 8, tau = 5\n");
  const fedpaq::Experiment e = fedpaq::make_experiment(settings);
  constexpr Index tau = 5;
  constexpr Index k = 39;  // an upload costs about as much as QSGD with s = 1
  using TopKAveraging = Method<skip::Never, compress::TopK, server::PeriodicAverage>;
  using MarkovTopKAveraging =
      Method<skip::Never, compress::Markov<compress::TopK>, server::PeriodicAverage>;
  auto top_k = [&](Index r, std::string id, std::string name) {
    return fedpaq::local_curve(id, name, tau, [=](double eta) {
      return TopKAveraging{.uplink = {.k = k}, .server = fedpaq::averaging(eta, tau, r)};
    });
  };
  auto markov = [&](Index r, std::string id, std::string name) {
    return fedpaq::local_curve(id, name, tau, [=](double eta) {
      return MarkovTopKAveraging{.uplink = {.compressor = {.k = k}},
                                 .server = fedpaq::averaging(eta, tau, r)};
    });
  };
  const std::vector<fedpaq::Curve> curves = {
      fedpaq::fedavg(tau, 25, "fedavg_r25", "FedAvg r=25"),
      fedpaq::fedpaq(1, tau, 25, "fedpaq_r25", "FedPAQ s=1 r=25"),
      top_k(25, "topk_r25", fmt::format("top-{} r=25", k)),
      markov(25, "markov_topk_r25", fmt::format("Markov top-{} r=25", k)),
      fedpaq::fedavg(tau, fedpaq::nodes, "fedavg_r50", "FedAvg r=50"),
      fedpaq::fedpaq(1, tau, fedpaq::nodes, "fedpaq_r50", "FedPAQ s=1 r=50"),
      top_k(fedpaq::nodes, "topk_r50", fmt::format("top-{} r=50", k)),
      markov(fedpaq::nodes, "markov_topk_r50", fmt::format("Markov top-{} r=50", k)),
  };
  fedpaq::run_curves(e, curves, args.out_dir / "fedpaq_markov");
}

// Builds a simulation of `method` and reports whether the library accepts it.
template <class M>
void try_composition(const std::string& what, const M& method,
                     const std::vector<objective::Logistic>& workers) {
  try {
    sim::Simulation simulation(method, workers, Vector::Zero(workers.front().dim()), {.rounds = 1});
    simulation.run();
    fmt::print("  accepted: {}\n", what);
  } catch (const std::invalid_argument& refusal) {
    fmt::print("  refused:  {}\n            {}\n", what, refusal.what());
  }
}

void refusals() {
  fmt::print("\nCompositions refused at run time (and why):\n");
  const auto made = data::make_logistic({.samples = 200, .features = 5, .seed = 1});
  std::vector<objective::Logistic> workers;
  for (const data::Shard& shard : data::partition(made.data, {.workers = 4})) {
    workers.emplace_back(shard);
  }
  const server::PeriodicAverage::Params sampled{.local_steps = 2,
                                                .participation = server::Participation::sample(2)};
  try_composition("FedPAQ with a Markov<TopK> downlink and r < n",
                  Method<skip::Never, compress::Qsgd, server::PeriodicAverage,
                         compress::Markov<compress::TopK>>{.server = sampled,
                                                           .downlink = {.compressor = {.k = 1}}},
                  workers);
  try_composition("FedPAQ with a Markov<TopK> uplink and r < n",
                  Method<skip::Never, compress::Markov<compress::TopK>, server::PeriodicAverage>{
                      .uplink = {.compressor = {.k = 1}}, .server = sampled},
                  workers);
  try_composition("LASG-WK2 + CD-Adam with r < n",
                  LazyCdAdam{.server = {.participation = server::Participation::sample(2)}},
                  workers);
  fmt::print(
      "  (refused at compile time: a skip rule with periodic averaging, and a server-side skip\n"
      "  rule with a stateful downlink under the gradient shape; see\n"
      "  tests/must_not_compile/)\n");
}

}  // namespace

int main(int argc, char** argv) try {
  Arguments args;
  examples::Cli cli(
      "compositions",
      "Compositions of laconic's policies that no paper ran (docs/experiments/compositions.md)");
  cli.add("--part", args.part, {"all", "a", "b"});
  cli.add("--iterations", args.iterations);
  cli.add("--seeds", args.seeds);
  cli.add("--eta", args.eta);
  cli.add("--threads", args.threads);
  cli.add("--out-dir", args.out_dir);
  cli.add("--data-dir", args.data_dir);
  cli.add("--float-bits", args.float_bits, {32, 64});
  cli.parse(argc, argv);
  if (args.seeds < 1) cli.usage("--seeds must be at least 1");
  const std::filesystem::path dir = examples::data_dir(args.data_dir);

  if (args.part == "all" || args.part == "a") part_a(args, dir);
  if (args.part == "all" || args.part == "b") part_b(args);
  refusals();
  fmt::print("\nhistories written to {}/\n", args.out_dir.string());
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "compositions: {}\n", error.what());
  return 1;
}
