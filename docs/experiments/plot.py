#!/usr/bin/env python3
"""Figures (and Markdown tables) for the compositions page of docs/experiments/, from the
compositions example's CSV files. (The other pages are regenerated from their experiment files
by docs/experiments/regenerate.py.)

    build/examples/examples/compositions --out-dir runs/compositions
    /usr/bin/python3 docs/experiments/plot.py runs --out docs/experiments/figures [--tables]

Each part of the compositions makes one figure; with --tables it also prints the Markdown
tables of the page. Needs matplotlib (Debian: apt-get install python3-matplotlib; run it with
/usr/bin/python3).
"""

import argparse
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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
        "grad_norm_sq": [float(r["grad_norm_sq"]) for r in rows],
        "uploads": [int(r["uploads"]) for r in rows],
        "bits_up": [int(r["bits_up"]) for r in rows],
        "bits_down": [int(r["bits_down"]) for r in rows],
        "bits_up_paper": [int(r["bits_up_paper"]) for r in rows],
        "bits_down_paper": [int(r["bits_down_paper"]) for r in rows],
        "time": [float(r["time"]) for r in rows],
    }


# FedPAQ (fedpaq_mnist, and compositions' FedPAQ part): every curve ran on several seeds,
# written as <id>.s<seed>.csv; curves are drawn as the mean over the seeds, round by round.


def mean_over_seeds(directory, method):
    """Round-by-round means of the relative gap inputs over a curve's seed files."""
    seeds = int(method["seeds"])
    runs = [read_history(directory, f"{method['id']}.s{s}") for s in range(1, seeds + 1)]
    length = min(len(h["round"]) for h in runs)

    def mean(key):
        return [sum(h[key][i] for h in runs) / len(runs) for i in range(length)]

    return {key: mean(key) for key in ("loss", "time", "bits_up")}


def fedpaq_gap(description, losses):
    f_star, f0 = float(description["f_star"]), float(description["f0"])
    return [max((v - f_star) / (f0 - f_star), 1e-6) for v in losses]


def draw_fedpaq_panel(directory, time_ax, bits_ax, style):
    """style(index, method) -> (colour, line style)."""
    description, methods = read_summary(directory)
    for i, method in enumerate(methods):
        colour, line = style(i, method)
        h = mean_over_seeds(directory, method)
        gap = fedpaq_gap(description, h["loss"])
        time_ax.plot(h["time"], gap, line, color=colour, label=method["name"], linewidth=1.3)
        bits_ax.plot(h["bits_up"][1:], gap[1:], line, color=colour, linewidth=1.3)
    target = float(description["target"])
    for ax in (time_ax, bits_ax):
        ax.axhline(target, color="gray", linewidth=0.8, linestyle=":")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    time_ax.set_xscale("log")
    bits_ax.set_xscale("log")
    time_ax.set_xlabel("simulated time")
    bits_ax.set_xlabel("uplink bits (all nodes)")
    time_ax.set_ylabel("relative loss gap")
    bits_ax.set_ylabel("relative loss gap")
    time_ax.legend(fontsize=7)
    return description


def plot_fedpaq_single(directory, path):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    kinds = []  # one colour per method, solid for r < n and dashed for r = n ("_r50")

    def style(i, method):
        kind = method["id"].rsplit("_r", 1)[0]
        if kind not in kinds:
            kinds.append(kind)
        return colours[kinds.index(kind)], "--" if method["id"].endswith("_r50") else "-"

    description = draw_fedpaq_panel(directory, axes[0], axes[1], style)
    fig.suptitle(f"{description['title']} (mean of {description['seeds']} seeds)")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")


def fedpaq_table(directory):
    description, methods = read_summary(directory)
    print(f"\n{description['title']} (medians over {description['seeds']} seeds)\n")
    print(
        "| method | η | rounds | uplink Mbit | simulated time | final gap | "
        f"time to gap {description['target']} |"
    )
    print("|---|---|---|---|---|---|---|")
    for m in methods:
        t = float(m["time_to_target"])
        reached = f"{m['reached']}/{m['seeds']}"
        to_target = f"{t:.0f} ({reached})" if t != float("inf") else f"not reached ({reached})"
        print(
            f"| {m['name']} | {m['eta']} | {m['rounds']} | {float(m['bits_up']) / 1e6:.3f} | "
            f"{float(m['time']):.0f} | {float(m['final_gap']):.4f} | {to_target} |"
        )


