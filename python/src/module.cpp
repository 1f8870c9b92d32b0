// laconic's compiled Python module, _laconic (the package `laconic` wraps it; docs/python.md):
// runs of methods chosen by specification on NumPy and SciPy data, experiment files, the data
// readers, and the library's errors as Python exceptions. Every run goes through the runtime
// layer (runtime::Simulation) and the runner's own pieces (make_workers), so it is the run
// laconic-run makes with the same specification and seed, byte for byte.

#include <laconic/data/csv.hpp>
#include <laconic/data/idx.hpp>
#include <laconic/data/libsvm.hpp>
#include <laconic/data/partition.hpp>
#include <laconic/runtime/experiment.hpp>
#include <laconic/runtime/runner.hpp>
#include <laconic/runtime/simulation.hpp>
#include <laconic/version.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace py = pybind11;
using namespace laconic;

namespace {

// Where a Python argument's values come from, in messages: the parameter's path says which.
const runtime::Where from_python{"<python>", 1, 1};

// A Python value as the same value in an experiment file (runtime::detail::to_value): a dict
// is a table, a list or tuple an array, and str, bool, int and float themselves.
runtime::Value value_of(py::handle o, std::string_view name = {}) {
  runtime::Value v;
  v.where = from_python;
  if (py::isinstance<py::dict>(o)) {
    v.text = name;
    for (auto [key, item] : py::reinterpret_borrow<py::dict>(o)) {
      const auto k = py::cast<std::string>(py::str(key));
      v.args.push_back({k, value_of(item, k)});
    }
  } else if (py::isinstance<py::list>(o) || py::isinstance<py::tuple>(o)) {
    v.kind = runtime::Value::Kind::list;
    for (py::handle item : o) v.items.push_back(value_of(item));
  } else if (py::isinstance<py::str>(o)) {
    v.kind = runtime::Value::Kind::string;
    v.text = py::cast<std::string>(o);
  } else if (py::isinstance<py::bool_>(o)) {
    v.text = py::cast<bool>(o) ? "true" : "false";
  } else if (PyIndex_Check(o.ptr())) {  // int and NumPy's integers
    v.kind = runtime::Value::Kind::number;
    v.text = py::cast<std::string>(py::str(py::int_(py::reinterpret_borrow<py::object>(o))));
  } else if (PyFloat_Check(o.ptr()) || py::hasattr(o, "__float__")) {  // NumPy's floats too
    v.kind = runtime::Value::Kind::number;
    // The shortest text that reads back exactly.
    v.text = fmt::format("{}", py::cast<double>(py::float_(py::reinterpret_borrow<py::object>(o))));
  } else {
    throw py::type_error(
        fmt::format("{}: a {} is not a parameter value (give str, int, float, "
                    "bool, list or dict)",
                    name.empty() ? "value" : name, py::cast<std::string>(py::str(o.get_type()))));
  }
  return v;
}

// Parameters given as a dict, read as an experiment file's section `path` is.
template <class Params>
void set_from(Params& params, const py::dict& given, const std::string& path) {
  if (!given.empty()) runtime::detail::set_params(params, value_of(given, path), path);
}

// The features of a dataset from NumPy (dense, rows × columns) or from the three arrays of a
// CSR matrix (SciPy's data, indices and indptr, checked by Dataset), with its labels.
using DenseArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IndexArray = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

Vector vector_of(const DenseArray& a, const char* name) {
  if (a.ndim() != 1) {
    throw py::value_error(
        fmt::format("{} must be one-dimensional, not {}-dimensional", name, a.ndim()));
  }
  return Eigen::Map<const Vector>(a.data(), a.shape(0));
}

data::Task task_of(const std::string& task) {
  if (task == "binary") return data::Task::binary;
  if (task == "multiclass") return data::Task::multiclass;
  if (task == "regression") return data::Task::regression;
  throw py::value_error(fmt::format(
      "invalid parameter task = \"{}\": must be binary, multiclass or regression", task));
}

// Labels mapped as the readers map a file's (binary: the smaller of two values -> -1, the
// larger -> +1; multiclass: sorted values -> 0..C-1), with the number of classes. A bad label
// is reported as "y:ROW:1" (rows from 1).
std::pair<Vector, int> labels_of(const DenseArray& y, const std::string& task) {
  const Vector raw = vector_of(y, "y");
  data::detail::LabelMap map(task_of(task), "y");
  map.reserve(static_cast<std::size_t>(raw.size()));
  for (Index i = 0; i < raw.size(); ++i) map.add(raw[i], i + 1, 1);
  return map.finish();
}

using DatasetPtr = std::shared_ptr<data::Dataset>;

DatasetPtr dense_dataset(const DenseArray& x, const DenseArray& y, const std::string& task) {
  if (x.ndim() != 2) {
    throw py::value_error(fmt::format("X must be two-dimensional, not {}-dimensional", x.ndim()));
  }
  DenseMatrix features = Eigen::Map<const DenseMatrix>(x.data(), x.shape(0), x.shape(1));
  auto [labels, classes] = labels_of(y, task);
  return std::make_shared<data::Dataset>(
      data::Dataset::compact(std::move(features), std::move(labels), task_of(task), classes));
}

DatasetPtr csr_dataset(const DenseArray& values, const IndexArray& indices,
                       const IndexArray& indptr, Index rows, Index cols, const DenseArray& y,
                       const std::string& task) {
  if (indptr.ndim() != 1 || indptr.shape(0) != rows + 1 || indices.shape(0) != values.shape(0)) {
    throw py::value_error("X: a CSR matrix needs rows + 1 row pointers and one index per value");
  }
  const Eigen::Map<const SparseMatrix> view(rows, cols, values.shape(0), indptr.data(),
                                            indices.data(), values.data());
  auto [labels, classes] = labels_of(y, task);
  return std::make_shared<data::Dataset>(
      data::Dataset::compact(SparseMatrix(view), std::move(labels), task_of(task), classes));
}

// Either way the data are stored as the file readers store them (CSR or dense, whichever is
// smaller), so that a run on them is the run on the same data read from a file.

// A dataset as Python sees it: ("dense", X, y) or ("csr", values, indices, indptr, shape, y).
py::tuple python_dataset(const data::Dataset& d) {
  const Vector& labels = d.labels();
  py::array_t<double> y(labels.size(), labels.data());
  if (!d.is_sparse()) {
    const DenseMatrix& x = d.dense();
    py::array_t<double> features({x.rows(), x.cols()}, x.data());
    return py::make_tuple("dense", features, y);
  }
  const SparseMatrix& x = d.sparse();
  const Index nnz = x.nonZeros();
  return py::make_tuple("csr", py::array_t<double>(nnz, x.valuePtr()),
                        py::array_t<std::int32_t>(nnz, x.innerIndexPtr()),
                        py::array_t<std::int32_t>(x.rows() + 1, x.outerIndexPtr()),
                        py::make_tuple(x.rows(), x.cols()), y);
}

// A History as columns of NumPy arrays, named and ordered as its CSV's columns.
py::dict history_columns(const sim::History& h) {
  const auto n = static_cast<py::ssize_t>(h.rows.size());
  const auto column = [&](auto value_of_row) {
    using T = decltype(value_of_row(h.rows.front()));
    py::array_t<T> out(n);
    auto view = out.template mutable_unchecked<1>();
    for (py::ssize_t i = 0; i < n; ++i) view(i) = value_of_row(h.rows[static_cast<std::size_t>(i)]);
    return out;
  };
  using R = const sim::Record&;
  py::dict out;
  if (n == 0) return out;
  out["round"] = column([](R r) { return static_cast<std::int64_t>(r.round); });
  out["loss"] = column([](R r) { return r.loss; });
  out["grad_norm_sq"] = column([](R r) { return r.grad_norm_sq; });
  out["test_accuracy"] = column([](R r) { return r.test_accuracy; });
  out["uploads"] = column([](R r) { return r.traffic.uploads; });
  out["downloads"] = column([](R r) { return r.traffic.downloads; });
  out["bits_up"] = column([](R r) { return r.traffic.up.total(); });
  out["bits_down"] = column([](R r) { return r.traffic.down.total(); });
  out["bits_up_values"] = column([](R r) { return r.traffic.up.values; });
  out["bits_up_indices"] = column([](R r) { return r.traffic.up.indices; });
  out["bits_up_metadata"] = column([](R r) { return r.traffic.up.metadata; });
  out["bits_down_values"] = column([](R r) { return r.traffic.down.values; });
  out["bits_down_indices"] = column([](R r) { return r.traffic.down.indices; });
  out["bits_down_metadata"] = column([](R r) { return r.traffic.down.metadata; });
  out["gradient_samples"] = column([](R r) { return r.traffic.gradient_samples; });
  out["time"] = column([](R r) { return r.time; });
  out["bits_up_paper"] = column([](R r) { return r.traffic.up.paper; });
  out["bits_down_paper"] = column([](R r) { return r.traffic.down.paper; });
  return out;
}

py::dict traffic_of(const Traffic& t) {
  py::dict out;
  out["uploads"] = t.uploads;
  out["downloads"] = t.downloads;
  out["bits_up"] = t.up.total();
  out["bits_down"] = t.down.total();
  out["bits_up_paper"] = t.up.paper;
  out["bits_down_paper"] = t.down.paper;
  out["gradient_samples"] = t.gradient_samples;
  return out;
}

// The method: a specification in a string, or a dict of slots as a [[method]] table has them.
runtime::Method method_of(const py::object& method) {
  if (py::isinstance<py::str>(method)) {
    return runtime::read_method(py::cast<std::string>(method), {"method", 1, 1});
  }
  if (!py::isinstance<py::dict>(method)) {
    throw py::type_error("method must be a specification (str) or a dict of its slots");
  }
  py::dict table = py::reinterpret_borrow<py::dict>(method);
  if (!table.contains("label")) {
    table = py::dict(**table);
    table["label"] = "method";
  }
  const runtime::MethodEntry entry = runtime::detail::method_entry(value_of(table, "method"), 0);
  if (!entry.grid.empty() || entry.run) {
    throw py::value_error(
        "laconic.run runs one method: a grid or run table belongs in an "
        "experiment file (laconic.experiment)");
  }
  return runtime::build_method(entry.spec);
}

// One run, as laconic-run makes it for one method and seed; the GIL is released while it runs
// and Ctrl-C stops it between rounds.
py::dict run(const py::object& method, const DatasetPtr& train, const DatasetPtr& test,
             const py::object& objective, const py::dict& partition, const py::dict& options,
             std::uint64_t seed, const std::string& label, std::optional<DenseArray> theta0) {
  const runtime::Method chosen = method_of(method);
  data::PartitionParams split;
  set_from(split, partition, "partition");
  const auto shards = within("partition", [&] { return data::partition(train, split); });
  const runtime::Value objective_value =
      py::isinstance<py::str>(objective)
          ? runtime::parse_value(py::cast<std::string>(objective), {"objective", 1, 1})
          : runtime::detail::slot_value(value_of(objective, "objective"), "objective");
  runtime::Workers workers = runtime::make_workers(objective_value, shards, test);
  sim::Options o;
  set_from(o, options, "run");
  within("run", [&] { o.validate(); });
  o.seed = seed;
  o.label = label;
  o.test_accuracy = workers.accuracy;
  const Index dim = workers.objectives.front().dim();
  Vector start = theta0 ? vector_of(*theta0, "theta0") : Vector::Zero(dim);
  if (start.size() != dim) {
    throw py::value_error(fmt::format("theta0 has {} entries and the model {} (the data's columns)",
                                      start.size(), dim));
  }
  runtime::Simulation<> simulation(chosen, std::move(workers.objectives), std::move(start), o);
  bool interrupted = false;
  sim::RunResult result;
  {
    py::gil_scoped_release unlocked;
    result = simulation.run([&](const sim::RoundView&) {
      py::gil_scoped_acquire locked;
      interrupted = PyErr_CheckSignals() != 0;
      return interrupted ? sim::Control::stop : sim::Control::proceed;
    });
  }
  if (interrupted) throw py::error_already_set();

  py::dict out;
  out["theta"] = py::array_t<double>(result.theta.size(), result.theta.data());
  out["history"] = history_columns(result.history);
  out["csv"] = result.history.to_csv();
  out["status"] = runtime::detail::status_name(result.status);
  out["message"] = result.message;
  out["description"] = simulation.describe();
  out["warnings"] = simulation.warnings();
  out["traffic"] = traffic_of(result.ledger.total());
  out["rounds"] = result.history.rows.empty() ? Index{0} : result.history.rows.back().round;
  return out;
}

// Runs an experiment file as laconic-run does; returns the resolved experiment (JSON text).
std::string experiment(const std::filesystem::path& file, const std::vector<std::string>& overrides,
                       const std::optional<std::filesystem::path>& output, bool dry_run,
                       bool quiet) {
  runtime::Experiment e = runtime::read_experiment(file, overrides);
  if (output) e.output = *output;
  runtime::RunnerOptions how{.dry_run = dry_run, .revision = LACONIC_GIT_REVISION};
  if (quiet) how.print = [](const std::string&) {};
  py::gil_scoped_release unlocked;
  return runtime::run_experiment(e, how).dump();
}

// The library's errors as Python exceptions: a malformed file or specification is a
// laconic.ParseError (a ValueError) with its file, line and column; an invalid parameter given
// from Python is a ValueError naming it, its value and the allowed range (pybind11 maps
// std::invalid_argument, the library's ParamError, to ValueError already).
void translate_errors(py::module_& m) {
  static py::exception<ParseError> parse_error(m, "ParseError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ParseError& e) {
      if (e.file() == from_python.source) {  // from an argument: no file to point at
        const std::string what = e.what();
        PyErr_SetString(PyExc_ValueError, what.substr(what.find(' ') + 1).c_str());
        return;
      }
      py::object error = py::reinterpret_borrow<py::object>(parse_error.ptr())(e.what());
      error.attr("file") = e.file();
      error.attr("line") = e.line();
      error.attr("column") = e.column();
      PyErr_SetObject(parse_error.ptr(), error.ptr());
    }
  });
}

}  // namespace

