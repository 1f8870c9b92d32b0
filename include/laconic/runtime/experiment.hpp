#pragma once

// An experiment chosen at run time, read from a TOML file (toml++; docs/running-experiments.md
// describes the format): the data and how it is scaled, held out and split among the workers,
// the objective, the run's options and seeds, and a list of methods, each a specification
// (runtime/spec.hpp) with an optional grid of parameter values. Every key is read through the
// fields() of the struct it sets, so an unknown key, a value of the wrong type or out of range
// is refused naming the file, line, column, key, value and what is allowed — all before
// anything runs. runtime/runner.hpp runs what this reads.
//
// Needs toml++ (target laconic::runtime in CMake).

#include <laconic/core/errors.hpp>
#include <laconic/data/dataset.hpp>
#include <laconic/data/partition.hpp>
#include <laconic/data/transform.hpp>
#include <laconic/runtime/spec.hpp>
#include <laconic/sim/run.hpp>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace laconic::runtime {

// Where the examples' data come from, and what is done to it before it is split.
struct DataSpec {
  enum class Format { libsvm, csv, idx, synthetic };
  enum class Generator { logistic, multiclass, least_squares };
  Format format = Format::libsvm;  // the file must say: synthetic data only when asked
  std::string path;                // libsvm, csv: the file, relative to the experiment file
  std::string images, labels;      // idx: the two files
  std::string test_path, test_images, test_labels;  // a held-out set in files of its own
  data::Task task = data::Task::binary;             // how labels are read (LibsvmOptions::task)
  Index num_features = 0;                           // libsvm: the width; 0: the largest index seen
  Index skip_lines = 0;                             // csv
  Index label_column = -1;                          // csv: -1 the last
  std::string delimiter = ",";                      // csv: one character
  Generator generator = Generator::logistic;        // synthetic
  Index samples = 1000;
  Index features = 20;
  Index classes = 3;
  double noise = 0;
  std::uint64_t seed = 0;
  std::vector<double> two_classes;  // [a, b]: only rows labelled a (→ −1) or b (→ +1)
  Index rows = 0;                   // the first this many rows (0: all)
  bool bias = false;                // append a constant-1 feature, after scaling
  data::Scaling scale = data::Scaling::none;  // fitted on the training rows
  double test_fraction = 0;                   // rows held out for test accuracy (0: none)
  std::uint64_t split_seed = 0;

  template <class V>
  void fields(V&& v) {
    v("format", format, {"libsvm", "csv", "idx", "synthetic"});
    v("path", path);
    v("images", images);
    v("labels", labels);
    v("test_path", test_path);
    v("test_images", test_images);
    v("test_labels", test_labels);
    v("task", task, {"binary", "multiclass", "regression"});
    v("num_features", num_features);
    v("skip_lines", skip_lines);
    v("label_column", label_column);
    v("delimiter", delimiter);
    v("generator", generator, {"logistic", "multiclass", "least_squares"});
    v("samples", samples);
    v("features", features);
    v("classes", classes);
    v("noise", noise);
    v("seed", seed);
    v("two_classes", two_classes);
    v("rows", rows);
    v("bias", bias);
    v("scale", scale, {"none", "standardize", "min_max"});
    v("test_fraction", test_fraction);
    v("split_seed", split_seed);
  }
};

// One method of an experiment: its label, its specification and the grid of values some of
// its parameters take ("server.step" = [0.1, 0.2]: one run per combination).
struct MethodEntry {
  std::string label;
  MethodSpec spec;
  std::vector<std::pair<std::string, std::vector<Value>>> grid;
  // [run]'s options this method's runs change: local SGD's H steps a round make its rounds
  // fewer for the same number of iterations, say. The seeds stay the experiment's.
  std::optional<Value> run;
  Where where;
};

