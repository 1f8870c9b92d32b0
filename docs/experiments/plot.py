#!/usr/bin/env python3
"""Figures (and Markdown tables) for docs/experiments/ from the examples' CSV files.

Run the reproductions with their output under one directory, then plot:

    build/examples/examples/lasg_synthetic --out-dir runs/lasg_synthetic
    build/examples/examples/lasg_logistic  --out-dir runs/lasg_logistic
    build/examples/examples/laq_mnist      --out-dir runs/laq_mnist
    build/examples/examples/laq_mnist --per-worker 1000 --rounds 4000 --out-dir runs/laq_mnist_full
    /usr/bin/python3 docs/experiments/plot.py runs --out docs/experiments/figures [--tables]

Every directory under `runs` with a summary.csv becomes one figure, named after its path
(runs/lasg_logistic/ijcnn1 -> lasg_logistic_ijcnn1.png): the training loss (for LAQ the
loss gap f - f*) against iterations, uploads and uplink bits; for LASG's Fig. 2 the uploads
so far against iterations. With --tables it also prints the Markdown tables of the docs
pages. Needs matplotlib (Debian: apt-get install python3-matplotlib; run it with
/usr/bin/python3).
"""

import argparse
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FormatStrFormatter, NullFormatter  # noqa: E402

STYLES = {
    # id: (colour, line style); baselines dashed, lazy methods solid.
    "sgd": ("black", "--"),
    "gd": ("black", "--"),
    "qgd": ("tab:gray", "-."),
    "lag_wk": ("tab:orange", ":"),
    "lag_wk_c0.4": ("tab:orange", ":"),
    "lag_wk_c4": ("tab:brown", ":"),
    "lasg_wk1": ("tab:blue", "-"),
    "lasg_wk2": ("tab:red", "-"),
    "lasg_ps": ("tab:green", "-"),
    "lasg_pse": ("tab:purple", "-"),
    "local_sgd": ("tab:olive", "--"),
    "qsgd": ("tab:gray", "-."),
    "laqsg_wk2": ("tab:pink", "-"),
    "laq": ("tab:red", "-"),
}


def read_summary(directory):
    """The experiment's description (from the comment line) and its methods, in run order."""
    path = directory / "summary.csv"
    with path.open() as f:
        first = f.readline()
        description = {}
        for item in first.lstrip("# ").strip().split("; "):
            key, _, value = item.partition("=")
            description[key] = value
        methods = list(csv.DictReader(f))
    return description, methods


def read_history(directory, method_id):
    with (directory / f"{method_id}.csv").open() as f:
        f.readline()  # the description line
        rows = list(csv.DictReader(f))
    return {
        "round": [int(r["round"]) for r in rows],
        "loss": [float(r["loss"]) for r in rows],
        "uploads": [int(r["uploads"]) for r in rows],
        "bits_up": [int(r["bits_up"]) for r in rows],
    }


def series(directory, methods):
    """(method, history with an 'iterations' column) for each method."""
    out = []
    for m in methods:
        h = read_history(directory, m["id"])
        per_round = int(m["iterations_per_round"])
        h["iterations"] = [r * per_round for r in h["round"]]
        out.append((m, h))
    return out


def label_minor_ticks(ax):
    """Numbers on the minor ticks of a log y axis spanning about a decade (a loss)."""
    low, high = ax.get_ylim()
    if high / low < 30:
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%.2g"))
    else:
        ax.yaxis.set_minor_formatter(NullFormatter())


def draw(ax, method, x, y):
    colour, line = STYLES.get(method["id"], (None, "-"))
    ax.plot(x, y, line, color=colour, label=method["name"], linewidth=1.4)


