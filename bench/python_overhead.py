#!/usr/bin/python3
"""What the Python module costs: laconic.run against the same run made by laconic-run (C++),
and the cost of each call of an objective written in Python.

Target (issue 21): the Python call <= 1.05 x the same run from C++, on a9a
(--data-dir/a9a/a9a, else synthetic logistic data of a9a's shape), LASG-WK2 with
SGD (step 0.1, batch 1% of local data), M = 10 workers, 1000 rounds. The C++ side is laconic-run
on an experiment file over the same data in a LIBSVM file; its figure is the run's own wall
time (summary.csv's wall_seconds: the run, without reading the data), while the Python figure
is the whole call (the data copied in, the run, the results copied out). Both runs must write
the same History CSV, checked first. Each figure is the median of --repetitions runs.

Then, without a target: the time per call of a Python objective inside a run, minus the time
of the same calls made directly from Python, in microseconds.

    PYTHONPATH=build/release/python /usr/bin/python3 bench/python_overhead.py \
        --laconic-run build/release/tools/laconic-run
"""

import argparse
import csv
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import laconic

SPEC = "lasg-wk2 + sgd(step=0.1, batch=fraction(0.01))"
WORKERS, ROUNDS, SEED = 10, 1000, 1


def data(data_dir):
    """a9a when it is there, else synthetic logistic data of its shape and density."""
    path = Path(data_dir) / "a9a" / "a9a"
    if path.exists():
        X, y = laconic.read_libsvm(path, num_features=123)
        return "a9a", X, y
    rng = np.random.default_rng(1)
    X = (rng.random((32561, 123)) < 0.11).astype(float)
    y = np.where(X @ rng.normal(size=123) > 0, 1.0, -1.0)
    return "synthetic (a9a's shape)", X, y


def write_libsvm(path, X, y):
    rows = X.tocsr() if hasattr(X, "tocsr") else None
    with open(path, "w") as f:
        for i, label in enumerate(y):
            if rows is not None:
                start, end = rows.indptr[i], rows.indptr[i + 1]
                pairs = zip(rows.indices[start:end], rows.data[start:end])
            else:
                pairs = ((j, v) for j, v in enumerate(X[i]) if v != 0)
            f.write(f"{label:+.0f} " + " ".join(f"{j + 1}:{v!r}" for j, v in pairs) + "\n")


def cxx_run(laconic_run, folder, data_file):
    """laconic-run's wall time for the run, and its History CSV."""
    experiment = folder / "bench.toml"
    experiment.write_text(
        f'[data]\nformat = "libsvm"\npath = "{data_file}"\nnum_features = 123\n\n'
        f"[partition]\nworkers = {WORKERS}\n\n"
        '[objective]\nname = "logistic"\nlambda = 1e-4\n\n'
        f"[run]\nrounds = {ROUNDS}\nseeds = [{SEED}]\n\n"
        f'[[method]]\nlabel = "LASG-WK2"\nspec = "{SPEC}"\n')
    out = folder / "out"
    subprocess.run([laconic_run, str(experiment), "-o", str(out), "-q"], check=True,
                   stdout=subprocess.DEVNULL)
    with open(out / "summary.csv", newline="") as f:
        row = next(csv.DictReader(f))
    history = (out / row["history"]).read_text()
    subprocess.run(["rm", "-rf", str(out)], check=True)
    return float(row["wall_seconds"]), history


def python_run(X, y):
    start = time.perf_counter()
    result = laconic.run(SPEC, X, y, objective="logistic(lambda=1e-4)", workers=WORKERS,
                         seed=SEED, rounds=ROUNDS, label="LASG-WK2")
    return time.perf_counter() - start, result.csv


def callable_overhead(rounds=2000, workers=4, dim=100):
    """Microseconds per call of a Python objective inside a run, beyond the call itself."""
    g = np.zeros(dim)

    def objective(theta, batch, worker):
        return 0.0, g

    start = time.perf_counter()
    laconic.run("sgd(step=0.1, batch=1)", objective=objective, workers=workers, samples=10,
                dim=dim, rounds=rounds, record_every=rounds)
    in_run = time.perf_counter() - start
    calls = workers * rounds + 2 * workers  # one gradient a worker a round, two records
    theta, batch = np.zeros(dim), np.zeros(1, dtype=np.int64)
    start = time.perf_counter()
    for _ in range(calls):
        objective(theta, batch, 0)
    direct = time.perf_counter() - start
    return (in_run - direct) / calls * 1e6, calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--laconic-run", required=True)
    parser.add_argument("--data-dir", default=os.environ.get("LACONIC_DATA_DIR", "data"))
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()

    name, X, y = data(args.data_dir)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        data_file = folder / "data.svm"
        write_libsvm(data_file, X, y)
        X, y = laconic.read_libsvm(data_file, num_features=123)  # the file's values exactly
        cxx, py = [], []
        for _ in range(args.repetitions):  # alternating, so that drifts hit both sides
            seconds, cxx_history = cxx_run(args.laconic_run, folder, data_file)
            cxx.append(seconds)
            seconds, py_history = python_run(X, y)
            py.append(seconds)
            if py_history != cxx_history:
                raise SystemExit("python_overhead: the two runs' History CSVs differ")
    ratio = statistics.median(py) / statistics.median(cxx)
    print(f"{name}, {SPEC}, M = {WORKERS}, {ROUNDS} rounds: the same History from both")
    print(f"  laconic-run (C++) run: {statistics.median(cxx) * 1e3:8.1f} ms")
    print(f"  laconic.run (Python) call: {statistics.median(py) * 1e3:8.1f} ms")
    print(f"  Python / C++ = {ratio:.3f}  (target <= 1.05: {'met' if ratio <= 1.05 else 'not met'})")
    overhead, calls = callable_overhead()
    print(f"an objective written in Python: {overhead:.2f} us per call beyond the call itself "
          f"({calls} calls)")


if __name__ == "__main__":
    main()