struct Experiment {
  std::filesystem::path file;  // the experiment file; relative data paths start from its folder
  std::string text;            // the file as read, kept beside the results
  std::vector<std::string> overrides;  // --set key=value, applied in order
  std::string name;
  std::filesystem::path output;  // the run folder
  DataSpec data;
  data::PartitionParams partition;
  Value objective;  // e.g. logistic(lambda=1e-4)
  std::vector<std::uint64_t> seeds{0};
  sim::Options options;
  // f* found before the runs by sim::reference_minimum, certified to solve_tolerance, and set
  // as every run's optimal_loss: for target_loss_gap and loss gaps (strongly convex only).
  bool solve_optimum = false;
  double solve_tolerance = 1e-12;
  // θ⁰: zero; N(0, I) drawn from RandomStream(seed, Purpose::init) for each run's seed (as
  // the EF21 code starts its nonconvex problems); or the objective's own initial_point(seed)
  // (a network's). automatic: the objective's own where it has one, else zero.
  enum class Init { automatic, zero, normal, objective };
  Init init = Init::automatic;
  std::vector<MethodEntry> methods;

  // The options of method `m`'s runs: [run]'s, with what its own `run` table changes.
  // The cost model's trace files, like data files, are relative to the experiment file.
  sim::Options options_of(const MethodEntry& m) const;

  // The top-level parameters of [run]: the seeds, the run options and f*.
  struct Run {
    std::vector<std::uint64_t>& seeds;
    sim::Options& options;
    bool& solve_optimum;
    double& solve_tolerance;
    Init& init;
    template <class V>
    void fields(V&& v) {
      v("seeds", seeds);
      options.fields(v);
      v("solve_optimum", solve_optimum);
      v("solve_tolerance", solve_tolerance);
      v("init", init, {"auto", "zero", "normal", "objective"});
    }
  };
};

