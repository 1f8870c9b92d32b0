#pragma once

// Runs an experiment (runtime/experiment.hpp) into one run folder:
//   experiment.json   the experiment as resolved — every parameter with its default, the file
//                     as read, the overrides, the data's shape, laconic's version and revision,
//                     and each run's method as the engine describes it
//   runs/<run>.csv    the History of each method × grid point × seed, appended as recorded
//   summary.csv       one row per run: its last History row, status and time
//   results/<run>.json, checkpoints/<run>.ckpt   what a resumed experiment reads: a run with
//                     a result is done and skipped; one with a checkpoint goes on from it
// Every run is built (and so checked) before the first one starts. Needs toml++ and
// nlohmann-json (target laconic::runtime in CMake).

#include <laconic/core/errors.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/data/csv.hpp>
#include <laconic/data/idx.hpp>
#include <laconic/data/libsvm.hpp>
#include <laconic/data/partition.hpp>
#include <laconic/data/synthetic.hpp>
#include <laconic/data/transform.hpp>
#include <laconic/objective/least_squares.hpp>
#include <laconic/objective/logistic.hpp>
#include <laconic/objective/softmax.hpp>
#if LACONIC_WITH_TORCH
#include <laconic/objective/network.hpp>
#endif
#include <laconic/runtime/experiment.hpp>
#include <laconic/runtime/objective.hpp>
#include <laconic/runtime/simulation.hpp>
#include <laconic/sim/history.hpp>
#include <laconic/sim/reference.hpp>
#include <laconic/version.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace laconic::runtime {

// The experiment's data, ready to split among the workers.
struct PreparedData {
  std::shared_ptr<const data::Dataset> train;
  std::shared_ptr<const data::Dataset> test;  // null: nothing held out
};

// One run of an experiment: a method at one point of its grid, with one seed.
struct PlannedRun {
  std::string name{};   // for files: the label, the grid point and the seed
  std::string label{};  // the method's label and its grid point
  std::uint64_t seed = 0;
  std::vector<std::pair<std::string, std::string>> point{};  // grid path, value as written
  MethodSpec spec{};
  sim::Options options{};  // the method's (Experiment::options_of); seed, label and paths unset
  Where where{};           // the method's table
};

// How an experiment is run.
struct RunnerOptions {
  bool dry_run = false;              // check and resolve everything, write nothing, run nothing
  bool progress = false;             // a progress line on stderr (when it is a terminal)
  std::string revision = "unknown";  // the git revision laconic was built from
  std::function<void(const std::string&)> print = [](const std::string& s) {
    std::fputs(s.c_str(), stdout);
  };
};

namespace detail {

inline constexpr std::tuple objectives{Named<objective::Logistic>{"logistic"},
                                       Named<objective::Softmax>{"softmax"},
                                       Named<objective::LeastSquares>{"least_squares"}
#if LACONIC_WITH_TORCH
                                       ,
                                       Named<objective::Network>{"network"}
#endif
};
// Experiment::Init's values by name, in its order (as Experiment::Run::fields lists them).
inline constexpr std::array<std::string_view, 4> init_names{"auto", "zero", "normal", "objective"};

// The dataset in `path` (or, for IDX, `images` and `labels`) as the experiment reads it.
inline data::Dataset read_dataset(const Experiment& e, const std::string& path,
                                  const std::string& images, const std::string& labels,
                                  Index width) {
  const DataSpec& d = e.data;
  switch (d.format) {
    case DataSpec::Format::libsvm:
      return data::read_libsvm(resolve(e, path), {.num_features = width, .task = d.task});
    case DataSpec::Format::csv:
      return data::read_csv(resolve(e, path), {.skip_lines = d.skip_lines,
                                               .task = d.task,
                                               .label_column = d.label_column,
                                               .delimiter = d.delimiter.front()});
    case DataSpec::Format::idx:
      return data::read_mnist(resolve(e, images), resolve(e, labels));
    case DataSpec::Format::synthetic:
      break;
  }
  switch (d.generator) {
    case DataSpec::Generator::logistic:
      return *data::make_logistic(
                  {.samples = d.samples, .features = d.features, .noise = d.noise, .seed = d.seed})
                  .data;
    case DataSpec::Generator::multiclass:
      return *data::make_multiclass_logistic({.samples = d.samples,
                                              .features = d.features,
                                              .classes = d.classes,
                                              .seed = d.seed})
                  .data;
    case DataSpec::Generator::least_squares:
      break;
  }
  return *data::make_least_squares(
              {.samples = d.samples, .features = d.features, .noise = d.noise, .seed = d.seed})
              .data;
}

// A name that is safe in a file name: ASCII other than a letter, digit, '.', '-', '_' or '='
// becomes '_'; the bytes of other UTF-8 characters stay, so "c = 10⁻²" and "c = 10⁻⁴" differ.
inline std::string file_safe(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_' || c == '=' ||
                      static_cast<unsigned char>(c) >= 0x80;
    out += keep ? c : '_';
  }
  return out;
}

