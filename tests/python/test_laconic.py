"""The Python module against laconic-run's runner: the same specification, data and seed give
the same History CSV byte for byte; and its errors, statuses and readers (ctest python.module,
with PYTHONPATH at the build tree's python/)."""

import math
import os
import textwrap

import numpy as np
import pytest
import scipy.sparse

import laconic

# Every named method of docs/running-experiments.md, as a specification.
NAMED = {
    "SGD": "sgd(step=0.5, batch=8)",
    "GD": "sgd(step=0.5)",
    "QSGD": "qsgd(levels=7) + sgd(step=0.5, batch=8)",
    "rand-k": "rand_k(k=3, scaled=true) + sgd(step=0.2, batch=8)",
    "EF21": "markov(top_k(k=2), start=exact) + sgd(step=0.5)",
    "EF-SGD": "error_feedback(top_k(k=2)) + periodic_average(step=0.2, local_steps=2)",
    "LAG-WK": "lag-wk + sgd(step=0.5)",
    "LAG-PS": "lag-ps + sgd(step=0.5)",
    "LAQ": "laq + markov(uniform(bits=4)) + sgd(step=0.5)",
    "QGD": "markov(uniform(bits=4)) + sgd(step=0.5)",
    "LASG-WK1": "lasg-wk1(D=10) + sgd(step=0.5, batch=8)",
    "LASG-WK2": "lasg-wk2(D=10, c_eta2=0.5) + sgd(step=0.5, batch=8)",
    "LASG-PS": "lasg-ps(D=10) + sgd(step=0.5, batch=8)",
    "LASG-PSE": "lasg-pse(D=10) + sgd(step=0.5, batch=8)",
    "LAQSG": "lasg-wk2 + qsgd(levels=7) + sgd(step=0.5, batch=8)",
    "local SGD": "periodic_average(step=0.2, local_steps=3, participation=sample(3))",
    "FedPAQ": "qsgd(levels=1) + periodic_average(step=0.2, local_steps=2, participation=sample(3))",
    "AMSGrad": "amsgrad(step=0.01)",
    "CD-Adam": "amsgrad(step=0.01) + markov(scaled_sign) + down:markov(scaled_sign) + float_bits=32",
}
WORKERS, ROUNDS, SEED = 4, 25, 3


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A small binary problem (80 × 6, with zeros) and its LIBSVM file."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(80, 6)) * (rng.random((80, 6)) < 0.7)
    y = np.where(X @ np.arange(1.0, 7.0) + 0.3 * rng.normal(size=80) > 0, 1.0, -1.0)
    path = tmp_path_factory.mktemp("data") / "small.svm"
    with open(path, "w") as f:
        for row, label in zip(X, y):
            features = " ".join(f"{j + 1}:{v!r}" for j, v in enumerate(row) if v != 0)
            f.write(f"{label:+.0f} {features}\n")
    return X, y, path


def test_every_named_method_gives_laconic_runs_history_byte_for_byte(data, tmp_path):
    X, y, path = data
    methods = "".join(f'\n[[method]]\nlabel = "{label}"\nspec = "{spec}"\n'
                      for label, spec in NAMED.items())
    experiment = tmp_path / "named.toml"
    experiment.write_text(textwrap.dedent(f"""\
        [data]
        format = "libsvm"
        path = "{path}"
        num_features = 6

        [partition]
        workers = {WORKERS}

        [objective]
        name = "logistic"
        lambda = 0.01

        [run]
        rounds = {ROUNDS}
        seeds = [{SEED}]
        """) + methods)
    laconic.experiment(experiment, output=tmp_path / "out")
    for label, spec in NAMED.items():
        result = laconic.run(spec, X, y, objective="logistic(lambda=0.01)", workers=WORKERS,
                             seed=SEED, rounds=ROUNDS, label=label)
        expected = (tmp_path / "out" / "runs" / f"{label.replace(' ', '_')}__seed{SEED}.csv")
        assert result.csv == expected.read_text(), label
        assert result.status == "completed"
        assert len(result.history["round"]) == ROUNDS + 1
        assert result.history["uploads"][-1] == result.traffic["uploads"]


