#!/usr/bin/env python3
"""EF21 with top-1 and distributed GD in plain NumPy, the way a Python prototype of the EF21
paper's experiment looks (Richtarik, Sokolov, Fatkhullin 2021, Algorithm 2; docs/performance.md).
Written here from the equations, not from the authors' code. bench_ef21_numpy runs it and
compares its ||grad f||^2 trajectory and time per iteration with laconic's.

Problem: f(x) = (1/M) sum_i f_i(x), f_i(x) = (1/n_i) sum_j log(1 + exp(-b_j a_j^T x))
         + lam * sum_k x_k^2 / (1 + x_k^2), M workers on contiguous row blocks (the last one
         also takes the remainder), labels of a binary LIBSVM file mapped smaller -> -1.
EF21:    g_i^0 = grad f_i(x^0); x^{t+1} = x^t - gamma * mean_i g_i^t;
         g_i^{t+1} = g_i^t + top1(grad f_i(x^{t+1}) - g_i^t), ties to the lowest index.
GD:      x^{t+1} = x^t - gamma * mean_i grad f_i(x^t).

Usage: ef21_numpy.py LIBSVM_FILE WORKERS LAMBDA GAMMA ITERATIONS OUT_CSV
Writes OUT_CSV with columns method,iteration,grad_norm_sq (the norm at x^t, before step t)
and prints "<method> seconds_per_iteration <s>" for each method.
"""

import sys
import time

import numpy as np


def read_libsvm(path):
    labels, rows = [], []
    width = 0
    with open(path) as f:
        for line in f:
            fields = line.split()
            if not fields:
                continue
            labels.append(float(fields[0]))
            row = []
            for item in fields[1:]:
                index, value = item.split(":")
                row.append((int(index) - 1, float(value)))
                width = max(width, int(index))
            rows.append(row)
    a = np.zeros((len(rows), width))
    for r, row in enumerate(rows):
        for index, value in row:
            a[r, index] = value
    b = np.asarray(labels)
    low = b.min()
    return a, np.where(b == low, -1.0, 1.0)


def split(a, b, workers):
    per = a.shape[0] // workers
    bounds = [m * per for m in range(workers)] + [a.shape[0]]
    return [(a[bounds[m]:bounds[m + 1]], b[bounds[m]:bounds[m + 1]]) for m in range(workers)]


def sigmoid(z):
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    out[~positive] = e / (1.0 + e)
    return out


def local_gradient(a, b, x, lam):
    margins = b * (a @ x)
    weights = -(b * sigmoid(-margins)) / a.shape[0]
    return a.T @ weights + 2.0 * lam * x / (1.0 + x * x) ** 2


def top1(v):
    out = np.zeros_like(v)
    i = int(np.argmax(np.abs(v)))  # the first of equal magnitudes
    out[i] = v[i]
    return out


def gd(shards, lam, gamma, iterations, x):
    norms = []
    start = time.perf_counter()
    for _ in range(iterations):
        g = np.mean([local_gradient(a, b, x, lam) for a, b in shards], axis=0)
        norms.append(float(g @ g))
        x = x - gamma * g
    return norms, (time.perf_counter() - start) / iterations


def ef21(shards, lam, gamma, iterations, x):
    norms = []
    start = time.perf_counter()
    estimates = [local_gradient(a, b, x, lam) for a, b in shards]
    for _ in range(iterations):
        x = x - gamma * np.mean(estimates, axis=0)
        gradients = [local_gradient(a, b, x, lam) for a, b in shards]
        full = np.mean(gradients, axis=0)
        norms.append(float(full @ full))  # at the new x, from gradients computed anyway
        estimates = [e + top1(g - e) for e, g in zip(estimates, gradients)]
    return norms, (time.perf_counter() - start) / iterations


def arguments():
    """The command line: LIBSVM_FILE WORKERS LAMBDA GAMMA ITERATIONS OUT_CSV."""
    path, workers, lam, gamma, iterations, out = sys.argv[1:7]
    return path, int(workers), float(lam), float(gamma), int(iterations), out


def report(out, runs):
    """Prints each run's seconds per iteration and writes OUT_CSV; runs: (name, norms, seconds)."""
    lines = ["method,iteration,grad_norm_sq"]
    for name, norms, seconds in runs:
        lines += [f"{name},{t},{v!r}" for t, v in enumerate(norms)]
        print(f"{name} seconds_per_iteration {seconds!r}")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    path, workers, lam, gamma, iterations, out = arguments()
    a, b = read_libsvm(path)
    shards = split(a, b, workers)
    x0 = np.zeros(a.shape[1])
    g0 = np.mean([local_gradient(s, t, x0, lam) for s, t in shards], axis=0)
    runs = []
    for name, method in (("gd", gd), ("ef21", ef21)):
        norms, seconds = method(shards, lam, gamma, iterations, x0.copy())
        if name == "ef21":  # EF21's list starts at x^1; x^0's norm is the same for both
            norms = [float(g0 @ g0)] + norms[:-1]
        runs.append((name, norms, seconds))
    report(out, runs)


if __name__ == "__main__":
    main()