PYBIND11_MODULE(_laconic, m) {
  m.doc() = "laconic's compiled part; use the package `laconic`";
  m.attr("__version__") = fmt::format("{}.{}.{}", version_major, version_minor, version_patch);
  m.attr("revision") = LACONIC_GIT_REVISION;
  translate_errors(m);

  m.def("dense_dataset", &dense_dataset, py::arg("X"), py::arg("y"), py::arg("task"));
  m.def("csr_dataset", &csr_dataset, py::arg("values"), py::arg("indices"), py::arg("indptr"),
        py::arg("rows"), py::arg("cols"), py::arg("y"), py::arg("task"));
  py::class_<data::Dataset, std::shared_ptr<data::Dataset>>(m, "Dataset")
      .def_property_readonly("rows", &data::Dataset::rows)
      .def_property_readonly("cols", &data::Dataset::cols)
      .def("arrays", &python_dataset);

  m.def("run", &run, py::arg("method"), py::arg("train"), py::arg("test"), py::arg("objective"),
        py::arg("partition"), py::arg("options"), py::arg("seed"), py::arg("label"),
        py::arg("theta0"));
  m.def("experiment", &experiment, py::arg("file"), py::arg("overrides"), py::arg("output"),
        py::arg("dry_run"), py::arg("quiet"));

  m.def(
      "read_libsvm",
      [](const std::filesystem::path& path, Index num_features, const std::string& task) {
        const data::Task t = task_of(task);
        py::gil_scoped_release unlocked;
        return std::make_shared<data::Dataset>(
            data::read_libsvm(path, {.num_features = num_features, .task = t}));
      },
      py::arg("path"), py::arg("num_features"), py::arg("task"));
  m.def(
      "read_csv",
      [](const std::filesystem::path& path, Index label_column, Index skip_lines,
         const std::string& task) {
        const data::Task t = task_of(task);
        py::gil_scoped_release unlocked;
        return std::make_shared<data::Dataset>(data::read_csv(
            path, {.skip_lines = skip_lines, .task = t, .label_column = label_column}));
      },
      py::arg("path"), py::arg("label_column"), py::arg("skip_lines"), py::arg("task"));
  m.def(
      "read_idx",
      [](const std::filesystem::path& images, const std::filesystem::path& labels) {
        py::gil_scoped_release unlocked;
        return std::make_shared<data::Dataset>(data::read_mnist(images, labels));
      },
      py::arg("images"), py::arg("labels"));
  m.def("list_names", &runtime::list_names);
}