namespace detail {

inline Where where_of(const toml::node& node) {
  const toml::source_region& s = node.source();
  return {s.path ? *s.path : std::string("--set"), static_cast<std::int64_t>(s.begin.line),
          static_cast<std::int64_t>(s.begin.column)};
}

// A TOML value as a specification's Value; a table becomes a call named `name` whose
// arguments are its keys.
inline Value to_value(const toml::node& node, std::string_view name = {}) {
  Value v;
  v.where = where_of(node);
  if (const toml::table* table = node.as_table()) {
    v.text = name;
    for (auto&& [key, item] : *table) {
      v.args.push_back({std::string(key.str()), to_value(item, key.str())});
    }
  } else if (const toml::array* array = node.as_array()) {
    v.kind = Value::Kind::list;
    for (const toml::node& item : *array) v.items.push_back(to_value(item));
  } else if (const auto* s = node.as_string()) {
    v.kind = Value::Kind::string;
    v.text = s->get();
  } else if (const auto* i = node.as_integer()) {
    v.kind = Value::Kind::number;
    v.text = fmt::format("{}", i->get());
  } else if (const auto* d = node.as_floating_point()) {
    v.kind = Value::Kind::number;
    v.text = fmt::format("{}", d->get());  // the shortest text that reads back exactly
  } else if (const auto* b = node.as_boolean()) {
    v.text = b->get() ? "true" : "false";
  } else {
    fail(v.where, "dates and times are not parameters of an experiment");
  }
  return v;
}

// A method's slot as written in the file: a specification in a string, or a table with the
// policy's `name` and its parameters.
inline Value slot_value(const Value& v, const std::string& path) {
  if (v.kind == Value::Kind::string) {
    Where at = v.where;
    ++at.column;  // past the opening quote
    return parse_value(v.text, at);
  }
  if (v.kind == Value::Kind::name && !v.args.empty()) {  // a table
    Value call;
    call.where = v.where;
    for (const Arg& arg : v.args) {
      if (arg.key == "name") {
        const std::string* name = arg.value.word();
        if (name == nullptr) refuse(arg.value, path + ".name", "the policy's name, a string");
        call.text = *name;
      } else {
        call.args.push_back(arg);
      }
    }
    if (call.text.empty()) fail(v.where, fmt::format("{} needs the policy's name = \"...\"", path));
    return call;
  }
  if (v.kind == Value::Kind::number) return v;  // float_bits = 32
  refuse(v, path, "a specification in a string, or a table with the policy's name");
}

// The argument of a section (or call) with this key, or nullptr.
inline const Arg* find_arg(const Value& section, std::string_view key) {
  for (const Arg& arg : section.args) {
    if (arg.key == key) return &arg;
  }
  return nullptr;
}

inline MethodEntry method_entry(const Value& table, std::size_t index) {
  const std::string path = fmt::format("method[{}]", index);
  MethodEntry entry;
  entry.where = table.where;
  if (table.kind != Value::Kind::name) refuse(table, path, "a table: [[method]]");
  for (const Arg& arg : table.args) {
    const std::string key_path = path + "." + arg.key;
    if (arg.key == "label") {
      convert(entry.label, arg.value, key_path);
    } else if (arg.key == "spec") {
      if (arg.value.kind != Value::Kind::string) refuse(arg.value, key_path, "a string");
      Where at = arg.value.where;
      ++at.column;
      MethodSpec given = parse_method(arg.value.text, at);
      for (const std::string_view slot :
           {"skip", "uplink", "server", "downlink", "float_bits", "paper_index_bits"}) {
        std::optional<Value>* from = given.slot(slot);
        std::optional<Value>* to = entry.spec.slot(slot);
        if (!*from) continue;
        if (*to) fail(arg.value.where, fmt::format("{}: {} is given twice", path, slot));
        *to = std::move(*from);
      }
    } else if (arg.key == "grid") {
      if (arg.value.kind != Value::Kind::name || arg.value.args.empty()) {
        refuse(arg.value, key_path, "a table of parameter paths and their values");
      }
      for (const Arg& point : arg.value.args) {
        if (point.value.kind != Value::Kind::list || point.value.items.empty()) {
          refuse(point.value, key_path + "." + point.key, "a list of values, e.g. [0.1, 0.2]");
        }
        entry.grid.push_back({point.key, point.value.items});
      }
    } else if (arg.key == "run") {
      if (arg.value.kind != Value::Kind::name)
        refuse(arg.value, key_path, "a table of [run]'s options");
      entry.run = arg.value;
    } else if (std::optional<Value>* slot = entry.spec.slot(arg.key)) {
      if (*slot) fail(arg.value.where, fmt::format("{}: {} is given twice", path, arg.key));
      *slot = slot_value(arg.value, key_path);
    } else {
      fail(arg.value.where,
           fmt::format("unknown key {}: a method has label, spec, grid, run and the slots {}",
                       key_path, MethodSpec::slots));
    }
  }
  if (entry.label.empty()) fail(table.where, fmt::format("{} needs a label", path));
  build_method(entry.spec);  // every policy checked now, before anything runs
  return entry;
}

// Moves the columns of v and everything in it by `delta`.
inline void shift_columns(Value& v, std::int64_t delta) {
  v.where.column += delta;
  for (Arg& arg : v.args) shift_columns(arg.value, delta);
  for (Value& item : v.items) shift_columns(item, delta);
}

// Applies `--set key=value` over the file's values: the value is TOML (a string when it does
// not read as TOML); the key is a dotted path whose numbers index arrays (method.0.spec).
inline void apply_override(Value& top, const std::string& assignment) {
  const Where at{"--set " + assignment, 1, 1};
  const std::size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) fail(at, "expected key=value, e.g. run.rounds=100");
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  Value value;
  try {
    const toml::table parsed = toml::parse("v = " + text, std::string_view(at.source));
    value = to_value(*parsed.get("v"));
    shift_columns(value, static_cast<std::int64_t>(eq + 1) - 4);  // "v = " was not written
  } catch (const toml::parse_error&) {
    value.kind = Value::Kind::string;
    value.text = text;
    value.where = {at.source, 1, static_cast<std::int64_t>(eq) + 2};
  }
  Value* node = &top;
  std::string_view rest = key;
  while (true) {
    const std::size_t dot = rest.find('.');
    const std::string part(rest.substr(0, dot));
    if (node->kind == Value::Kind::list) {
      std::size_t index = 0;
      const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), index);
      if (ec != std::errc() || end != part.data() + part.size() || index >= node->items.size()) {
        fail(at, fmt::format("{}: '{}' is not an index of an array of {}", key, part,
                             node->items.size()));
      }
      node = &node->items[index];
    } else if (node->kind == Value::Kind::name) {
      Arg* arg = nullptr;
      for (Arg& a : node->args) {
        if (a.key == part) arg = &a;
      }
      if (arg == nullptr) {
        Value table;
        table.text = part;
        table.where = at;
        arg = &node->args.emplace_back(Arg{part, table});
      }
      node = &arg->value;
    } else {
      fail(at, fmt::format("{}: '{}' is inside a value, not a table", key, part));
    }
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  *node = value;
}

