"""laconic from Python: communication-efficient distributed optimizers, exact to their papers.

Methods are chosen by the same specifications as laconic-run's experiment files
(docs/running-experiments.md), and a run from Python is the run laconic-run makes with the same
specification, data and seed, byte for byte::

    import laconic
    X, y = laconic.read_libsvm("a9a", num_features=123)
    result = laconic.run("lasg_wk2 + sgd(step=0.1)", X, y,
                         objective="logistic(lambda=1e-3)", workers=10, rounds=500)
    result.history["loss"][-1], result.traffic["uploads"]

Errors are exceptions with the library's messages: an invalid parameter is a ValueError naming
it, its value and the allowed range; a malformed file or specification is a laconic.ParseError
(a ValueError) with its file, line and column. A run that diverges is not an exception: its
status says so and its History is kept. docs/python.md walks through the module.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

from . import _laconic
from ._laconic import ParseError

__version__ = _laconic.__version__
__all__ = ["run", "experiment", "Result", "ParseError", "Link", "Message", "read_libsvm",
           "read_csv", "read_idx", "list_names"]

# The task each objective learns, for mapping labels as the readers do.
_TASKS = {"logistic": "binary", "softmax": "multiclass", "least_squares": "regression"}


@dataclass
class Result:
    """What a run returns.

    theta: the final model (NumPy). history: the History's columns as NumPy arrays, named as
    the columns of its CSV (round, loss, grad_norm_sq, test_accuracy, uploads, downloads,
    bits_up, bits_down, ..., time). traffic: the ledger's totals (uploads, downloads, bits_up,
    bits_down, their papers' counts, gradient_samples). status: "completed", "reached" (a
    target met), "stopped" or "diverged", with message saying why. description: the method
    and its resolved parameters, as the History CSV's first line has them.
    """

    theta: np.ndarray
    history: dict[str, np.ndarray]
    traffic: dict[str, int]
    status: str
    message: str
    description: str
    rounds: int
    warnings: list[str] = field(default_factory=list)
    csv: str = field(default="", repr=False)

    def frame(self):
        """The History as a pandas DataFrame (needs pandas, which laconic does not)."""
        try:
            import pandas
        except ImportError as missing:
            raise ImportError("Result.frame() needs pandas (Debian: python3-pandas); "
                              "Result.history holds the same columns as NumPy arrays") from missing
        return pandas.DataFrame(self.history)

    def write_csv(self, path: str | os.PathLike) -> None:
        """Writes the History CSV, byte for byte the file laconic-run writes for this run."""
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(self.csv)


def _dataset(X, y, task: str):
    """A _laconic.Dataset from a NumPy array or a SciPy sparse matrix, and labels."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    if hasattr(X, "tocsr"):  # a SciPy sparse matrix or array
        X = X.tocsr()
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()  # sorted column indices, no duplicates
        return _laconic.csr_dataset(X.data, X.indices, X.indptr, X.shape[0], X.shape[1], y, task)
    return _laconic.dense_dataset(np.asarray(X), y, task)


def _objective_name(objective) -> str:
    name = objective.get("name", "") if isinstance(objective, Mapping) else str(objective)
    return name.split("(", 1)[0].strip().replace("-", "_")


def run(method: str | Mapping[str, Any], X=None, y=None, *,
        objective: str | Mapping[str, Any] | Callable = "logistic",
        workers: int = 1,
        partition: Mapping[str, Any] | None = None,
        samples: int | Sequence[int] | None = None,
        dim: int | None = None,
        seed: int = 0,
        rounds: int = 100,
        threads: int = 1,
        record_every: int = 1,
        theta0=None,
        test: tuple | None = None,
        task: str | None = None,
        label: str = "",
        checkpoint: str | os.PathLike | None = None,
        **options) -> Result:
    """Runs one method on (X, y) split across workers; returns a Result.

    method: a specification such as "lasg_wk2 + qsgd(levels=7) + sgd(step=0.1)", or a dict of
        its slots as a [[method]] table holds them ({"skip": "lasg_wk2", "server": {"name":
        "sgd", "step": 0.1}}).
    X, y: a NumPy array (rows are samples) or a SciPy sparse matrix, and the labels (mapped as
        the readers map them: the smaller of two values -> -1 for logistic; classes -> 0..C-1
        for softmax).
    objective: "logistic", "logistic(lambda=1e-3, regularizer=nonconvex)", "softmax(...)",
        "least_squares(...)", or a dict with its name. Or your own, in Python: a callable
        fn(theta, batch, worker) -> (loss, gradient) giving worker's mean loss and gradient
        over batch (indices into its samples); then X and y are not given, samples is each
        worker's number of samples (one int for all, or a list, one per worker) and dim the
        model's size. It runs under the GIL: slower than a built-in objective. A callable that
        draws random numbers (dropout) sets fn.random = True and takes a fourth argument, seed:
        an int to draw from for that worker and round, or None for full gradients (no draws).
    workers, partition: the number of workers, and the rest of the partition as in an
        experiment file's [partition] ({"split": "dirichlet", "alpha": 0.3, "seed": 1}).
    seed: the run's seed (the same seed gives the same run on any thread count).
    rounds, threads, record_every, **options: the run's options, as [run] names them
        (eval_every, weighting, target_loss_gap, optimal_loss, cost={...}, ...).
    theta0: the starting model (default zero). test: a held-out (X, y) for the test_accuracy
        column. task: binary, multiclass or regression (default: the objective's). label: the
        run's label in its History CSV's first line (laconic-run gives the method's label).
    checkpoint: a file for the run's state, written every checkpoint_every rounds (an option)
        and at the end; when it exists, the run goes on from it and ends as the run would have
        without the interruption.
    """
    train = held_out = None
    sizes = []
    if callable(objective):
        if X is not None or y is not None:
            raise TypeError("a callable objective holds its own data: give samples and dim, "
                            "not X and y")
        if samples is None or dim is None:
            raise TypeError("a callable objective needs samples (per worker) and dim")
        sizes = [samples] * workers if isinstance(samples, int) else list(samples)
    else:
        task = task or _TASKS.get(_objective_name(objective), "binary")
        train = _dataset(X, y, task)
        held_out = _dataset(*test, task) if test is not None else None
    if options.get("checkpoint_every") and checkpoint is None:
        raise ValueError("checkpoint_every needs checkpoint=, the file to save the run to")
    split = {"workers": workers, **(partition or {})}
    run_options = {"rounds": rounds, "threads": threads, "record_every": record_every, **options}
    start = None if theta0 is None else np.ascontiguousarray(theta0, dtype=np.float64)
    out = _laconic.run(method, train, held_out, objective, split, sizes, dim or 0, run_options,
                       seed, label, start, None if checkpoint is None else os.fspath(checkpoint))
    return Result(**out)