def three_panels(title, runs, value, ylabel, path):
    """y against iterations, uploads and uplink bits (log axes), one line per method."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    for method, h in runs:
        y = value(h)
        for ax, x in zip(axes, (h["iterations"], h["uploads"], h["bits_up"])):
            # The first point (0 uploads) has no place on the logarithmic traffic axes.
            start = 0 if ax is axes[0] else 1
            draw(ax, method, x[start:], y[start:])
    for ax, xlabel in zip(axes, ("iterations", "uploads (all workers)", "uplink bits")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        label_minor_ticks(ax)
    axes[1].set_xscale("log")
    axes[2].set_xscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


def plot_fig2(directory, path):
    """LASG Fig. 2: uploads so far against iterations, and the loss."""
    description, methods = read_summary(directory)
    runs = series(directory, methods)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    for method, h in runs:
        # From iteration 1 on: nobody has uploaded before the first round (log axes).
        draw(axes[0], method, h["iterations"][1:], h["uploads"][1:])
        draw(axes[1], method, h["iterations"], h["loss"])
        draw(axes[2], method, h["uploads"][1:], h["loss"][1:])
    axes[0].set(xlabel="iterations", ylabel="uploads so far (all workers)", yscale="log")
    axes[1].set(xlabel="iterations", ylabel="training loss", yscale="log")
    axes[2].set(xlabel="uploads (all workers)", ylabel="training loss", xscale="log", yscale="log")
    axes[0].legend(fontsize=8)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    label_minor_ticks(axes[1])
    label_minor_ticks(axes[2])
    fig.suptitle(
        f"LASG Fig. 2: {description['title']}, M = {description['workers']}, "
        f"batch {description['batch']} (10 iterations per epoch)"
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


def plot_lasg(directory, path):
    description, methods = read_summary(directory)
    runs = series(directory, methods)
    title = (
        f"LASG §IV-A: {description['title']}, M = {description['workers']}, "
        f"batch {description['batch']}"
    )
    three_panels(
        title,
        runs,
        lambda h: h["loss"],
        "training loss",
        path,
    )


def plot_laq(directory, path):
    description, methods = read_summary(directory)
    runs = series(directory, methods)
    f_star = float(description["f_star"])
    floor = 1e-12  # the gap is plotted on a log axis
    three_panels(
        f"LAQ: softmax regression on {description['dataset']}, "
        f"{description['per_worker']} images per worker, "
        f"p = {description['dim']}",
        runs,
        lambda h: [max(v - f_star, floor) for v in h["loss"]],
        "loss gap f - f*",
        path,
    )


def lasg_table(directory):
    description, methods = read_summary(directory)
    base = methods[0]
    base_loss, base_up = float(base["final_loss"]), int(base["uploads"])
    print(f"\n{description['title']} (batch {description['batch']}, seed {description['seed']})\n")
    print("| method | iterations | uploads | uplink Mbit | final loss | vs SGD | upload saving |")
    print("|---|---|---|---|---|---|---|")
    for m in methods:
        loss, up = float(m["final_loss"]), int(m["uploads"])
        print(
            f"| {m['name']} | {m['iterations']} | {up} | {int(m['bits_up']) / 1e6:.2f} | "
            f"{loss:.4f} | {100 * (loss / base_loss - 1):+.2f}% | {base_up / up:.1f}× |"
        )


def laq_table(directory):
    description, methods = read_summary(directory)
    f_star, target = float(description["f_star"]), float(description["target_gap"])
    runs = series(directory, methods)

    def at_target(h):
        for i, loss in enumerate(h["loss"]):
            if loss - f_star <= target:
                return h["round"][i], h["uploads"][i], h["bits_up"][i]
        return None

    reached = [at_target(h) for _, h in runs]
    base = reached[0]
    print(
        f"\nLAQ, {description['dataset']}, {description['per_worker']} images per worker, "
        f"f* = {f_star:.10f}\n"
    )
    print("| method | rounds to gap | uploads | uplink Mbit | bits vs GD | final gap |")
    print("|---|---|---|---|---|---|")
    for (m, h), r in zip(runs, reached):
        gap = h["loss"][-1] - f_star
        if r is None:
            print(f"| {m['name']} | not reached in {h['round'][-1]} | - | - | - | {gap:.1e} |")
            continue
        ratio = f"{base[2] / r[2]:.1f}×" if base else "-"
        print(f"| {m['name']} | {r[0]} | {r[1]} | {r[2] / 1e6:.2f} | {ratio} | {gap:.1e} |")


PLOTTERS = {
    "lasg_synthetic": (plot_fig2, lasg_table),
    "lasg_logistic": (plot_lasg, lasg_table),
    "laq_mnist": (plot_laq, laq_table),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, help="the directory holding the examples' outputs")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "figures")
    parser.add_argument("--tables", action="store_true", help="also print the Markdown tables")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    summaries = sorted(args.runs.glob("**/summary.csv"))
    if not summaries:
        sys.exit(f"plot.py: no summary.csv under {args.runs} (see the usage at the top)")
    for summary in summaries:
        directory = summary.parent
        experiment = read_summary(directory)[0].get("experiment")
        if experiment not in PLOTTERS:
            print(f"skipping {directory}: unknown experiment {experiment!r}")
            continue
        # The figure is named after the run's directory: runs/lasg_logistic/ijcnn1 gives
        # lasg_logistic_ijcnn1.png.
        name = "_".join(directory.relative_to(args.runs).parts) or experiment
        plot, table = PLOTTERS[experiment]
        plot(directory, args.out / f"{name}.png")
        if args.tables:
            table(directory)


if __name__ == "__main__":
    main()
