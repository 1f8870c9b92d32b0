#!/usr/bin/env python3
"""EF21 with top-1 and distributed GD in NumPy, organised like the EF21 authors' logistic-regression
script (github.com/IgorSokoloff/ef21_experiments_source_code, "Logistic regression/
bdfg_distributed_stable.py" with logreg_functions_fast.py); written here from the equations, not
copied from that code. bench_ef21_numpy runs it next to the vectorised ef21_numpy.py and compares
both with laconic.

The mathematics is ef21_numpy.py's exactly (problem, split, x^0 = 0, top-1 ties to the lowest
index, g_i^0 = grad f_i(x^0)); see its docstring for the equations. What follows the authors'
organisation is how each iteration is computed:
  - every worker holds its rows as its own dense ndarray A_i (and labels b_i);
  - a Python loop over the workers fills an M x d array with grad f_i(x), each from dense
    elementwise products over the whole n_i x d block: -(1/n_i) sum_j b_j a_j / (1 + exp(b_j
    a_j^T x)), plus the regulariser's gradient;
  - EF21: the differences grad f_i - g_i form an M x d array, compressed row by row by a Python
    loop of top-1s; g = mean of the g_i; x <- x - gamma g;
  - ||grad f(x^t)||^2 is np.linalg.norm(mean over workers of grad f_i(x^t))**2 every iteration,
    from the workers' gradients computed for the step (no further pass over the data: the
    authors' EF21 script evaluates nothing else per iteration).

Usage and output are ef21_numpy.py's: LIBSVM_FILE WORKERS LAMBDA GAMMA ITERATIONS OUT_CSV; writes
OUT_CSV (method,iteration,grad_norm_sq at x^t) and prints "<method> seconds_per_iteration <s>".
"""

import time

import numpy as np

from ef21_numpy import arguments, read_libsvm, report, split


def worker_gradient(x, a, b, lam):
    # grad f_i(x) = -(1/n_i) sum_j b_j a_j / (1 + exp(b_j a_j^T x)) + lam * 2x / (1 + x^2)^2,
    # formed as the n_i x d matrix of the terms and averaged over its rows.
    signed_rows = a * b[:, np.newaxis]
    with np.errstate(over="ignore"):  # exp overflowing to inf makes the term 0, as it should
        scale = 1.0 + np.exp(b * (a @ x))
    data_term = -np.mean(signed_rows / scale[:, np.newaxis], axis=0)
    return data_term + lam * 2.0 * x / (1.0 + x**2) ** 2


def all_worker_gradients(x, shards, lam):
    out = np.zeros((len(shards), x.shape[0]))
    for m in range(len(shards)):  # one worker after another
        a, b = shards[m]
        out[m] = worker_gradient(x, a, b, lam)
    return out


def top1(v):
    out = np.zeros(v.shape)
    i = np.argmax(np.abs(v))  # the first of equal magnitudes
    out[i] = v[i]
    return out


def top1_rows(matrix):
    out = np.zeros(matrix.shape)
    for m in range(matrix.shape[0]):
        out[m] = top1(matrix[m])
    return out


def squared_norm(v):
    return np.linalg.norm(v, ord=2) ** 2


def gd(shards, lam, gamma, iterations, x):
    norms = []
    start = time.perf_counter()
    for _ in range(iterations):
        grads = all_worker_gradients(x, shards, lam)
        g = np.mean(grads, axis=0)
        norms.append(float(squared_norm(g)))
        x = x - gamma * g
    return norms, (time.perf_counter() - start) / iterations


def ef21(shards, lam, gamma, iterations, x):
    start = time.perf_counter()
    estimates = all_worker_gradients(x, shards, lam)  # g_i^0 = grad f_i(x^0)
    g = np.mean(estimates, axis=0)
    norms = [float(squared_norm(g))]
    for _ in range(iterations):
        x = x - gamma * g
        grads = all_worker_gradients(x, shards, lam)
        estimates = estimates + top1_rows(grads - estimates)
        g = np.mean(estimates, axis=0)
        norms.append(float(squared_norm(np.mean(grads, axis=0))))
    return norms[:iterations], (time.perf_counter() - start) / iterations


def main():
    path, workers, lam, gamma, iterations, out = arguments()
    a, b = read_libsvm(path)
    shards = [(rows.copy(), labels.copy()) for rows, labels in split(a, b, workers)]
    report(out, [(name, *method(shards, lam, gamma, iterations, np.zeros(a.shape[1])))
                 for name, method in (("gd", gd), ("ef21", ef21))])


if __name__ == "__main__":
    main()