def experiment(file: str | os.PathLike, *, overrides: Sequence[str] = (),
               output: str | os.PathLike | None = None, dry_run: bool = False,
               quiet: bool = True) -> dict:
    """Runs an experiment file as laconic-run does (docs/running-experiments.md).

    overrides: "key=value" strings, as laconic-run's --set. output: the run folder (default:
    the file's). dry_run: check and resolve everything, run and write nothing. Returns the
    resolved experiment, as the run folder's experiment.json holds it.
    """
    text = _laconic.experiment(os.fspath(file), list(overrides),
                               None if output is None else os.fspath(output), dry_run, quiet)
    return json.loads(text)


def _arrays(dataset):
    kind, *parts = dataset.arrays()
    if kind == "dense":
        return parts[0], parts[1]
    values, indices, indptr, shape, y = parts
    import scipy.sparse
    return scipy.sparse.csr_matrix((values, indices, indptr), shape=shape), y


def read_libsvm(path: str | os.PathLike, *, num_features: int = 0, task: str = "binary"):
    """Reads a LIBSVM file (gzip too): (X, y) with X a SciPy CSR matrix, or a NumPy array when
    that is smaller; labels mapped for `task` (binary: -1/+1, multiclass: 0..C-1)."""
    return _arrays(_laconic.read_libsvm(os.fspath(path), num_features, task))


def read_csv(path: str | os.PathLike, *, label_column: int = -1, skip_lines: int = 0,
             task: str = "binary"):
    """Reads a CSV file of numbers, one sample a line, the label in `label_column` (-1: the
    last): (X, y) as read_libsvm returns them."""
    return _arrays(_laconic.read_csv(os.fspath(path), label_column, skip_lines, task))


def read_idx(images: str | os.PathLike, labels: str | os.PathLike):
    """Reads IDX images and labels (MNIST's format, gzip too): (X, y), pixels scaled to [0, 1],
    classes 0..9."""
    return _arrays(_laconic.read_idx(os.fspath(images), os.fspath(labels)))


class Message(NamedTuple):
    """An encoded message: its bytes, and its bits (total, values, indices, metadata, and the
    papers' count, paper)."""
    data: bytes
    bits: dict[str, int]


class Link:
    """One end of a link whose channel a specification chooses, for your own training loop.

        sender = laconic.Link("markov(top_k(k=10))", dim=p)
        receiver = laconic.Link("markov(top_k(k=10))", dim=p)
        message = sender.encode(g, seed=1, round=k, worker=m)   # real bytes, exact bits
        g_hat = receiver.decode(message.data, seed=1, round=k, worker=m)

    The channels are the runs' (compressors and markov(C), error_feedback(C); list_names()),
    with 64-bit floats on the wire unless float_bits=32. A stateful channel keeps its end's
    state between calls, so sender and receiver are two Links, each called once per message
    in the same order. (seed, round, worker) choose the message's random stream as in a run;
    the receiver gives the sender's. A corrupted message is a ValueError.
    """

    def __init__(self, spec: str, dim: int, *, float_bits: int = 64):
        self._link = _laconic.Link(spec, dim, float_bits)
        self.dim = dim

    def encode(self, x, *, seed: int = 0, round: int = 0, worker: int = 0) -> Message:
        data, bits = self._link.encode(np.ascontiguousarray(x, dtype=np.float64), seed, round,
                                       worker)
        return Message(data, bits)

    def decode(self, data: bytes | Message, *, seed: int = 0, round: int = 0,
               worker: int = 0) -> np.ndarray:
        if isinstance(data, Message):
            data = data.data
        return self._link.decode(bytes(data), seed, round, worker)

    def __repr__(self) -> str:
        return f"Link({self._link.describe()}, dim={self.dim})"


def list_names() -> str:
    """Every policy and objective with its parameters' defaults, as laconic-run --list."""
    return _laconic.list_names()