// The default policy of a slot, for a grid over a slot the method leaves at its default.
inline Value default_slot(std::string_view slot) {
  Value v;
  v.text = slot == "skip" ? "never" : slot == "server" ? "sgd" : "identity";
  return v;
}

// Sets the parameter at `path` ("server.step", "skip.D", "float_bits") of `spec` to `value`.
inline void set_at(MethodSpec& spec, const std::string& path, const Value& value,
                   const Where& where) {
  const std::size_t dot = path.find('.');
  const std::string slot = path.substr(0, dot);
  std::optional<Value>* at = spec.slot(slot);
  if (at == nullptr) {
    fail(where, fmt::format("grid key {}: must begin with a slot: {}", path, MethodSpec::slots));
  }
  if (dot == std::string::npos) {
    *at = value;
    return;
  }
  if (!*at) *at = default_slot(slot);
  Value* call = &**at;
  std::string_view rest = std::string_view(path).substr(dot + 1);
  while (true) {
    const std::size_t next = rest.find('.');
    const std::string key(rest.substr(0, next));
    Arg* arg = nullptr;
    for (Arg& a : call->args) {
      if (a.key == key) arg = &a;
    }
    if (next == std::string_view::npos) {
      if (arg) {
        arg->value = value;
      } else {
        call->args.push_back({key, value});
      }
      return;
    }
    if (arg == nullptr || arg->value.kind != Value::Kind::name) {
      fail(where, fmt::format("grid key {}: the method gives no {}(...) to set {} in", path, key,
                              rest.substr(next + 1)));
    }
    call = &arg->value;
    rest = rest.substr(next + 1);
  }
}

// Each value of a parameter as a fully resolved JSON value, through the fields() of its type.
template <class T>
nlohmann::json json_of(const T& value);

struct ToJson {
  nlohmann::json& out;
  template <class T>
  void operator()(std::string_view name, T& field) {
    out[std::string(name)] = json_of(field);
  }
  template <class E>
  void operator()(std::string_view name, E& field, std::initializer_list<std::string_view> names) {
    out[std::string(name)] = std::string(names.begin()[static_cast<int>(field)]);
  }
  template <class E>
  void kind(E& field, std::initializer_list<KindSpec> kinds, E) {
    out["kind"] = std::string(kinds.begin()[static_cast<int>(field)].name);
  }
};

template <class T>
nlohmann::json json_of(const T& value) {
  if constexpr (std::is_same_v<T, std::optional<double>>) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  } else if constexpr (IsVector<T>::value) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& item : value) list.push_back(json_of(item));
    return list;
  } else if constexpr (HasFields<T>) {
    nlohmann::json object = nlohmann::json::object();
    T copy = value;  // fields() visits mutable fields
    copy.fields(ToJson{object});
    return object;
  } else {
    return value;
  }
}

inline nlohmann::json json_of(const MethodSpec& spec) {
  nlohmann::json out = nlohmann::json::object();
  MethodSpec copy = spec;
  for (const std::string_view slot :
       {"skip", "uplink", "server", "downlink", "float_bits", "paper_index_bits"}) {
    if (const auto& v = *copy.slot(slot)) out[std::string(slot)] = v->written();
  }
  return out;
}