// A path the experiment file gives: relative paths start from the file's folder.
inline std::filesystem::path resolve(const Experiment& e, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() || e.file.empty() ? p : e.file.parent_path() / p;
}

}  // namespace detail

inline sim::Options Experiment::options_of(const MethodEntry& m) const {
  sim::Options o = options;
  if (m.run) detail::set_params(o, *m.run, "run");
  for (std::string* trace : {&o.cost.devices.trace, &o.cost.availability.trace}) {
    if (!trace->empty()) *trace = detail::resolve(*this, *trace).string();
  }
  return o;
}

namespace detail {

// `text` with each ${NAME} replaced by the environment variable NAME, which must be set: data
// paths such as "${LACONIC_DATA_DIR}/a9a/a9a" travel between machines.
inline std::string expand_variables(const std::string& text, const Where& where,
                                    std::string_view key) {
  std::string out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t open = text.find("${", at);
    if (open == std::string::npos) break;
    const std::size_t close = text.find('}', open);
    if (close == std::string::npos) {
      fail(where, fmt::format("{}: '${{' without its '}}' in \"{}\"", key, text));
    }
    const std::string name = text.substr(open + 2, close - open - 2);
    const char* value = name.empty() ? nullptr : std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') {
      fail(where, fmt::format("{}: the environment variable {} in \"{}\" is not set (set it, or "
                              "give the path itself)",
                              key, name.empty() ? "${}" : name, text));
    }
    out.append(text, at, open - at).append(value);
    at = close + 1;
  }
  return out.append(text, std::min(at, text.size()));
}

// The data files the experiment names, with their variables expanded (expand_variables),
// exist (relative paths from the experiment file's folder), the format has the ones it needs,
// and the selections make sense.
inline void check_data(Experiment& e, const Value& section) {
  using Format = DataSpec::Format;
  DataSpec& d = e.data;
  std::vector<std::string_view> needed;
  if (d.format == Format::libsvm || d.format == Format::csv) needed = {"path"};
  if (d.format == Format::idx) needed = {"images", "labels"};
  if (d.format == Format::idx && !d.test_images.empty()) needed.push_back("test_labels");
  for (const std::string_view key : needed) {
    if (!find_arg(section, key)) {
      fail(section.where, fmt::format("data.{} is required for format {}", key,
                                      find_arg(section, "format")->value.written()));
    }
  }
  const std::pair<std::string_view, std::string DataSpec::*> files[] = {
      {"path", &DataSpec::path},
      {"images", &DataSpec::images},
      {"labels", &DataSpec::labels},
      {"test_path", &DataSpec::test_path},
      {"test_images", &DataSpec::test_images},
      {"test_labels", &DataSpec::test_labels}};
  for (const auto& [key, member] : files) {
    const Arg* arg = find_arg(section, key);
    if (!arg) continue;
    const std::string name = fmt::format("data.{}", key);
    d.*member = expand_variables(d.*member, arg->value.where, name);
    const std::filesystem::path file = resolve(e, d.*member);
    if (!std::filesystem::exists(file)) {
      fail(arg->value.where, fmt::format("{}: {} does not exist", name, file.string()));
    }
  }
  if (d.format == Format::synthetic && find_arg(section, "path")) {
    fail(find_arg(section, "path")->value.where,
         "data.path names a file, but format = \"synthetic\" generates the data");
  }
  if (const Arg* arg = find_arg(section, "two_classes"); arg && d.two_classes.size() != 2) {
    refuse(arg->value, "data.two_classes", "two labels [negative, positive], e.g. [3, 5]");
  }
  if (const Arg* arg = find_arg(section, "rows"); arg && d.rows < 0) {
    refuse(arg->value, "data.rows", ">= 0 (0: every row)");
  }
}

