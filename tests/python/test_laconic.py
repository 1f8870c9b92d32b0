"""The Python module against laconic-run's runner: the same specification, data and seed give
the same History CSV byte for byte; and its errors, statuses and readers (ctest python.module,
with PYTHONPATH at the build tree's python/)."""

import math
import os
import tempfile
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
        assert list(result.history) == result.csv.splitlines()[1].split(",")  # the CSV's columns


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


def test_a_link_encodes_real_bytes_and_decodes_what_a_run_would():
    x = np.array([0.5, -3.0, 0.25, 2.0, -0.125, 1.0])
    sender, receiver = laconic.Link("top_k(k=2)", 6), laconic.Link("top_k(k=2)", 6)
    message = sender.encode(x, seed=1, round=4, worker=2)
    assert isinstance(message.data, bytes)
    assert message.bits["values"] == 2 * 64  # two exact doubles
    assert message.bits["total"] == sum(message.bits[k] for k in ("values", "indices", "metadata"))
    assert 8 * len(message.data) >= message.bits["total"] > 8 * (len(message.data) - 1) - 8
    assert np.array_equal(receiver.decode(message, seed=1, round=4, worker=2),
                          [0, -3.0, 0, 2.0, 0, 0])
    # 32-bit floats on the wire: half the value bits, values rounded to float.
    assert laconic.Link("top_k(k=2)", 6, float_bits=32).encode(x).bits["values"] == 2 * 32


def test_qsgd_through_a_link_is_unbiased_by_monte_carlo():
    x = np.linspace(-1.0, 2.0, 8)
    link = laconic.Link("qsgd(levels=2)", 8)
    mean = np.mean([link.decode(link.encode(x, seed=s), seed=s) for s in range(4000)], axis=0)
    # QSGD's variance per coordinate is at most |x_i| ||x|| / s; 4000 draws: within 5 sigma.
    sigma = np.sqrt(np.abs(x) * np.linalg.norm(x) / 2 / 4000)
    assert np.all(np.abs(mean - x) <= 5 * sigma + 1e-12)


def test_a_markov_link_keeps_both_ends_in_step():
    x = np.array([4.0, -1.0, 0.5, 2.0])
    sender = laconic.Link("markov(top_k(k=1))", 4)
    receiver = laconic.Link("markov(top_k(k=1))", 4)
    estimates = [receiver.decode(sender.encode(x, round=k), round=k) for k in range(4)]
    # Each message corrects the largest entry of x minus the estimate: after 4, all of x.
    assert np.array_equal(estimates[0], [4.0, 0, 0, 0])
    assert np.array_equal(estimates[3], x)