// A run's status as its results and summary name it.
inline std::string_view status_name(sim::Status status) {
  static constexpr std::string_view names[] = {"completed", "stopped", "diverged", "reached"};
  return names[static_cast<int>(status)];
}

// The History row a run ended on, with its verdict, as results/<run>.json keeps it.
inline nlohmann::json result_json(const PlannedRun& run, const std::string& description,
                                  const sim::RunResult& r) {
  const sim::Record& last = r.history.rows.back();
  const Traffic& t = last.traffic;
  return {{"run", run.name},
          {"method", run.label},
          {"seed", run.seed},
          {"description", description},
          {"status", status_name(r.status)},
          {"message", r.message},
          {"rounds", last.round},
          {"loss", last.loss},
          {"grad_norm_sq", last.grad_norm_sq},
          {"test_accuracy", last.test_accuracy},
          {"uploads", t.uploads},
          {"downloads", t.downloads},
          {"bits_up", t.up.total()},
          {"bits_down", t.down.total()},
          {"bits_up_paper", t.up.paper},
          {"bits_down_paper", t.down.paper},
          {"time", last.time},
          {"dropped_uploads", t.dropped_uploads},
          {"wall_seconds", r.wall_seconds},
          {"history", "runs/" + run.name + ".csv"}};
}

// A JSON number as the CSV writes it: NaN (JSON null) as nan.
inline std::string csv_number(const nlohmann::json& j) {
  if (j.is_null()) return "nan";
  if (j.is_number_float()) return fmt::format("{:.17g}", j.get<double>());
  return j.dump();
}

// "a,b" as one CSV field: quoted when it holds a comma or a quote.
inline std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (const char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// laconic::write_atomically, failing with the file's name and the reason.
inline void write_atomically(const std::filesystem::path& path, const std::string& text) {
  try {
    laconic::write_atomically(path, text);
  } catch (const std::system_error& e) {
    throw std::runtime_error(
        fmt::format("cannot write {}: {}", temporary_for(path).string(), reason_of(e)));
  }
}

}  // namespace detail

// Every name a specification and an experiment file may use, with its parameters and their
// defaults (laconic-run --list).
inline std::string list_names() {
  const auto lines = [](const auto& table) {
    return std::apply(
        [](const auto&... entry) {
          return (std::string() + ... +
                  detail::policy_line<typename std::decay_t<decltype(entry)>::type::Params>(
                      entry.name));
        },
        table);
  };
  return "Skip rules (slot skip; none: every worker uploads every round):\n" +
         lines(detail::skip_rules) +
         "Channels (slot uplink; down:NAME puts one on the downlink):\n" +
         lines(detail::compressors) +
         "  markov(C, start=zero)   C one of the compressors above: Markov compression (EF21, "
         "LAQ, CD-Adam)\n      start: zero, exact\n"
         "  error_feedback(C)       C one of the compressors above: error feedback (EF-SGD)\n"
         "Server updates (slot server):\n" +
         lines(detail::servers) +
         "Links: float_bits=64 (32 or 64); paper_index_bits=auto (0 or 32; auto: 32 under "
         "amsgrad, 0 otherwise)\n"
         "Objectives ([objective] name = ...):\n" +
         lines(detail::objectives);
}

// The data of experiment `e`: read (or generated), the held-out part set aside, scaled with the
// training rows' statistics.
inline PreparedData prepare_data(const Experiment& e) {
  const DataSpec& d = e.data;
  const auto selected = [&](data::Dataset set) {
    if (d.two_classes.empty()) return set;
    return within("data",
                  [&] { return data::two_classes(set, d.two_classes[0], d.two_classes[1]); });
  };
  data::Dataset all = selected(detail::read_dataset(e, d.path, d.images, d.labels, d.num_features));
  if (d.rows > 0) all = data::first_rows(all, d.rows);
  PreparedData out;
  const bool test_files = !d.test_path.empty() || !d.test_images.empty();
  if (test_files) {
    out.train = std::make_shared<const data::Dataset>(std::move(all));
    out.test = std::make_shared<const data::Dataset>(selected(
        detail::read_dataset(e, d.test_path, d.test_images, d.test_labels, out.train->cols())));
  } else if (d.test_fraction > 0) {
    data::HeldOut held = data::hold_out(all, d.test_fraction, d.split_seed);
    out.train = std::move(held.train);
    out.test = std::move(held.test);
  } else {
    out.train = std::make_shared<const data::Dataset>(std::move(all));
  }
  if (d.scale != data::Scaling::none) {
    const data::Scaler scaler = data::Scaler::fit(*out.train, d.scale);
    out.train = std::make_shared<const data::Dataset>(scaler.apply(*out.train));
    if (out.test) out.test = std::make_shared<const data::Dataset>(scaler.apply(*out.test));
  }
  if (d.bias) {
    out.train = std::make_shared<const data::Dataset>(data::with_bias(*out.train));
    if (out.test) out.test = std::make_shared<const data::Dataset>(data::with_bias(*out.test));
  }
  return out;
}