// The experiment the values of a TOML document describe.
inline Experiment read_experiment(const Value& top, Experiment e) {
  for (const Arg& arg : top.args) {
    const Value& v = arg.value;
    if (arg.key == "name") {
      convert(e.name, v, "name");
    } else if (arg.key == "output") {
      std::string output;
      convert(output, v, "output");
      e.output = output;
    } else if (arg.key == "data") {
      if (!find_arg(v, "format")) {
        fail(v.where,
             "data.format is required: libsvm, csv, idx or synthetic (synthetic data "
             "only when asked)");
      }
      set_params(e.data, v, "data");
      check_data(e, v);
    } else if (arg.key == "partition") {
      set_params(e.partition, v, "partition");
    } else if (arg.key == "objective") {
      e.objective = slot_value(v, "objective");
    } else if (arg.key == "run") {
      Experiment::Run run{e.seeds, e.options, e.solve_optimum, e.solve_tolerance, e.init};
      set_params(run, v, "run");
    } else if (arg.key == "method") {
      if (v.kind != Value::Kind::list) refuse(v, "method", "an array of tables: [[method]]");
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        e.methods.push_back(method_entry(v.items[i], i));
      }
    } else {
      fail(v.where, fmt::format("unknown key {}: an experiment has name, output, data, "
                                "partition, objective, run and method",
                                arg.key));
    }
  }
  if (!find_arg(top, "data")) fail(top.where, "an experiment needs [data] with its format");
  if (e.objective.text.empty()) {
    fail(top.where,
         "an experiment needs [objective] with its name (logistic, softmax or "
         "least_squares)");
  }
  if (e.methods.empty()) fail(top.where, "an experiment needs at least one [[method]]");
  for (std::size_t i = 0; i < e.methods.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (e.methods[j].label == e.methods[i].label) {
        fail(e.methods[i].where,
             fmt::format("method label '{}' is used twice: each labels its own runs",
                         e.methods[i].label));
      }
    }
  }
  if (e.seeds.empty()) fail(top.where, "run.seeds is empty: give at least one seed");
  // The options each run will have, checked where they were given.
  const auto check_options = [&e](const sim::Options& options, const Value* section,
                                  const std::string& path, const Where& otherwise) {
    try {
      sim::Options checked = options;
      checked.checkpoint_path = "checkpoint";         // each run's own, set when it runs
      if (e.solve_optimum) checked.optimal_loss = 0;  // found before the runs
      checked.validate();
    } catch (const ParamError& error) {
      fail(section ? locate(*section, path + "." + error.path(), {}) : otherwise,
           error.within(path).what());
    }
  };
  const Value* run = nullptr;
  for (const Arg& arg : top.args) {
    if (arg.key == "run") run = &arg.value;
  }
  check_options(e.options, run, "run", top.where);
  if (e.solve_optimum && !std::isnan(e.options.optimal_loss)) {
    fail(locate(*run, "run.optimal_loss", {}),
         "run.optimal_loss is given, and solve_optimum = true would find it: give one");
  }
  if (!(e.solve_tolerance > 0 && std::isfinite(e.solve_tolerance))) {
    fail(locate(*run, "run.solve_tolerance", {}),
         fmt::format("invalid parameter run.solve_tolerance = {}: must be positive and finite",
                     e.solve_tolerance));
  }
  for (std::size_t i = 0; i < e.methods.size(); ++i) {
    const MethodEntry& m = e.methods[i];
    if (m.run) check_options(e.options_of(m), &*m.run, fmt::format("method[{}].run", i), m.where);
  }
  return e;
}

}  // namespace detail

// Reads an experiment file, with `overrides` (key=value) applied over it. Throws ParseError
// naming the file, line and column of anything it cannot use.
inline Experiment read_experiment(const std::filesystem::path& file,
                                  const std::vector<std::string>& overrides = {}) {
  Experiment e;
  e.file = file;
  e.overrides = overrides;
  e.text = data::read_file(file);
  e.name = file.stem().string();
  e.output = std::filesystem::path("runs") / e.name;
  toml::table root;
  try {
    root = toml::parse(e.text, file.string());
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    throw ParseError(file.string(), static_cast<std::int64_t>(begin.line),
                     static_cast<std::int64_t>(begin.column), std::string(error.description()));
  }
  Value top = detail::to_value(root, "experiment");
  for (const std::string& o : overrides) detail::apply_override(top, o);
  return detail::read_experiment(top, std::move(e));
}

}  // namespace laconic::runtime