# CD-Adam (cdadam_logistic, and compositions' lazy part): the squared gradient norm.


def per_worker(description, values):
    workers = int(description["workers"])
    return [v / workers for v in values]


def plot_lazy_composition(directory, path):
    """||grad f||^2 against iterations, bits per worker (up + down) and uploads."""
    description, methods = read_summary(directory)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    factors = []  # one colour per LASG c; solid on AMSGrad, dashed on CD-Adam; baselines black
    for method in methods:
        h = read_history(directory, method["id"])
        up_down = per_worker(description, [u + d for u, d in zip(h["bits_up"], h["bits_down"])])
        if method["id"] in ("amsgrad", "cdadam"):
            colour = "black"
        else:
            factor = method["id"].rsplit("_c", 1)[1]
            if factor not in factors:
                factors.append(factor)
            colour = colours[factors.index(factor)]
        line = "--" if "cdadam" in method["id"] else "-"
        name = f"{method['name']} (η={method['eta']})"
        axes[0].plot(h["round"], h["grad_norm_sq"], line, color=colour, label=name, linewidth=1.2)
        axes[1].plot(up_down[1:], h["grad_norm_sq"][1:], line, color=colour, linewidth=1.2)
        axes[2].plot(h["uploads"][1:], h["grad_norm_sq"][1:], line, color=colour, linewidth=1.2)
    for ax, xlabel in zip(
        axes, ("iterations", "bits per worker, up + down (exact)", "uploads (all workers)")
    ):
        ax.set_xlabel(xlabel)
        ax.set_ylabel("||grad f||^2")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[1].set_xscale("log")
    axes[2].set_xscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle(
        f"LASG-WK2 + CD-Adam on {description['title']}, n = {description['workers']}, full batch"
    )
    fig.savefig(path, dpi=75)
    plt.close(fig)
    print(f"wrote {path}")


def gradient_table(directory):
    description, methods = read_summary(directory)
    levels = [float(v) for v in description["levels"].split(";")]
    base = methods[0]
    extra = f", {description['compressor']}" if "compressor" in description else ""
    print(f"\n{description['title']}{extra}, {description['iterations']} iterations\n")
    # Bits per worker (up + down) as the paper counts them (32-bit floats, its index
    # convention), with the exact count of the run's links in brackets; savings against the
    # baseline in both counts.
    header = (
        "| method | η | final ‖∇f‖² | vs AMSGrad | uploads | kbit/worker, paper's count (exact) |"
    )
    for level in levels:
        header += f" it, kbit to {level:.0e}·start (saving; exact) |"
    print(header)
    print("|---" * (6 + len(levels)) + "|")
    for m in methods:
        final = float(m["final_grad_norm_sq"])
        ratio = final / float(base["final_grad_norm_sq"])
        ratio_text = f"{ratio:.1f}×" if ratio < 1e4 else f"{ratio:.0e}×"
        bits, paper = float(m["bits_per_worker"]), float(m["paper_bits_per_worker"])
        row = (
            f"| {m['name']} | {m['eta']} | {final:.2e} | {ratio_text} | {m['uploads']} | "
            f"{paper / 1e3:.1f} ({bits / 1e3:.1f}) |"
        )
        for i in range(len(levels)):
            it = int(m[f"iterations_to_{i}"])
            if it < 0:
                row += " not reached |"
                continue
            b, p = float(m[f"bits_to_{i}"]), float(m[f"paper_bits_to_{i}"])
            base_b, base_p = float(base[f"bits_to_{i}"]), float(base[f"paper_bits_to_{i}"])
            saving = f" ({base_p / p:.1f}×; {base_b / b:.1f}×)" if base_b > 0 else ""
            row += f" {it}, {p / 1e3:.1f}{saving} |"
        print(row)


PLOTTERS = {
    "compositions_lazy": (plot_lazy_composition, gradient_table),
    "compositions_fedpaq": (plot_fedpaq_single, fedpaq_table),
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