def test_sparse_dense_and_dict_inputs_give_the_same_run(data):
    X, y, _ = data
    kwargs = dict(objective={"name": "logistic", "lambda": 0.01}, workers=WORKERS, seed=1,
                  rounds=10)
    dense = laconic.run("lasg-wk2 + qsgd(levels=3) + sgd(step=0.5, batch=8)", X, y, **kwargs)
    sparse = laconic.run("lasg-wk2 + qsgd(levels=3) + sgd(step=0.5, batch=8)",
                         scipy.sparse.csr_matrix(X), y, **kwargs)
    table = laconic.run({"skip": "lasg-wk2", "uplink": "qsgd(levels=3)",
                         "server": {"name": "sgd", "step": 0.5, "batch": 8}}, X, y, **kwargs)
    assert dense.csv == sparse.csv == table.csv
    assert np.array_equal(dense.theta, table.theta)
    # Labels as 0/1 map as the readers map them: the smaller to -1.
    assert laconic.run("sgd(step=0.5)", X, (y + 1) / 2, **kwargs).csv == \
        laconic.run("sgd(step=0.5)", X, y, **kwargs).csv


def test_the_same_seed_gives_the_same_run_on_any_thread_count(data):
    X, y, _ = data
    runs = [laconic.run("lasg-wk2 + sgd(step=0.5, batch=8)", X, y, workers=WORKERS, seed=5,
                        rounds=15, threads=t).csv for t in (1, 2)]
    assert runs[0] == runs[1]


def test_invalid_parameters_are_value_errors_naming_path_value_and_range(data):
    X, y, _ = data
    with pytest.raises(ValueError, match=r"invalid parameter run\.rounds = -5: must be in 0\.\.2\^40"):
        laconic.run("sgd", X, y, rounds=-5)
    with pytest.raises(ValueError, match=r"invalid parameter partition\.workers = 0: must be"):
        laconic.run("sgd", X, y, workers=0)
    with pytest.raises(ValueError, match=r"uplink\.top_k\.k = 9: must be at most the dimension"):
        laconic.run("top_k(k=9) + sgd", X, y)
    with pytest.raises(ValueError, match=r"invalid parameter objective\.lambda = -1"):
        laconic.run("sgd", X, y, objective="logistic(lambda=-1)")


def test_a_malformed_specification_or_file_is_a_parse_error_with_its_position(data, tmp_path):
    X, y, _ = data
    with pytest.raises(laconic.ParseError) as error:
        laconic.run("sgd + qsdg(levels=2)", X, y)
    assert error.value.file == "method" and error.value.column == 7
    bad = tmp_path / "bad.svm"
    bad.write_text("+1 1:0.5 2:0.25\n-1 1:0.5 2:x\n")
    with pytest.raises(laconic.ParseError) as error:
        laconic.read_libsvm(bad)
    assert (error.value.file, error.value.line, error.value.column) == (str(bad), 2, 12)
    with pytest.raises(laconic.ParseError, match=r"^y:3:1: expected at most 2 distinct labels"):
        laconic.run("sgd", X[:3], np.array([0.0, 1.0, 2.0]))


def test_a_diverging_run_stops_with_its_status_and_keeps_its_history(data):
    X, y, _ = data
    result = laconic.run("sgd(step=1e6)", X * 1e3, y, objective="least_squares", rounds=200)
    assert result.status == "diverged"
    assert result.message
    assert 0 < len(result.history["round"]) < 201
    assert math.isfinite(result.history["loss"][0])


def test_readers_return_numpy_and_scipy_arrays(data):
    X, y, path = data
    read_X, read_y = laconic.read_libsvm(path, num_features=6)
    dense = read_X.toarray() if scipy.sparse.issparse(read_X) else read_X
    assert np.array_equal(dense, X)
    assert np.array_equal(read_y, y)


def test_an_experiment_dry_run_resolves_every_run(tmp_path):
    example = os.path.join(os.path.dirname(__file__), "..", "..", "experiments", "example.toml")
    resolved = laconic.experiment(example, overrides=["run.rounds=5"], dry_run=True)
    assert resolved["run"]["rounds"] == 5
    assert [r["method"] for r in resolved["runs"]][:3] == ["SGD"] * 3


def test_the_history_as_a_data_frame_when_pandas_is_there(data):
    pandas = pytest.importorskip("pandas")
    X, y, _ = data
    result = laconic.run("sgd(step=0.5)", X, y, rounds=5)
    frame = result.frame()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == list(result.history)