// Every run of experiment `e`, in order: method by method, grid point by grid point (the last
// key varying fastest), seed by seed.
inline std::vector<PlannedRun> plan_runs(const Experiment& e) {
  std::vector<PlannedRun> runs;
  for (const MethodEntry& m : e.methods) {
    std::vector<std::size_t> at(m.grid.size(), 0);
    while (true) {
      PlannedRun point{
          .label = m.label, .spec = m.spec, .options = e.options_of(m), .where = m.where};
      std::vector<std::string> parts;
      for (std::size_t i = 0; i < m.grid.size(); ++i) {
        const auto& [path, values] = m.grid[i];
        Value v = values[at[i]];
        if (v.kind == Value::Kind::string) {  // a policy or a value in a specification's words
          Where where = v.where;
          ++where.column;
          v = parse_value(v.text, where);
        }
        detail::set_at(point.spec, path, v, values[at[i]].where);
        point.point.push_back({path, v.written()});
        parts.push_back(path + "=" + v.written());
      }
      if (!parts.empty()) point.label += fmt::format(" ({})", fmt::join(parts, ", "));
      parts.insert(parts.begin(), m.label);
      for (const std::uint64_t seed : e.seeds) {
        PlannedRun run = point;
        run.seed = seed;
        run.name = detail::file_safe(fmt::format("{}__seed{}", fmt::join(parts, "__"), seed));
        runs.push_back(std::move(run));
      }
      std::size_t i = m.grid.size();
      while (i > 0 && ++at[i - 1] == m.grid[i - 1].second.size()) at[--i] = 0;
      if (i == 0) break;
    }
  }
  // Labels that differ only in what file_safe replaces ("a b", "a/b") would share files.
  std::map<std::string, std::size_t> named;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto [first, fresh] = named.emplace(runs[i].name, i);
    if (!fresh) {
      fail(runs[i].where,
           fmt::format("runs '{}' and '{}' would share the file name {}: give the methods labels "
                       "that differ in more than spaces and punctuation",
                       runs[first->second].label, runs[i].label, runs[i].name));
    }
  }
  return runs;
}

// The workers' objectives, one per shard, from the objective's specification (e.g.
// logistic(lambda=1e-4)), and what the runs need to know of them.
struct Workers {
  std::vector<Objective> objectives;
  std::function<double(const Vector&)> accuracy;  // on the held-out set, when there is one
  double strong_convexity = 0;  // μ: λ of an L2-regularized objective, 0 when not known
  std::function<Vector(std::uint64_t)> initial_point;  // θ⁰ by seed, when the objective has one
};
inline Workers make_workers(const Value& objective, const std::vector<data::Shard>& shards,
                            const std::shared_ptr<const data::Dataset>& test) {
  Workers out;
  const bool known = detail::find(detail::objectives, objective.text, [&](auto entry) {
    using O = typename decltype(entry)::type;
    const auto params = detail::checked_params<typename O::Params>(
        objective, "objective", "objective",
        [&](const auto& p) { static_cast<void>(O(shards.front(), p)); });
    for (const data::Shard& shard : shards) out.objectives.emplace_back(O(shard, params));
    if constexpr (requires { params.lambda; }) {
      out.strong_convexity = params.lambda;
      if constexpr (requires { params.regularizer; }) {
        if (params.regularizer != decltype(params.regularizer)::l2) out.strong_convexity = 0;
      }
    }
    if constexpr (requires(const O& o, std::uint64_t seed) { o.initial_point(seed); }) {
      out.initial_point = [first =
                               std::make_shared<const O>(*out.objectives.front().template as<O>())](
                              std::uint64_t seed) { return first->initial_point(seed); };
    }
    if constexpr (HasAccuracy<O>) {
      if (test) {
        out.accuracy = [model = std::make_shared<const O>(data::whole(test), params)](
                           const Vector& theta) { return model->accuracy(theta); };
      }
    }
  });
  if (!known) {
    detail::refuse(objective, "objective",
                   fmt::format("one of {}", detail::names_of(detail::objectives)));
  }
  return out;
}

