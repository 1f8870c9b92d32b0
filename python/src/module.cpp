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

#include <chrono>
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
// CSR matrix (SciPy's data, indices and indptr), with its labels.
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

// Either way the data are stored as the file readers store them (CSR or dense, whichever is
// smaller), so that a run on them is the run on the same data read from a file.
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
  // Every row's pointers in order and its column indices in range and increasing, so that
  // nothing reads out of bounds.
  const std::int32_t* row = indptr.data();
  const std::int32_t* column = indices.data();
  require_param(row[0] == 0 && row[rows] == values.shape(0), "X.indptr", "its ends",
                "0 and the number of values");
  for (Index i = 0; i < rows; ++i) {
    if (row[i] > row[i + 1]) {
      require_param(false, fmt::format("X.indptr[{}]", i + 1), row[i + 1],
                    fmt::format(">= X.indptr[{}] = {}", i, row[i]));
    }
    for (std::int32_t n = row[i]; n < row[i + 1]; ++n) {
      if (column[n] < 0 || column[n] >= cols || (n > row[i] && column[n - 1] >= column[n])) {
        require_param(false, fmt::format("X.indices[{}]", n), column[n],
                      fmt::format("in 0..{} and increasing along row {}", cols - 1, i));
      }
    }
  }
  const Eigen::Map<const SparseMatrix> view(rows, cols, values.shape(0), indptr.data(),
                                            indices.data(), values.data());
  auto [labels, classes] = labels_of(y, task);
  return std::make_shared<data::Dataset>(
      data::Dataset::compact(SparseMatrix(view), std::move(labels), task_of(task), classes));
}

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
  out["time_down"] = column([](R r) { return r.time_parts.down; });
  out["time_compute"] = column([](R r) { return r.time_parts.compute; });
  out["time_up"] = column([](R r) { return r.time_parts.up; });
  out["time_wait"] = column([](R r) { return r.time_parts.wait; });
  out["dropped_uploads"] = column([](R r) { return r.traffic.dropped_uploads; });
  out["dropped_bits_up"] = column([](R r) { return r.traffic.dropped_bits_up; });
  out["dropped_samples"] = column([](R r) { return r.traffic.dropped_samples; });
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
  out["dropped_uploads"] = t.dropped_uploads;
  out["dropped_bits_up"] = t.dropped_bits_up;
  out["dropped_samples"] = t.dropped_samples;
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

// A worker's objective computed in Python: fn(theta, batch, worker) -> (loss, gradient), the
// mean loss and gradient over the batch (indices into the worker's samples 0..size-1). Each
// call takes the GIL, so workers on several threads take turns; the callable is held through
// a shared pointer released under the GIL, so the engine may copy the objective freely. An
// exception in fn stops the run, which raises a RuntimeError naming the worker and it.
// A callable whose attribute `random` is true draws random numbers (dropout): it is called
// fn(theta, batch, worker, seed), seed an int from the stream the round engine gives the
// worker for the round (the same for every call until the next minibatch, so a skip rule's
// second gradient sees the same draws), or None for the full gradients of the History and of
// full-batch rounds, which are taken without randomness.
class PythonObjective {
 public:
  PythonObjective(const py::object& fn, Index worker, Index size, Index dim)
      : fn_(new py::object(fn),
            [](py::object* o) {
              py::gil_scoped_acquire locked;
              delete o;
            }),
        random_(py::hasattr(fn, "random") && py::bool_(fn.attr("random"))),
        worker_(worker),
        size_(size),
        dim_(dim) {}

  Index dim() const { return dim_; }
  Index size() const { return size_; }

  double gradient(const Vector& x, std::span<const Index> batch, Vector& g) {
    return call(x, batch, g, true);
  }
  // gradient() over 0..size−1, without randomness.
  double full_gradient(const Vector& x, Vector& g) {
    return call(x, full_batch(size_, all_), g, false);
  }
  void draw_from(const RandomStream& stream) { seed_ = RandomStream(stream).next_u64(); }