def test_a_link_refuses_bad_parameters_and_corrupted_messages():
    with pytest.raises(ValueError, match=r"channel\.top_k\.k = 20: must be at most the dimension"):
        laconic.Link("top_k(k=20)", 10)
    with pytest.raises(ValueError, match=r"float_bits = 16: must be 32 or 64"):
        laconic.Link("qsgd", 10, float_bits=16)
    link = laconic.Link("qsgd(levels=4)", 10)
    data = link.encode(np.arange(10.0)).data
    with pytest.raises(ValueError):
        link.decode(data[: len(data) // 2])
    with pytest.raises(ValueError):
        link.decode(data + b"\xff\xff")


def test_an_objective_written_in_python_follows_the_hand_worked_trajectory():
    # Worker m minimizes (1/2)||theta - c_m||^2: GD from 0 with step 1/2 gives
    # theta_k = (1 - 2^-k) mean(c), on any number of threads.
    centers = np.array([[1.0, -2.0, 4.0], [3.0, 0.0, -2.0]])
    calls = []

    def quadratic(theta, batch, worker):
        calls.append(worker)
        diff = theta - centers[worker]
        return 0.5 * diff @ diff, diff

    for threads in (1, 2):
        result = laconic.run("sgd(step=0.5)", objective=quadratic, workers=2, samples=1, dim=3,
                             rounds=10, threads=threads)
        assert result.status == "completed"
        assert np.allclose(result.theta, (1 - 2.0 ** -10) * centers.mean(axis=0), atol=1e-15)
    assert set(calls) == {0, 1}


def test_a_deadline_and_devices_set_by_keyword_drop_the_late_worker():
    # Worker 1's device (trace row 1) computes 10x slower than worker 0's: with a deadline
    # between the two, only worker 0 counts, so GD goes to worker 0's center.
    centers = np.array([[1.0, 2.0], [5.0, -3.0]])

    def quadratic(theta, batch, worker):
        diff = theta - centers[worker]
        return 0.5 * diff @ diff, diff

    def run(**cost):
        return laconic.run("sgd(step=0.5)", objective=quadratic, workers=2, samples=1, dim=2,
                           rounds=40, cost=cost)

    with tempfile.TemporaryDirectory() as folder:
        trace = os.path.join(folder, "devices.csv")
        with open(trace, "w") as f:
            f.write("shift\n1\n10\n")
        result = run(devices={"trace": trace}, deadline=5)
    assert np.allclose(result.theta, centers[0], atol=1e-9)
    h = result.history
    assert h["time"][-1] == 40 * 5
    assert h["dropped_uploads"][-1] == 40
    assert result.traffic["dropped_uploads"] == 40
    assert np.allclose(h["time_compute"] + h["time_wait"], h["time"])
    with pytest.raises(ValueError, match="cost.deadline = -1: must be > 0"):
        run(deadline=-1)


def test_an_objective_written_in_python_that_fails_stops_the_run_saying_why():
    def broken(theta, batch, worker):
        raise ArithmeticError("boom")

    with pytest.raises(RuntimeError, match=r"the objective of worker 0 raised ArithmeticError: boom"):
        laconic.run("sgd", objective=broken, samples=4, dim=2, rounds=3)
    with pytest.raises(RuntimeError, match=r"the objective of worker \d raised ArithmeticError"):
        laconic.run("sgd", objective=broken, workers=4, samples=4, dim=2, rounds=3, threads=2)

    def short(theta, batch, worker):
        return 0.0, np.zeros(1)

    with pytest.raises(RuntimeError, match=r"its gradient must have 2 entries"):
        laconic.run("sgd", objective=short, samples=4, dim=2, rounds=3)
    with pytest.raises(TypeError, match=r"needs samples \(per worker\) and dim"):
        laconic.run("sgd", objective=short, rounds=3)


def test_a_malformed_sparse_matrix_is_refused_before_it_is_read(data):
    X, y, _ = data
    bad = scipy.sparse.csr_matrix(X)
    bad.indices[3] = 99  # beyond the 6 columns
    with pytest.raises(ValueError, match=r"X\.indices\[3\] = 99: must be in 0\.\.5"):
        laconic.run("sgd", bad, y)


def test_a_run_goes_on_from_its_checkpoint_as_if_never_stopped(data, tmp_path):
    X, y, _ = data
    spec = "lasg-wk2 + markov(top_k(k=2)) + sgd(step=0.5, batch=8)"
    whole = laconic.run(spec, X, y, rounds=30, workers=WORKERS, seed=2)
    saved = tmp_path / "run.ckpt"
    kwargs = dict(workers=WORKERS, seed=2, checkpoint=saved, checkpoint_every=5)
    laconic.run(spec, X, y, rounds=12, **kwargs)
    assert saved.exists()
    rest = laconic.run(spec, X, y, rounds=30, **kwargs)
    assert rest.csv == whole.csv
    assert np.array_equal(rest.theta, whole.theta)
    with pytest.raises(ValueError, match=r"checkpoint_every needs checkpoint="):
        laconic.run(spec, X, y, rounds=5, checkpoint_every=5)
