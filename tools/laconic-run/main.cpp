// laconic-run: runs the experiment an experiment file describes (docs/running-experiments.md)
// and writes its run folder. A thin command line over runtime/experiment.hpp and
// runtime/runner.hpp.

#include <laconic/runtime/runner.hpp>
#include <laconic/runtime/spec.hpp>
#include <laconic/version.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#ifndef LACONIC_GIT_REVISION
#define LACONIC_GIT_REVISION "unknown"
#endif

int main(int argc, char** argv) {
  using namespace laconic;
  CLI::App app{
      "Runs the experiment a TOML file describes — data, partition, objective, methods, seeds, "
      "grids — and writes one run folder: experiment.json (the experiment as resolved), a "
      "History CSV per run under runs/, summary.csv, and the final table on stdout. Run it "
      "again to resume: finished runs are skipped, unfinished ones go on from their "
      "checkpoints. The file format: docs/running-experiments.md.",
      "laconic-run"};
  std::string file;
  std::vector<std::string> overrides;
  std::string output;
  int threads = 0;
  bool dry_run = false;
  bool quiet = false;
  app.add_option("file", file, "The experiment file (TOML)")->check(CLI::ExistingFile);
  app.add_option(
         "-s,--set", overrides,
         "Override a key of the file: --set run.rounds=100, --set "
         "method.0.spec=\"lasg-wk2 + qsgd(7)\" (repeatable; the value is TOML, or a string)")
      ->allow_extra_args(false)  // one key=value per --set, the file may follow
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("-o,--out", output, "The run folder (default: the file's output, or runs/<name>)");
  app.add_option("-j,--threads", threads, "Threads per run (default: the file's run.threads)")
      ->check(CLI::Range(1, 1024));
  app.add_flag("-n,--dry-run", dry_run,
               "Check everything and print the resolved experiment as JSON; run nothing");
  app.add_flag("-q,--quiet", quiet, "No progress line");
  bool list = false;
  app.add_flag("--list", list, "List every policy and objective with its parameters and defaults");
  app.set_version_flag("--version",
                       fmt::format("laconic-run {}.{}.{} ({})", version_major, version_minor,
                                   version_patch, LACONIC_GIT_REVISION));
  CLI11_PARSE(app, argc, argv);

  if (list) {
    fmt::print("{}", runtime::list_names());
    return 0;
  }
  if (file.empty()) {
    fmt::print(stderr, "laconic-run: give an experiment file (--help says more)\n");
    return 2;
  }
  try {
    if (threads > 0) overrides.push_back(fmt::format("run.threads={}", threads));
    runtime::Experiment experiment = runtime::read_experiment(file, overrides);
    if (!output.empty()) experiment.output = output;
    runtime::RunnerOptions how{.dry_run = dry_run,
                               .progress = !quiet && isatty(STDERR_FILENO) != 0,
                               .revision = LACONIC_GIT_REVISION};
    const auto resolved = runtime::run_experiment(experiment, how);
    if (dry_run) fmt::print("{}\n", resolved.dump(2));
  } catch (const ParseError& e) {
    fmt::print(stderr, "laconic-run: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "laconic-run: {}\n", e.what());
    return 1;
  }
  return 0;
}