 private:
  // fn(theta, batch, worker[, seed]) into g: a random fn gets the round's seed when drawing,
  // else None.
  double call(const Vector& x, std::span<const Index> batch, Vector& g, bool drawing) {
    py::gil_scoped_acquire locked;
    try {
      const py::array_t<double> theta(x.size(), x.data());
      const py::array_t<Index> indices(static_cast<py::ssize_t>(batch.size()), batch.data());
      const py::tuple out = !random_  ? (*fn_)(theta, indices, worker_)
                            : drawing ? (*fn_)(theta, indices, worker_, py::int_(seed_))
                                      : (*fn_)(theta, indices, worker_, py::none());
      if (out.size() != 2) throw py::value_error("it must return (loss, gradient)");
      const auto grad = py::cast<DenseArray>(out[1]);
      if (grad.ndim() != 1 || grad.shape(0) != dim_) {
        throw py::value_error(fmt::format("its gradient must have {} entries", dim_));
      }
      g = Eigen::Map<const Vector>(grad.data(), dim_);
      return py::cast<double>(out[0]);
    } catch (py::error_already_set& e) {
      throw std::runtime_error(
          fmt::format("the objective of worker {} raised {}", worker_, e.what()));
    } catch (const py::builtin_exception& e) {
      throw std::runtime_error(
          fmt::format("the objective of worker {} returned badly: {}", worker_, e.what()));
    }
  }

  std::shared_ptr<py::object> fn_;
  bool random_;
  Index worker_, size_, dim_;
  std::uint64_t seed_ = 0;
  std::vector<Index> all_;  // 0..size−1, for full_gradient()
};

// One end of a link whose channel a specification chooses ("qsgd(levels=7)",
// "markov(top_k(k=10))"), for users' own training loops: encode() gives the real bytes of a
// message and its exact bits, decode() the vector the receiver rebuilds, as in a run. A
// stateful channel (Markov, error feedback) keeps its end's state between calls: sender and
// receiver are two objects, each called once per message in the same order. seed, round and
// worker choose the message's random stream, as a run's link stream (round k, worker m); the
// receiver passes the sender's.
class Link {
 public:
  Link(const std::string& spec, Index dim, int float_bits)
      : wire_(wire_of(float_bits)),
        channel_(runtime::detail::channel_from(runtime::parse_value(spec, {"channel", 1, 1}),
                                               "channel", wire_),
                 wire_),
        state_(channel_.make_state(dim)),
        dim_(dim) {
    within("channel", [&] { channel_.require_dimension(dim); });
  }

  py::tuple encode(const DenseArray& x, std::uint64_t seed, std::uint64_t round,
                   std::uint64_t worker) {
    const Vector w = vector_of(x, "x");
    require_param(w.size() == dim_, "x.size()", w.size(), fmt::format("the link's dim = {}", dim_));
    RandomStream rng(seed, Purpose::compress, round, worker);
    const Message m = channel_.encode(state_, w, rng);
    py::dict bits;
    bits["total"] = m.bits.total();
    bits["values"] = m.bits.values;
    bits["indices"] = m.bits.indices;
    bits["metadata"] = m.bits.metadata;
    bits["paper"] = m.bits.paper;
    return py::make_tuple(py::bytes(reinterpret_cast<const char*>(m.bytes.data()), m.bytes.size()),
                          bits);
  }

  py::array_t<double> decode(const py::bytes& data, std::uint64_t seed, std::uint64_t round,
                             std::uint64_t worker) {
    const std::string_view view = data;
    Message m;
    m.bytes.assign(view.begin(), view.end());
    RandomStream rng(seed, Purpose::compress, round, worker);
    Vector out(dim_);
    channel_.decode(state_, m, out, rng);
    return py::array_t<double>(out.size(), out.data());
  }

  std::string describe() const { return channel_.describe(); }

 private:
  static compress::Wire wire_of(int float_bits) {
    const compress::Wire wire{.float_bits = float_bits};
    wire.validate();
    return wire;
  }

  compress::Wire wire_;
  runtime::Channel channel_;
  runtime::Channel::State state_;
  Index dim_;
};