// Runs experiment `e` into its run folder (or, dry, only checks and resolves it); returns the
// resolved experiment as experiment.json holds it.
inline nlohmann::json run_experiment(const Experiment& e, const RunnerOptions& how = {}) {
  namespace fs = std::filesystem;
  const PreparedData prepared = prepare_data(e);
  const auto shards =
      within("partition", [&] { return data::partition(prepared.train, e.partition); });

  Workers built = make_workers(e.objective, shards, prepared.test);
  std::vector<Objective>& workers = built.objectives;
  const std::function<double(const Vector&)>& accuracy = built.accuracy;
  const double strong_convexity = built.strong_convexity;
  const Index dim = workers.front().dim();
  Experiment::Init init = e.init;
  if (init == Experiment::Init::automatic) {
    init = built.initial_point ? Experiment::Init::objective : Experiment::Init::zero;
  }
  if (init == Experiment::Init::objective && !built.initial_point) {
    fail(e.objective.where, fmt::format("run.init = \"objective\": {} has no initial point of "
                                        "its own (zero or normal)",
                                        e.objective.written()));
  }
  const auto theta0_of = [&](std::uint64_t seed) {
    Vector theta0 = Vector::Zero(dim);
    if (init == Experiment::Init::normal) {
      RandomStream rng(seed, Purpose::init);
      for (Index j = 0; j < dim; ++j) theta0[j] = rng.normal();
    } else if (init == Experiment::Init::objective) {
      theta0 = built.initial_point(seed);
    }
    return theta0;
  };
  if (e.solve_optimum && !(strong_convexity > 0)) {
    fail(e.objective.where,
         fmt::format("run.solve_optimum needs a strongly convex objective, and {} is not: "
                     "lambda > 0 with the l2 regularizer (f* is certified by strong convexity)",
                     e.objective.written()));
  }
  std::optional<sim::Reference> optimum;
  if (e.solve_optimum) {
    double smoothness = 0;
    std::vector<double> weights;
    double samples = 0;
    for (const Objective& w : workers) {
      smoothness = std::max(smoothness, std::isnan(w.smoothness()) ? 1.0 : w.smoothness());
      weights.push_back(static_cast<double>(w.size()));
      samples += weights.back();
    }
    for (double& w : weights) {
      w = e.options.weighting == sim::Weighting::samples
              ? w / samples
              : 1.0 / static_cast<double>(workers.size());
    }
    optimum = sim::reference_minimum(workers, dim, strong_convexity, smoothness, e.options.threads,
                                     e.solve_tolerance, 100000, weights);
    if (optimum->bound > e.solve_tolerance) {
      how.print(fmt::format("warning: f* = {:.17g} is certified only to {:.3g}, not {:.3g}\n",
                            optimum->minimum, optimum->bound, e.solve_tolerance));
    }
  }

  const std::vector<PlannedRun> runs = plan_runs(e);
  const auto options_for = [&](const PlannedRun& run) {
    sim::Options o = run.options;
    if (optimum) o.optimal_loss = optimum->minimum;
    o.seed = run.seed;
    o.label = run.label;
    o.test_accuracy = accuracy;
    o.history_path = e.output / "runs" / (run.name + ".csv");  // written only by a run
    if (o.checkpoint_every > 0) o.checkpoint_path = e.output / "checkpoints" / (run.name + ".ckpt");
    return o;
  };
  // A run's simulation; a parameter the engine refuses (one that depends on the data, say) is
  // reported where the experiment gave it.
  const auto simulation_of = [&](const PlannedRun& run) {
    try {
      return std::make_unique<Simulation<>>(build_method(run.spec), workers, theta0_of(run.seed),
                                            options_for(run));
    } catch (const ParamError& error) {
      MethodSpec spec = run.spec;
      const std::string& path = error.path();
      const std::optional<Value>* slot = spec.slot(path.substr(0, path.find('.')));
      fail(slot && *slot ? detail::locate(**slot, path, {}) : run.where,
           fmt::format("{}: {}", run.label, error.what()));
    }
  };

  // Every run built, and so checked, before the first starts.
  nlohmann::json resolved = {
      {"laconic", fmt::format("{}.{}.{}", version_major, version_minor, version_patch)},
      {"revision", how.revision},
      {"file", e.file.string()},
      {"overrides", e.overrides},
      {"name", e.name},
      {"output", e.output.string()},
      {"data", detail::json_of(e.data)},
      {"partition", detail::json_of(e.partition)},
      {"objective", e.objective.written()},
      {"seeds", e.seeds},
      {"run", detail::json_of(e.options)},
      {"shape",
       {{"train_rows", prepared.train->rows()},
        {"test_rows", prepared.test ? prepared.test->rows() : 0},
        {"features", prepared.train->cols()},
        {"classes", prepared.train->num_classes()},
        {"workers", shards.size()},
        {"dim", dim}}},
      {"text", e.text}};
  const std::string_view init_name = detail::init_names[static_cast<std::size_t>(init)];
  resolved["init"] = init_name;
  resolved["solve_optimum"] = e.solve_optimum;
  if (optimum) {
    resolved["optimal_loss"] = {{"value", optimum->minimum},
                                {"bound", optimum->bound},
                                {"iterations", optimum->iterations}};
  }
  nlohmann::json planned = nlohmann::json::array();
  std::vector<std::string> descriptions;
  for (const PlannedRun& run : runs) {
    // The engine's description, and θ⁰ when it is drawn: a resumed folder must match both.
    descriptions.push_back(
        simulation_of(run)->describe() +
        (init == Experiment::Init::zero ? "" : fmt::format("; init={}", init_name)));
    planned.push_back({{"run", run.name},
                       {"method", run.label},
                       {"seed", run.seed},
                       {"spec", detail::json_of(run.spec)},
                       {"description", descriptions.back()}});
    const nlohmann::json options = detail::json_of(run.options);
    if (options != resolved["run"]) planned.back()["options"] = options;  // the method's own
  }
  resolved["runs"] = planned;
  if (how.dry_run) return resolved;

  detail::write_atomically(e.output / "experiment.json", resolved.dump(2) + "\n");
  std::vector<nlohmann::json> results;
  const auto write_summary = [&] {
    std::string csv =
        "run,method,seed,status,rounds,loss,grad_norm_sq,test_accuracy,uploads,downloads,"
        "bits_up,bits_down,bits_up_paper,bits_down_paper,time,wall_seconds,history\n";
    for (const nlohmann::json& r : results) {
      csv += fmt::format(
          "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", detail::csv_field(r["run"]),
          detail::csv_field(r["method"]), r["seed"].dump(), r["status"].get<std::string>(),
          r["rounds"].dump(), detail::csv_number(r["loss"]), detail::csv_number(r["grad_norm_sq"]),
          detail::csv_number(r["test_accuracy"]), r["uploads"].dump(), r["downloads"].dump(),
          r["bits_up"].dump(), r["bits_down"].dump(), r["bits_up_paper"].dump(),
          r["bits_down_paper"].dump(), detail::csv_number(r["time"]),
          detail::csv_number(r["wall_seconds"]), detail::csv_field(r["history"]));
    }
    detail::write_atomically(e.output / "summary.csv", csv);
  };

  // The runs, a finished one skipped and an unfinished one resumed from its checkpoint.
  Index rounds_left = 0;
  for (const PlannedRun& run : runs) rounds_left += run.options.rounds;
  const auto started = std::chrono::steady_clock::now();
  Index rounds_done = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const PlannedRun& run = runs[i];
    const fs::path result_path = e.output / "results" / (run.name + ".json");
    if (fs::exists(result_path)) {
      nlohmann::json done = nlohmann::json::parse(data::read_file(result_path));
      if (done.value("description", "") != descriptions[i]) {
        throw std::runtime_error(fmt::format(
            "{} holds run {} of another experiment (its method, parameters or seed differ): "
            "remove the folder or choose another output",
            e.output.string(), run.name));
      }
      // Done, unless it completed fewer rounds than are now asked for: then it goes on.
      if (done["status"] != "completed" || done["rounds"].get<Index>() >= run.options.rounds) {
        results.push_back(std::move(done));
        rounds_left -= run.options.rounds;
        continue;
      }
    }
    const auto simulation = simulation_of(run);
    const sim::Options options = options_for(run);
    if (!options.checkpoint_path.empty() && fs::exists(options.checkpoint_path)) {
      simulation->load(options.checkpoint_path);
      rounds_left -= simulation->round();
    }
    sim::Callback progress;
    if (how.progress) {
      auto last = std::chrono::steady_clock::now();
      progress = [&, last, i](const sim::RoundView& view) mutable {
        ++rounds_done;
        --rounds_left;
        const auto now = std::chrono::steady_clock::now();
        if (now - last < std::chrono::milliseconds(200)) return sim::Control::proceed;
        last = now;
        const double seconds = std::chrono::duration<double>(now - started).count();
        const double rate = static_cast<double>(rounds_done) / seconds;
        const auto eta = static_cast<long>(static_cast<double>(rounds_left) / rate);
        fmt::print(stderr,
                   "\r\033[K[{}/{}] {} seed {}: round {}/{} — {:.0f} rounds/s, ETA {}:{:02}:{:02}",
                   i + 1, runs.size(), run.label, run.seed, view.round, options.rounds, rate,
                   eta / 3600, eta / 60 % 60, eta % 60);
        return sim::Control::proceed;
      };
    }
    const sim::RunResult r = simulation->run_until(options.rounds, progress);
    if (how.progress) fmt::print(stderr, "\r\033[K");
    results.push_back(detail::result_json(run, descriptions[i], r));
    detail::write_atomically(result_path, results.back().dump(2) + "\n");
    write_summary();
  }
  write_summary();

  // The final table: each method and grid point, the mean over its seeds.
  std::map<std::string, std::vector<const nlohmann::json*>> by_method;
  std::vector<std::string> order;
  for (const nlohmann::json& r : results) {
    const std::string label = r["method"];
    if (!by_method.contains(label)) order.push_back(label);
    by_method[label].push_back(&r);
  }
  std::string table =
      fmt::format("{:<40} {:>5} {:>8} {:>13} {:>13} {:>9} {:>10} {:>12}  {}\n", "method", "seeds",
                  "rounds", "loss", "grad_norm_sq", "accuracy", "uploads", "bits_up", "status");
  for (const std::string& label : order) {
    const auto& rs = by_method[label];
    const auto mean = [&](const char* key) {
      double sum = 0;
      for (const nlohmann::json* r : rs) {
        sum += (*r)[key].is_null() ? std::nan("") : (*r)[key].get<double>();
      }
      return sum / static_cast<double>(rs.size());
    };
    std::map<std::string, int> statuses;
    for (const nlohmann::json* r : rs) ++statuses[(*r)["status"].get<std::string>()];
    std::vector<std::string> status;
    for (const auto& [s, count] : statuses) status.push_back(fmt::format("{} {}", count, s));
    table += fmt::format(
        "{:<40} {:>5} {:>8.0f} {:>13.6g} {:>13.6g} {:>9.4f} {:>10.0f} {:>12.4g}  {}\n", label,
        rs.size(), mean("rounds"), mean("loss"), mean("grad_norm_sq"), mean("test_accuracy"),
        mean("uploads"), mean("bits_up"), fmt::join(status, ", "));
  }
  how.print(table);
  how.print(fmt::format("{} runs in {}\n", results.size(), e.output.string()));
  return resolved;
}

}  // namespace laconic::runtime
