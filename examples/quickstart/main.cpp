// laconic's main example: logistic regression on synthetic data split across 10 workers,
// trained by distributed GD, SGD, LASG-WK2 (SGD whose workers skip uploads that would change
// little), QSGD-compressed SGD, EF21 with top-k, FedPAQ (local steps, partial participation,
// quantized uploads) and CD-Adam (AMSGrad with compression both ways). Prints what each method
// cost in communication, what lazy aggregation saved, and writes each history as CSV. New
// methods join by adding a line to `methods` below.
//
//   quickstart [--rounds N] [--threads T] [--out-dir DIR]

#include <laconic/laconic.hpp>

#include "common/cli.hpp"
#include "common/experiment.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <vector>

namespace {

using namespace laconic;
using examples::Entry;
using examples::entry;
using Logistic = objective::Logistic;

constexpr Index workers = 10, train_per_worker = 500, test_samples = 1000, features = 50;

struct Arguments {
  Index rounds = 300;
  int threads = 1;
  std::filesystem::path out_dir = "quickstart";
};

}  // namespace

int main(int argc, char** argv) try {
  Arguments args;
  examples::Cli cli("quickstart",
                    "laconic's main example: GD, SGD, LASG-WK2, QSGD, EF21, FedPAQ and CD-Adam on "
                    "synthetic logistic regression over 10 workers");
  cli.add("--rounds", args.rounds);
  cli.add("--threads", args.threads);
  cli.add("--out-dir", args.out_dir);
  cli.parse(argc, argv);

  // One synthetic set: the first rows are the workers' training data, the rest a test set.
  const auto synthetic = data::make_logistic(
      {.samples = workers * train_per_worker + test_samples, .features = features, .seed = 1});
  examples::Problem<Logistic> problem{.options = {.seed = 7,
                                                  .rounds = args.rounds,
                                                  .threads = args.threads,
                                                  .record_every = 10,
                                                  .eval_every = 10}};
  double smoothness = 0;  // the largest L_m: 1/L is a safe constant step
  for (Index m = 0; m < workers; ++m) {
    problem.workers.emplace_back(
        data::Shard{synthetic.data, m * train_per_worker, (m + 1) * train_per_worker},
        Logistic::Params{.lambda = 1e-3});
    smoothness = std::max(smoothness, problem.workers.back().smoothness());
  }
  const Logistic test(
      data::Shard{synthetic.data, workers * train_per_worker, synthetic.data->rows()});
  problem.options.test_accuracy = [&test](const Vector& theta) { return test.accuracy(theta); };

  const double eta = 1 / smoothness;
  const std::vector<Entry<Logistic>> methods = {
      entry<Logistic>("gd", "GD", Gd{.server = {.step = server::StepSize::constant(eta)}}),
      entry<Logistic>("sgd", "SGD, batch 16",
                      Sgd{.server = {.step = server::StepSize::inverse_time(eta, 100),
                                     .batch = server::Batch::of(16)}}),
      // The same SGD, but a worker uploads only when its gradient changed enough (LASG's
      // WK2 rule: D = 50 rounds at most between uploads, a window of the last 10 steps).
      entry<Logistic>("lasg_wk2", "LASG-WK2, batch 16",
                      LasgWk2{.skip = {.D = 50, .d_max = 10},
                              .server = {.step = server::StepSize::inverse_time(eta, 100),
                                         .batch = server::Batch::of(16)}}),
      entry<Logistic>(
          "qsgd", "QSGD s=4, batch 16",
          CompressedSgd<compress::Qsgd>{.uplink = {.levels = 4},
                                        .server = {.step = server::StepSize::inverse_time(eta, 100),
                                                   .batch = server::Batch::of(16)}}),
      entry<Logistic>(
          "ef21", "EF21 top-5",
          Ef21<compress::TopK>{.uplink = {.compressor = {.k = 5}},
                               .server = {.step = server::StepSize::constant(eta / 2)}}),
      // 5 local steps per round by 5 of the 10 workers, QSGD (s = 4) on the model change.
      entry<Logistic>("fedpaq", "FedPAQ s=4 tau=5 r=5",
                      FedPaq{.uplink = {.levels = 4},
                             .server = {.step = server::StepSize::inverse_time(eta, 100),
                                        .batch = server::Batch::of(16),
                                        .local_steps = 5,
                                        .participation = server::Participation::sample(5)}},
                      5),
      // AMSGrad on the workers, scaled-sign Markov compression both ways.
      entry<Logistic>("cdadam", "CD-Adam sign",
                      CdAdam<>{.server = {.step = server::StepSize::constant(0.01)}}),
  };

  fmt::print("logistic regression, {} workers x {} samples, {} features, {} rounds\n\n", workers,
             train_per_worker, features, args.rounds);
  fmt::print("{:<20} {:>10} {:>10} {:>9} {:>8} {:>9} {:>10} {:>8}\n", "method", "loss", "|grad|^2",
             "test acc", "uploads", "Mbit up", "Mbit down", "time s");
  std::filesystem::create_directories(args.out_dir);
  std::vector<sim::RunResult> results;
  for (const Entry<Logistic>& method : methods) {
    const sim::RunResult& result = results.emplace_back(method.run(problem));
    const sim::Record& last = result.history.rows.back();
    const Traffic& total = result.ledger.total();
    fmt::print("{:<20} {:>10.6f} {:>10.2e} {:>9.3f} {:>8} {:>9.2f} {:>10.2f} {:>8.3f}\n",
               method.name, last.loss, last.grad_norm_sq, test.accuracy(result.theta),
               total.uploads, static_cast<double>(total.up.total()) / 1e6,
               static_cast<double>(total.down.total()) / 1e6, result.wall_seconds);
    if (result.status != sim::Status::completed || !result.warnings.empty()) {
      fmt::print("  {}\n", result.message);
    }

    result.history.write_csv(args.out_dir / (method.id + ".csv"));
  }
  // What lazy aggregation saved: LASG-WK2 against the SGD whose uploads it skips.
  const auto result_of = [&](std::string_view id) -> const sim::RunResult& {
    const auto at = std::find_if(methods.begin(), methods.end(),
                                 [&](const Entry<Logistic>& m) { return m.id == id; });
    return results[static_cast<std::size_t>(at - methods.begin())];
  };
  const sim::RunResult &sgd = result_of("sgd"), &lasg = result_of("lasg_wk2");
  const auto sgd_uploads = sgd.ledger.total().uploads, lasg_uploads = lasg.ledger.total().uploads;
  fmt::print(
      "\nLASG-WK2 made {} of SGD's {} uploads ({:.0f}% fewer) and ended at loss {:.6f} "
      "against SGD's {:.6f}\n",
      lasg_uploads, sgd_uploads,
      100.0 * (1 - static_cast<double>(lasg_uploads) / static_cast<double>(sgd_uploads)),
      lasg.history.rows.back().loss, sgd.history.rows.back().loss);
  fmt::print("histories written to {}/\n", args.out_dir.string());
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "quickstart: {}\n", error.what());
  return 1;
}