// One run, as laconic-run makes it for one method and seed; the GIL is released while it runs
// and Ctrl-C stops it between rounds.
// The workers of a run: the data split by `partition`, each part under the objective a
// specification names; or, when `objective` is a Python callable, workers of `sizes` samples
// each computing their own gradients in Python.
runtime::Workers workers_of(const py::object& objective, const DatasetPtr& train,
                            const DatasetPtr& test, const py::dict& partition,
                            const std::vector<Index>& sizes, Index dim) {
  if (PyCallable_Check(objective.ptr()) != 0) {
    require_param(!sizes.empty(), "samples", "none", "each worker's number of samples");
    require_param(dim >= 1, "dim", dim, ">= 1: the model's size");
    runtime::Workers out;
    for (std::size_t m = 0; m < sizes.size(); ++m) {
      require_param(sizes[m] >= 1, fmt::format("samples[{}]", m), sizes[m], ">= 1");
      out.objectives.emplace_back(PythonObjective(objective, static_cast<Index>(m), sizes[m], dim));
    }
    return out;
  }
  if (!train) throw py::type_error("laconic.run needs X and y, or a callable objective");
  data::PartitionParams split;
  set_from(split, partition, "partition");
  const auto shards = within("partition", [&] { return data::partition(train, split); });
  const runtime::Value objective_value =
      py::isinstance<py::str>(objective)
          ? runtime::parse_value(py::cast<std::string>(objective), {"objective", 1, 1})
          : runtime::detail::slot_value(value_of(objective, "objective"), "objective");
  return runtime::make_workers(objective_value, shards, test);
}

py::dict run(const py::object& method, const DatasetPtr& train, const DatasetPtr& test,
             const py::object& objective, const py::dict& partition,
             const std::vector<Index>& sizes, Index dim, const py::dict& options,
             std::uint64_t seed, const std::string& label, std::optional<DenseArray> theta0,
             const std::optional<std::filesystem::path>& checkpoint) {
  const runtime::Method chosen = method_of(method);
  runtime::Workers workers = workers_of(objective, train, test, partition, sizes, dim);
  sim::Options o;
  set_from(o, options, "run");
  if (checkpoint) o.checkpoint_path = *checkpoint;
  within("run", [&] { o.validate(); });
  o.seed = seed;
  o.label = label;
  o.test_accuracy = workers.accuracy;
  const Index p = workers.objectives.front().dim();
  Vector start = theta0 ? vector_of(*theta0, "theta0") : Vector::Zero(p);
  require_param(start.size() == p, "theta0.size()", start.size(),
                fmt::format("the model's size, {}", p));
  runtime::Simulation<> simulation(chosen, std::move(workers.objectives), std::move(start), o);
  // A checkpoint left by an earlier run of the same method and seed: go on from it, as
  // laconic-run resumes a run.
  if (checkpoint && std::filesystem::exists(*checkpoint)) simulation.load(*checkpoint);
  bool interrupted = false;
  sim::RunResult result;
  {
    py::gil_scoped_release unlocked;
    auto checked = std::chrono::steady_clock::now();
    result = simulation.run_until(o.rounds, [&](const sim::RoundView&) {
      // Ctrl-C is seen within a tenth of a second; the GIL is taken only then.
      const auto now = std::chrono::steady_clock::now();
      if (now - checked < std::chrono::milliseconds(100)) return sim::Control::proceed;
      checked = now;
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
    } catch (const DecodeError& e) {  // a corrupted message
      PyErr_SetString(PyExc_ValueError, e.what());
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
        py::arg("partition"), py::arg("sizes"), py::arg("dim"), py::arg("options"), py::arg("seed"),
        py::arg("label"), py::arg("theta0"), py::arg("checkpoint"));
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
  py::class_<Link>(m, "Link")
      .def(py::init<const std::string&, Index, int>(), py::arg("spec"), py::arg("dim"),
           py::arg("float_bits"))
      .def("encode", &Link::encode, py::arg("x"), py::arg("seed"), py::arg("round"),
           py::arg("worker"))
      .def("decode", &Link::decode, py::arg("data"), py::arg("seed"), py::arg("round"),
           py::arg("worker"))
      .def("describe", &Link::describe);
}
