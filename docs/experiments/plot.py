#!/usr/bin/env python3
"""Figures (and Markdown tables) for docs/experiments/ from the examples' CSV files.

Run the reproductions with their output under one directory, then plot:

    build/examples/examples/lasg_synthetic --out-dir runs/lasg_synthetic
    build/examples/examples/lasg_logistic  --out-dir runs/lasg_logistic
    build/examples/examples/laq_mnist      --out-dir runs/laq_mnist
    build/examples/examples/laq_mnist --per-worker 1000 --rounds 4000 --out-dir runs/laq_mnist_full
    build/examples/examples/fedpaq_mnist   --out-dir runs/fedpaq_mnist
    build/examples/examples/cdadam_logistic --out-dir runs/cdadam_logistic
    build/examples/examples/compositions   --out-dir runs/compositions
    /usr/bin/python3 docs/experiments/plot.py runs --out docs/experiments/figures [--tables]

Every directory under `runs` with a summary.csv becomes one figure, named after its path
(runs/lasg_logistic/ijcnn1 -> lasg_logistic_ijcnn1.png): the training loss (for LAQ the
loss gap f - f*) against iterations, uploads and uplink bits; for LASG's Fig. 2 the uploads
so far against iterations. Some experiments are drawn as one figure for several
directories: FedPAQ's four panels (fedpaq_mnist.png: the relative loss gap against
simulated time and uplink bits, averaged over the seeds) and CD-Adam's four datasets per
compressor (cdadam_logistic_<compressor>.png: the squared gradient norm against
iterations, exact bits and the paper's bits per worker). With --tables it also prints the
Markdown tables of the docs pages. Needs matplotlib (Debian: apt-get install
python3-matplotlib; run it with /usr/bin/python3).
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
    # CD-Adam and its baselines, and the compositions built on them.
    "amsgrad": ("black", "--"),
    "cdadam": ("tab:red", "-"),
    "amsgrad_ef": ("tab:blue", "-."),
    "amsgrad_naive": ("tab:gray", ":"),
    "cdadam_up": ("tab:orange", "-"),
    "cdadam_down": ("tab:purple", "-"),
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
        "grad_norm_sq": [float(r["grad_norm_sq"]) for r in rows],
        "uploads": [int(r["uploads"]) for r in rows],
        "bits_up": [int(r["bits_up"]) for r in rows],
        "bits_down": [int(r["bits_down"]) for r in rows],
        "bits_up_paper": [int(r["bits_up_paper"]) for r in rows],
        "bits_down_paper": [int(r["bits_down_paper"]) for r in rows],
        "time": [float(r["time"]) for r in rows],
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
    for ax, xlabel in zip(axes, ("iterations", "uploads (all workers)", "uplink bits (exact)")):
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
    print(
        "| method | iterations | uploads | uplink Mbit (exact) | final loss | vs SGD | "
        "upload saving | bit saving (paper's count / exact) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    base_paper = read_history(directory, base["id"])["bits_up_paper"][-1]
    for m in methods:
        loss, up = float(m["final_loss"]), int(m["uploads"])
        paper = read_history(directory, m["id"])["bits_up_paper"][-1]
        print(
            f"| {m['name']} | {m['iterations']} | {up} | {int(m['bits_up']) / 1e6:.2f} | "
            f"{loss:.4f} | {100 * (loss / base_loss - 1):+.2f}% | {base_up / up:.1f}× | "
            f"{base_paper / paper:.1f}× / {int(base['bits_up']) / int(m['bits_up']):.1f}× |"
        )


def laq_table(directory):
    description, methods = read_summary(directory)
    f_star, target = float(description["f_star"]), float(description["target_gap"])
    runs = series(directory, methods)

    def at_target(h):
        for i, loss in enumerate(h["loss"]):
            if loss - f_star <= target:
                return h["round"][i], h["uploads"][i], h["bits_up_paper"][i], h["bits_up"][i]
        return None

    reached = [at_target(h) for _, h in runs]
    base = reached[0]
    print(
        f"\nLAQ, {description['dataset']}, {description['per_worker']} images per worker, "
        f"f* = {f_star:.10f}\n"
    )
    print(
        "| method | rounds to gap | uploads | uplink Mbit (paper's count) | uplink Mbit (exact) | "
        "bits vs GD (paper's count / exact) | final gap |"
    )
    print("|---|---|---|---|---|---|---|")
    for (m, h), r in zip(runs, reached):
        gap = h["loss"][-1] - f_star
        if r is None:
            print(f"| {m['name']} | not reached in {h['round'][-1]} | - | - | - | - | {gap:.1e} |")
            continue
        ratio = f"{base[2] / r[2]:.1f}× / {base[3] / r[3]:.1f}×" if base else "-"
        print(
            f"| {m['name']} | {r[0]} | {r[1]} | {r[2] / 1e6:.1f} | {r[3] / 1e6:.1f} | {ratio} | "
            f"{gap:.1e} |"
        )


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


def plot_fedpaq_panels(runs, directories, out, tables):
    """FedPAQ Fig. 1: one column per panel, the gap against time (top) and bits (bottom)."""
    directories = sorted(directories, key=lambda d: read_summary(d)[0]["panel"])
    fig, axes = plt.subplots(
        2, len(directories), figsize=(4.2 * len(directories), 7), constrained_layout=True,
        squeeze=False,
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for column, directory in enumerate(directories):
        description = draw_fedpaq_panel(
            directory, axes[0][column], axes[1][column], lambda i, m: (colours[i], "-")
        )
        axes[0][column].set_title(description["title"], fontsize=9)
    fig.suptitle(
        f"FedPAQ Fig. 1: MNIST 0 vs 8, n = {description['nodes']} nodes x "
        f"{description['per_node']}, T = {description['iterations']}, "
        f"C_comm/C_comp = {description['comm_over_comp']} (mean of {description['seeds']} seeds; "
        f"dotted: the target gap {description['target']})"
    )
    name = "_".join(directories[0].parent.relative_to(runs).parts) or "fedpaq_mnist"
    path = out / f"{name}.png"
    fig.savefig(path, dpi=70)
    plt.close(fig)
    print(f"wrote {path}")
    if tables:
        for directory in directories:
            fedpaq_table(directory)


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


def plot_cdadam(runs, directories, out, tables):
    """CD-Adam Figs. 2 and 4: per compressor, one column per dataset; ||grad f||^2 against
    iterations, exact bits per worker and the paper's bits per worker (both directions)."""
    by_compressor = {}
    for directory in directories:
        by_compressor.setdefault(read_summary(directory)[0]["compressor"], []).append(directory)
    order = ["phishing", "mushrooms", "a9a", "w8a"]
    for compressor, dirs in sorted(by_compressor.items()):
        dirs = sorted(dirs, key=lambda d: order.index(read_summary(d)[0]["dataset"]))
        fig, axes = plt.subplots(
            3, len(dirs), figsize=(4 * len(dirs), 9.5), constrained_layout=True, squeeze=False
        )
        for column, directory in enumerate(dirs):
            description, methods = read_summary(directory)
            for method in methods:
                h = read_history(directory, method["id"])
                up_down = [u + d for u, d in zip(h["bits_up"], h["bits_down"])]
                paper = [u + d for u, d in zip(h["bits_up_paper"], h["bits_down_paper"])]
                name = f"{method['name']} (η={method['eta']})"
                colour, line = STYLES.get(method["id"], (None, "-"))
                for ax, x, start in (
                    (axes[0][column], h["round"], 0),
                    (axes[1][column], per_worker(description, up_down), 1),
                    (axes[2][column], per_worker(description, paper), 1),
                ):
                    ax.plot(x[start:], h["grad_norm_sq"][start:], line, color=colour, label=name,
                            linewidth=1.2)
            axes[0][column].set_title(description["title"], fontsize=10)
            for row, xlabel in enumerate(
                ("iterations", "bits per worker, up + down (exact)",
                 "bits per worker, up + down (paper's count)")
            ):
                ax = axes[row][column]
                ax.set_xlabel(xlabel)
                ax.set_ylabel("||grad f||^2")
                ax.set_yscale("log")
                if row > 0:
                    ax.set_xscale("log")
                ax.grid(True, which="both", alpha=0.3)
            axes[0][column].legend(fontsize=6)
        label = "scaled sign (Fig. 2)" if compressor == "sign" else "top-1 (Fig. 4)"
        fig.suptitle(
            f"CD-Adam, nonconvex logistic regression, n = {description['workers']}, "
            f"lambda = {description['lambda']}, {label}"
        )
        name = "_".join(dirs[0].parent.parent.relative_to(runs).parts) or "cdadam_logistic"
        path = out / f"{name}_{compressor}.png"
        fig.savefig(path, dpi=60)
        plt.close(fig)
        print(f"wrote {path}")
        if tables:
            for directory in dirs:
                gradient_table(directory)


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
    "lasg_synthetic": (plot_fig2, lasg_table),
    "lasg_logistic": (plot_lasg, lasg_table),
    "laq_mnist": (plot_laq, laq_table),
    "compositions_lazy": (plot_lazy_composition, gradient_table),
    "compositions_fedpaq": (plot_fedpaq_single, fedpaq_table),
}
# Experiments drawn as one figure for several directories: (runs, directories, out, tables).
GROUP_PLOTTERS = {
    "fedpaq_mnist": plot_fedpaq_panels,
    "cdadam_logistic": plot_cdadam,
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
    groups = {}
    for summary in summaries:
        directory = summary.parent
        experiment = read_summary(directory)[0].get("experiment")
        if experiment in GROUP_PLOTTERS:
            groups.setdefault(experiment, []).append(directory)
            continue
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
    for experiment, directories in groups.items():
        GROUP_PLOTTERS[experiment](args.runs, directories, args.out, args.tables)


if __name__ == "__main__":
    main()
