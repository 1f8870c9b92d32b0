#!/usr/bin/python3
"""Regenerates the tables and figures of docs/experiments from scratch.

For each page it runs the page's experiment files (experiments/<page>/*.toml) with laconic-run,
then writes the tables into the page, between the markers

    <!-- generated: NAME -->  ...  <!-- end: NAME -->

and draws the figures with laconic-plot. Nothing on a page between markers is typed by hand.

    docs/experiments/regenerate.py                       # every page; needs LACONIC_DATA_DIR
    docs/experiments/regenerate.py lasg --laconic-run build/release/tools/laconic-run
    docs/experiments/regenerate.py --quick --docs /tmp/pages   # a smoke test: few rounds

--quick runs every experiment for a few rounds into a temporary folder and writes the pages
and figures into --docs (which must then be given), so that the whole pipeline is checked
without touching docs/; experiments whose data are missing are skipped with a message.
Needs matplotlib (Debian: python3-matplotlib; run it with /usr/bin/python3).
"""

import argparse
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXPERIMENTS = ROOT / "experiments"
PLOT = ROOT / "tools" / "laconic-plot" / "laconic-plot"


class Skipped(Exception):
    """An experiment that cannot run here (its data are missing)."""


# ---- Running ------------------------------------------------------------------------------


class Runner:
    def __init__(self, laconic_run, runs, quick, threads):
        self.laconic_run = laconic_run
        self.runs = runs
        self.quick = quick
        self.threads = threads

    def has_networks(self):
        """Whether this laconic-run offers the network objective (built with LibTorch)."""
        listing = subprocess.run([self.laconic_run, "--list"], check=True, capture_output=True,
                                 text=True).stdout
        return "  network(" in listing

    def run(self, experiment, variant="", overrides=()):
        """The run folder of experiments/<experiment>.toml, run afresh with `overrides`."""
        file = EXPERIMENTS / f"{experiment}.toml"
        text = file.read_text()
        if "${LACONIC_DATA_DIR}" in text and not os.environ.get("LACONIC_DATA_DIR"):
            raise Skipped(f"{file.relative_to(ROOT)} needs LACONIC_DATA_DIR (docs/data.md)")
        for path in re.findall(r'^\w+ = "(/[^"]+)"', text, re.M):
            if not Path(path).exists():
                raise Skipped(f"{file.relative_to(ROOT)} needs {path} (docs/data.md)")
        if 'name = "network"' in text and not self.has_networks():
            raise Skipped(f"{file.relative_to(ROOT)} needs laconic-run built with LibTorch")
        out = self.runs / (experiment + (f"-{variant}" if variant else ""))
        shutil.rmtree(out, ignore_errors=True)
        command = [self.laconic_run, str(file), "-o", str(out), "-q", "-j", str(self.threads)]
        for o in list(overrides) + (shorter(experiment) if self.quick else []):
            command += ["--set", o]
        print("+", " ".join(command), flush=True)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return out


def run_tables(experiment):
    """The paths of experiments/<experiment>.toml's [run] and of each method's own run
    table, with their values."""
    spec = tomllib.loads((EXPERIMENTS / f"{experiment}.toml").read_text())
    tables = [("run", spec["run"])]
    tables += [(f"method.{i}.run", m["run"]) for i, m in enumerate(spec["method"]) if "run" in m]
    return tables


def longer(experiment, factor):
    """Overrides that make every run of `experiment` `factor` times longer, with as many
    History rows."""
    return [o for path, run in run_tables(experiment)
            for o in (f"{path}.rounds={run['rounds'] * factor}",
                      f"{path}.record_every={run.get('record_every', 1) * factor}")]


def shorter(experiment):
    """Overrides that make every run of `experiment` a few rounds, for --quick (last, so
    that they win over a variant's)."""
    out = [o for path, _ in run_tables(experiment)
           for o in (f"{path}.rounds=20", f"{path}.record_every=5")]
    if run_tables(experiment)[0][1].get("solve_optimum"):
        out.append("run.solve_tolerance=1e-6")  # f* roughly, quickly
    return out


def read_summary(folder):
    """The rows of folder/summary.csv, each a dict with numbers converted."""
    with (folder / "summary.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            if key not in ("run", "method", "status", "history"):
                row[key] = float(value) if value else float("nan")
    return rows


def read_history(folder, row):
    """A run's History as a list of dicts of floats."""
    with (folder / row["history"]).open(newline="") as f:
        f.readline()  # the '# laconic ...' comment
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def by_method(rows):
    """{label: [rows of its seeds]}, in the experiment's order."""
    out = {}
    for row in rows:
        out.setdefault(row["method"], []).append(row)
    return out


def grid_groups(folder, key):
    """{grid value: {method label without the grid point: its rows}} of a run folder whose
    methods ran over a grid of one parameter `key`."""
    groups = {}
    for label, rows in by_method(read_summary(folder)).items():
        method, grid, point = label.rpartition(f" ({key}=")
        if grid:  # not a method without this grid
            groups.setdefault(point.rstrip(")"), {})[method] = rows
    return groups


def mean(rows, key):
    return sum(r[key] for r in rows) / len(rows)


def plot(folder, figure, *options):
    figure.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(PLOT), str(folder), "-o", str(figure), *options]
    subprocess.run(command, check=True)


# ---- Formatting ---------------------------------------------------------------------------


def times(ratio):
    """A saving such as 98.0× or 575×."""
    return f"{ratio:.0f}×" if ratio >= 100 else f"{ratio:.1f}×"


def percent(value, base):
    """The relative change of value against base, e.g. −0.72% (never −0.00%)."""
    text = f"{100 * (value / base - 1):+.2f}%"
    return text.replace("-", "−") if text != "-0.00%" else "+0.00%"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def fill(page, name, text):
    """The page with the block between name's markers replaced by text."""
    pattern = re.compile(
        rf"(<!-- generated: {re.escape(name)} -->\n).*?(<!-- end: {re.escape(name)} -->)", re.S)
    if not pattern.search(page):
        raise SystemExit(f"regenerate.py: no markers for '{name}' in the page")
    return pattern.sub(lambda m: m.group(1) + text.rstrip("\n") + "\n" + m.group(2), page)


# ---- docs/experiments/lasg.md --------------------------------------------------------------

# The datasets of §IV-A and their titles; a page's dicts of run folders keep this order.
LASG_DATASETS = {"ijcnn1": "ijcnn1", "mnist35": "MNIST 3 vs 5", "a9a": "a9a", "w8a": "w8a"}
# Each row of the main table: its method label (local SGD's carries its H) and what the
# paper's text says.
LASG_ROWS = [
    ("SGD", "baseline"),
    ("LAG-WK (stochastic)", "saves little"),
    ("LASG-WK1", '"more than one order of magnitude"'),
    ("LASG-WK2", '"about one order of magnitude … even more for LR"'),
    ("LASG-PS", "same iteration complexity as SGD"),
    ("LASG-PSE", "as WK2"),
    ("local SGD", 'LASG "outperform[s] local SGD in most cases"'),
    ("QSGD 4-bit", "—"),
    ("LAQSG-WK2 4-bit", '"extra benefits from quantization"'),
]
TARGET_RULES = ("LASG-WK2", "LASG-PSE")


def vs_sgd(method, sgd):
    """A method's final loss against SGD's and its saving in uploads: "−0.72%, 98.0×"."""
    return (f"{percent(mean(method, 'loss'), mean(sgd, 'loss'))}, "
            f"{times(mean(sgd, 'uploads') / mean(method, 'uploads'))}")


def lasg_cell(method, sgd, first, compressed):
    if method is sgd:
        loss, uploads = mean(sgd, "loss"), mean(sgd, "uploads")
        return f"loss {loss:.4f}, {uploads:.0f} uploads" if first else f"{loss:.4f}, {uploads:.0f}"
    text = vs_sgd(method, sgd)
    if compressed:  # the bit savings too, as the papers count them and exact
        text += (f" ({times(mean(sgd, 'bits_up_paper') / mean(method, 'bits_up_paper'))} bits; "
                 f"{times(mean(sgd, 'bits_up') / mean(method, 'bits_up'))} exact)")
    return text


def lasg_met(method, sgd):
    """LASG's target: within 1% of SGD's loss with at least 5× fewer uploads."""
    return (mean(method, "loss") <= 1.01 * mean(sgd, "loss")
            and 5 * mean(method, "uploads") <= mean(sgd, "uploads"))


def lasg_columns(folders):
    """The titles of the datasets that ran, and each one's methods by label."""
    return ([LASG_DATASETS[key] for key in folders],
            [by_method(read_summary(folder)) for folder in folders.values()])


def lasg_label(methods, row):
    """The label of a row's method in one dataset: local SGD's names its period."""
    return next(m for m in methods if m == row or m.startswith(row + " ("))


def lasg_main_table(folders, paper=True):
    titles, columns = lasg_columns(folders)
    rows = []
    for row, said in LASG_ROWS:
        cells = []
        for i, methods in enumerate(columns):
            sgd = methods["SGD"]
            label = lasg_label(methods, row)
            cell = lasg_cell(methods[label], sgd, i == 0, "4-bit" in row)
            if label != row:  # local SGD (H=50): its period
                cell += " " + label[len(row) + 1:].replace("=", " = ")
            if row in TARGET_RULES:
                cell = f"**{cell}** ✓" if lasg_met(methods[label], sgd) else f"{cell} ✗"
            cells.append(cell)
        name = f"**{row}**" if row in TARGET_RULES else row
        rows.append([name] + cells + ([said] if paper else []))
    return table(["method"] + titles + (["paper (§IV-A text)"] if paper else []), rows)


def lasg_seeds_table(folders):
    """Per method and dataset: seeds meeting the target, mean loss and saving against SGD's
    run with the same seed."""
    titles, columns = lasg_columns(folders)
    rows = []
    for row, _ in LASG_ROWS[1:]:
        cells = []
        for methods in columns:
            sgd = {r["seed"]: r for r in methods["SGD"]}
            runs = methods[lasg_label(methods, row)]
            met = sum(lasg_met([r], [sgd[r["seed"]]]) for r in runs)
            change = sum(r["loss"] / sgd[r["seed"]]["loss"] for r in runs) / len(runs)
            saving = sum(sgd[r["seed"]]["uploads"] / r["uploads"] for r in runs) / len(runs)
            cells.append(f"{met}/{len(runs)}, {percent(change, 1)}, {times(saving)}")
        rows.append([row] + cells)
    return table(["method (target met, vs SGD, saving)"] + titles, rows)


# The batch sizes (samples per worker per iteration) tried beyond each dataset's default.
LASG_BATCHES = {"mnist35": [6, 12], "a9a": [6, 12, 29], "w8a": [29]}
LASG_BATCH_ROWS = ["LASG-WK1", "LASG-WK2", "LASG-PS", "LASG-PSE", "LAQSG-WK2 4-bit"]


def lasg_batch_overrides(key):
    values = ", ".join(f'"samples({b})"' for b in LASG_BATCHES[key])
    return [f'method.{i}.grid={{ "server.batch" = [{values}] }}' for i in range(len(LASG_ROWS))]


def lasg_batch_cells(methods):
    sgd = methods["SGD"]
    cells = []
    for row in LASG_BATCH_ROWS:
        met = row in TARGET_RULES and lasg_met(methods[row], sgd)
        cells.append(vs_sgd(methods[row], sgd) + (" ✓" if met else ""))
    return cells


def lasg_batch_table(folders, batches):
    """Each dataset at its default batch and the batches of LASG_BATCHES."""
    rows = []
    for key, folder in folders.items():
        title = LASG_DATASETS[key]
        default = by_method(read_summary(folder))
        rows.append([f"{title}, default"] + lasg_batch_cells(default))
        if key in batches:
            for point, methods in grid_groups(batches[key], "server.batch").items():
                rows.append([f"{title}, {point.removeprefix('samples(').rstrip(')')}"]
                            + lasg_batch_cells(methods))
    return table(["dataset, batch"] + [r.replace("LASG-", "").replace(" 4-bit", "")
                                       for r in LASG_BATCH_ROWS], rows)


def lasg_pse_table(folders, pse):
    """SGD's and PSE's loss at iteration 100, and PSE with other starting estimates."""
    estimates = None
    rows = []
    for key, folder in folders.items():
        summary = read_summary(folder)
        at_100 = {}
        for row in summary:
            if row["method"] in ("SGD", "LASG-PSE"):
                at_100[row["method"]] = [
                    h["loss"] for h in read_history(folder, row) if h["round"] <= 100][-1]
        groups = grid_groups(pse[key], "skip.initial_estimate")
        estimates = list(groups)
        sgd = by_method(summary)["SGD"]
        cells = []
        for estimate in estimates:
            method = groups[estimate]["LASG-PSE"]
            cells.append(vs_sgd(method, sgd) + (" ✓" if lasg_met(method, sgd) else " ✗"))
        rows.append([LASG_DATASETS[key], f"{at_100['SGD']:.3f}", f"{at_100['LASG-PSE']:.3f}"]
                    + cells)
    return table(["dataset", "SGD's loss at iteration 100", "PSE's (L̂⁰ = 0)"]
                 + [f"PSE, L̂⁰ = {e}" for e in estimates or []], rows)


def lasg_fig2_table(folder):
    summary = read_summary(folder)
    methods = by_method(summary)
    sgd = methods["SGD"]
    rows = []
    for label, runs in methods.items():
        history = read_history(folder, runs[0])
        last = history[-1]["round"]
        quarters, before = [], 0
        for q in range(1, 5):
            at = [h for h in history if h["round"] <= q * last / 4][-1]["uploads"]
            quarters.append(f"{at - before:.0f}")
            before = at
        rows.append([label.replace("c=", "c = "), f"{mean(runs, 'uploads'):.0f}",
                     f"{mean(runs, 'loss'):.4f}",
                     "—" if runs is sgd else percent(mean(runs, "loss"), mean(sgd, "loss")),
                     times(mean(sgd, "uploads") / mean(runs, "uploads")), ", ".join(quarters)])
    return table(["method", "uploads", "final loss", "vs SGD", "saving",
                  "uploads in each quarter of the run"], rows)


def lasg(runner, page, figures):
    folders, seeds, long, batches, pse = {}, {}, {}, {}, {}
    for key, title in LASG_DATASETS.items():
        experiment = f"lasg/logistic_{key}"
        try:
            folders[key] = runner.run(experiment)
        except Skipped as why:
            print(f"skipped: {why}")
            continue
        plot(folders[key], figures / f"lasg_logistic_{key}.png", "--x", "samples", "uploads",
             "bits_up", "--logy", "--title", f"LASG §IV-A: {title}")
        seeds[key] = runner.run(experiment, "seeds", ["run.seeds=[1,2,3,4,5]"])
        long[key] = runner.run(experiment, "long", longer(experiment, 10))
        if key in LASG_BATCHES:
            batches[key] = runner.run(experiment, "batches", lasg_batch_overrides(key))
        pse[key] = runner.run(experiment, "pse", [
            'method.5.grid={ "skip.initial_estimate" = [0.1, 1, 10] }'])
    if folders:
        page = fill(page, "lasg-main", lasg_main_table(folders))
        page = fill(page, "lasg-seeds", lasg_seeds_table(seeds))
        page = fill(page, "lasg-long", lasg_main_table(long, paper=False))
        page = fill(page, "lasg-batches", lasg_batch_table(folders, batches))
        page = fill(page, "lasg-pse", lasg_pse_table(folders, pse))
    fig2 = runner.run("lasg/fig2_synthetic")
    plot(fig2, figures / "lasg_synthetic.png", "--x", "rounds", "--y", "uploads", "loss",
         "--title", "LASG Fig. 2: synthetic logistic regression")
    small = runner.run("lasg/fig2_synthetic", "small", ["data.samples=5000", "data.features=50"])
    page = fill(page, "lasg-fig2", lasg_fig2_table(fig2))
    return fill(page, "lasg-fig2-small", lasg_fig2_table(small))


# ---- docs/experiments/laq.md ---------------------------------------------------------------


def optimum(folder):
    """f* as the run folder's experiment.json gives it (run.solve_optimum)."""
    return json.loads((folder / "experiment.json").read_text())["optimal_loss"]["value"]


def laq_table(folder, paper=True):
    """Each method's iterations, uploads and uplink bits to the target, and its bit savings."""
    methods = {label: runs[0] for label, runs in by_method(read_summary(folder)).items()}
    gd, qgd = methods["GD"], methods["QGD 4-bit"]
    said = {"GD": "baseline", "QGD 4-bit": "baseline (quantized GD)", "LAG-WK": "baseline (LAG)",
            "LAQ 4-bit": "GD's linear rate; \"major savings\" in bits and communication rounds"}
    rows = []
    for label, run in methods.items():
        reached = run["status"] == "reached"
        cells = [label, f"{run['rounds']:.0f}" if reached else f"not reached in {run['rounds']:.0f}",
                 f"{run['uploads']:.0f}",
                 f"{run['bits_up_paper'] / 1e6:.1f} ({run['bits_up'] / 1e6:.1f})",
                 "1×" if run is gd else f"{gd['bits_up_paper'] / run['bits_up_paper']:.1f}× fewer",
                 "—" if run is gd else ("1×" if run is qgd else
                                        f"{qgd['bits_up_paper'] / run['bits_up_paper']:.1f}× fewer")]
        if label.startswith("LAQ"):
            cells = [f"**{c}**" for c in cells]
        rows.append(cells + ([said.get(label, "")] if paper else []))
    header = ["method", "iterations to 1e-6", "uploads", "uplink Mbit (exact)", "bits vs GD",
              "bits vs QGD"]
    return table(header + (["paper (Table 2 digits unavailable)"] if paper else []), rows)


def laq_variants_table(variants):
    """LAQ taken apart: each variant's LAQ row, and every method with 32-bit links."""
    rows = []
    for title, folder in variants:
        for label, runs in by_method(read_summary(folder)).items():
            run = runs[0]
            if title.startswith("LAQ") and not label.startswith("LAQ"):
                continue
            reached = run["status"] == "reached"
            rows.append([f"{label}, {title}" if not title.startswith("LAQ") else title,
                         f"{run['rounds']:.0f}" if reached else "not reached",
                         f"{run['uploads']:.0f}", f"{run['bits_up_paper'] / 1e6:.1f}"])
    return table(["variant", "iterations to 1e-6", "uploads", "uplink Mbit"], rows)


LAQ_SPEC = "laq(D=10, t_bar=100, error_weight={w}) + markov(uniform(bits={b})) + sgd(step=0.2)"


def laq(runner, page, figures):
    try:
        default = runner.run("laq/mnist")
    except Skipped as why:
        print(f"skipped: {why}")
        return page
    full = runner.run("laq/mnist", "all", ["data.rows=10000", "run.rounds=4000"])
    for folder, name in ((default, "laq_mnist"), (full, "laq_mnist_full")):
        plot(folder, figures / f"{name}.png", "--x", "rounds", "uploads", "bits_paper", "--y",
             "loss_gap", "--optimal-loss", repr(optimum(folder)), "--title",
             "LAQ: " + ("200 images per worker" if folder is default else "all 10000 images"))
    variants = [
        ("LAQ without the error term (error_weight = 0)",
         runner.run("laq/mnist", "weight0", ["method.3.spec=" + LAQ_SPEC.format(w=0, b=4)])),
        ("LAQ 8-bit", runner.run("laq/mnist", "bits8", ["method.3.spec=" + LAQ_SPEC.format(w=3, b=8)])),
        ("32-bit links", runner.run("laq/mnist", "float32",
                                    [f"method.{i}.float_bits=32" for i in range(4)])),
    ]
    page = fill(page, "laq-default", f"f* = {optimum(default):.12f}\n\n" + laq_table(default))
    page = fill(page, "laq-all", f"f* = {optimum(full):.12f}\n\n" + laq_table(full, paper=False))
    return fill(page, "laq-variants", laq_variants_table(variants))


# ---- docs/experiments/fedpaq.md ------------------------------------------------------------

FEDPAQ_PANELS = [("a_levels", "(a) quantization levels, (τ, r) = (5, 25)"),
                 ("b_nodes", "(b) active nodes, (s, τ) = (1, 5)"),
                 ("c_period", "(c) period, (s, r) = (1, 25)"),
                 ("d_methods", "(d) FedPAQ against FedAvg and QSGD, r = n = 50")]
TUNING_SEEDS = "[1001,1002,1003]"


def final_loss(row):
    return float("inf") if row["status"] == "diverged" else row["loss"]


def method_index(experiment):
    """{label: index} of experiments/<experiment>.toml's methods."""
    methods = tomllib.loads((EXPERIMENTS / f"{experiment}.toml").read_text())["method"]
    return {m["label"]: i for i, m in enumerate(methods)}


def with_steps(experiment, steps):
    """Overrides that run each method of `experiment` at its step of `steps` only."""
    return [f'method.{i}.grid={{ "server.step" = [{steps[label]}] }}'
            for label, i in method_index(experiment).items()]


def tuned(runner, experiment, variant="", overrides=()):
    """Runs `experiment` with each method's step tuned: its grid of server.step is run on the
    tuning seeds, and the step with the lowest mean final loss then runs on the file's seeds.
    Returns the final run folder and {method: step}."""
    name = (variant + "-" if variant else "") + "tuning"
    tuning = runner.run(experiment, name, [*overrides, f"run.seeds={TUNING_SEEDS}"])
    steps = {}
    for point, methods in grid_groups(tuning, "server.step").items():
        for method, rows in methods.items():
            loss = sum(final_loss(r) for r in rows) / len(rows)
            if method not in steps or loss < steps[method][1]:
                steps[method] = (point, loss)
    chosen = {label: steps[label][0] for label in method_index(experiment)}
    return runner.run(experiment, variant, [*overrides, *with_steps(experiment, chosen)]), chosen


def median(values):
    values = sorted(values)
    h = len(values) // 2
    return values[h] if len(values) % 2 else (values[h - 1] + values[h]) / 2


def fedpaq_rows(folder):
    """Per method: its rows, histories, f(0) and f*, for the relative gap."""
    f_star = optimum(folder)
    out = {}
    for label, rows in by_method(read_summary(folder)).items():
        histories = [read_history(folder, r) for r in rows]
        out[label.rpartition(" (server.step=")[0] or label] = (rows, histories)
    return f_star, out


def time_to(history, f_star, target):
    f0 = history[0]["loss"]
    return next((h["time"] for h in history if (h["loss"] - f_star) / (f0 - f_star) <= target),
                float("inf"))


def fedpaq_table(folder, steps, target=0.05):
    """Per method: its tuned step, rounds, and the medians over the seeds of its uplink bits,
    simulated time, final relative gap and time to the gap `target` (the fastest in bold)."""
    f_star, methods = fedpaq_rows(folder)
    to_target = {label: [time_to(h, f_star, target) for h in histories]
                 for label, (_, histories) in methods.items()}
    fastest = min(median(t) for t in to_target.values())
    rows = []
    for label, (runs, histories) in methods.items():
        t = median(to_target[label])
        time = "not reached" if t == float("inf") else f"{t:.0f}"
        reached = sum(x < float("inf") for x in to_target[label])
        gap = median([(final_loss(r) - f_star) / (h[0]["loss"] - f_star)
                      for r, h in zip(runs, histories)])
        rows.append([label, steps[label], f"{runs[0]['rounds']:.0f}",
                     f"{median([r['bits_up'] for r in runs]) / 1e6:.3f}",
                     f"{median([r['time'] for r in runs]):.0f}", f"{gap:.4f}",
                     (f"**{time}**" if t == fastest else time) + f" ({reached}/{len(runs)})"])
    return table(["method", "η", "rounds", "uplink Mbit", "simulated time", "final gap",
                  f"time to gap {target}"], rows)


def fedpaq_targets_table(folder, targets=(0.1, 0.05, 0.03)):
    """Median time to several gaps (how many seeds reach each)."""
    f_star, methods = fedpaq_rows(folder)
    rows = []
    for label, (_, histories) in methods.items():
        cells = []
        for target in targets:
            times = [time_to(h, f_star, target) for h in histories]
            reached = sum(t < float("inf") for t in times)
            m = median(times)
            cells.append((f"{m:.0f}" if m < float("inf") else "not reached")
                         + f" ({reached}/{len(times)})")
        rows.append([label] + cells)
    return table(["method"] + [f"time to gap {t}" for t in targets], rows)


def fedpaq(runner, page, figures):
    folders = {}
    for stem, title in FEDPAQ_PANELS:
        try:
            folder, steps = tuned(runner, f"fedpaq/{stem}")
        except Skipped as why:
            print(f"skipped: {why}")
            return page
        folders[stem] = folder
        page = fill(page, f"fedpaq-{stem}", fedpaq_table(folder, steps))
        plot(folder, figures / f"fedpaq_{stem}.png", "--x", "time", "bits_up", "--y", "loss_gap",
             "--optimal-loss", repr(optimum(folder)), "--title", f"FedPAQ Fig. 1{title}")
    page = fill(page, "fedpaq-targets", fedpaq_targets_table(folders["c_period"]))
    small, steps = tuned(runner, "fedpaq/c_period", "small", ["data.rows=1000"])
    return fill(page, "fedpaq-small", fedpaq_table(small, steps))


# ---- docs/experiments/cdadam.md ------------------------------------------------------------

# The datasets and their widths d; a page's dicts of results keep this order.
CDADAM_SETS = {"phishing": 68, "mushrooms": 112, "a9a": 123, "w8a": 300}
# Fig. 2's four methods, AMSGrad the baseline of the ratios.
SIGN_METHODS = ["AMSGrad", "CD-Adam (scaled sign)", "AMSGrad + EF (scaled sign)",
                "AMSGrad naive (scaled sign)"]
CDADAM_WORKERS = 20


def final_norm(row, history):
    """‖∇f‖² at the end of a run: the geometric mean over the last 10% of its History rows
    (compressed AMSGrad oscillates near its floor, so the last row alone is luck)."""
    if row["status"] == "diverged":
        return float("inf")
    tail = history[-max(1, len(history) // 10):]
    return math.exp(sum(math.log(h["grad_norm_sq"]) for h in tail) / len(tail))


class Best:
    """A method at the step of its grid with the smallest final ‖∇f‖²: its step, summary row,
    History and final ‖∇f‖², and every step's final ‖∇f‖² (tried)."""

    def __init__(self, folder, runs):
        tried = [(step, row, read_history(folder, row)) for step, row in runs.items()]
        self.tried = {step: final_norm(row, h) for step, row, h in tried}
        self.step, self.row, self.history = min(tried, key=lambda t: self.tried[t[0]])
        self.norm = self.tried[self.step]
        self.label = self.row["method"]

    def first_at(self, level):
        """The first History row with ‖∇f‖² at most `level` times its start, or None."""
        target = level * self.history[0]["grad_norm_sq"]
        return next((h for h in self.history if h["grad_norm_sq"] <= target), None)


def cdadam_best(folder):
    """{method: Best} of a CD-Adam run folder."""
    runs = {}
    for step, methods in grid_groups(folder, "server.step").items():
        for method, rows in methods.items():
            runs.setdefault(method, {})[step] = rows[0]
    return {method: Best(folder, by_step) for method, by_step in runs.items()}


def kbits(h, paper):
    """Bits per worker, both directions, in kbit: as the paper counts them or exact."""
    bits = h["bits_up_paper"] + h["bits_down_paper"] if paper else h["bits_up"] + h["bits_down"]
    return bits / CDADAM_WORKERS / 1e3


def ratio(a, b):
    r = a / b
    return f"{r:.1f}×" if r < 1e4 else f"{r:.0e}×"


def cdadam_reach(method, base, level, saving=True):
    """Iterations and bits per worker to ‖∇f‖² ≤ level × its start, with the baseline's bits
    for the same over the method's (as counted; exact)."""
    at = method.first_at(level)
    if at is None:
        return "not reached"
    text = f"{at['round']:.0f} it, {kbits(at, True):.1f} kbit"
    theirs = base.first_at(level)
    if saving and method is not base and theirs is not None:
        text += (f" ({ratio(kbits(theirs, True), kbits(at, True))}; "
                 f"{ratio(kbits(theirs, False), kbits(at, False))})")
    return text


def cdadam_sign_table(bests):
    rows = []
    for name, b in bests.items():
        base, cd = b["AMSGrad"], b["CD-Adam (scaled sign)"]
        per_iteration = (f"{ratio(kbits(base.history[-1], True), kbits(cd.history[-1], True))}; "
                         f"{ratio(kbits(base.history[-1], False), kbits(cd.history[-1], False))}")
        for i, label in enumerate(SIGN_METHODS):
            m = b[label]
            short = label.replace(" (scaled sign)", "")
            first = i == 0
            rows.append([f"{name} ({CDADAM_SETS[name]})" if first else "",
                         per_iteration if first else "",
                         f"**{short}**" if short == "CD-Adam" else short, m.step,
                         f"{m.norm:.1e}", cdadam_reach(m, base, 1e-2), cdadam_reach(m, base, 1e-4)])
    return table(["dataset (d)", "bits per iteration, AMSGrad / CD-Adam (paper's count; exact)",
                  "method", "η", "final ‖∇f‖²", "to 10⁻²", "to 10⁻⁴"], rows)


def cdadam_grid_table(bests):
    steps = None
    rows = []
    for name, b in bests.items():
        for i, label in enumerate(SIGN_METHODS[:2]):
            m = b[label]
            steps = list(m.tried)
            rows.append([name if i == 0 else "", label.replace(" (scaled sign)", "")]
                        + [f"{m.tried[s]:.1e}" for s in steps])
    return table(["dataset", "method"] + [f"η = {s}" for s in steps or []], rows)


def cdadam_top1_table(bests):
    rows = []
    for name, b in bests.items():
        base, cd = b["AMSGrad"], b["CD-Adam (top-1)"]
        ef, naive = b["AMSGrad + EF (top-1)"], b["AMSGrad naive (top-1)"]
        rows.append([name, "CD-Adam", cd.step, f"{cd.norm:.1e}", ratio(cd.norm, base.norm),
                     cdadam_reach(cd, base, 1e-2)])
        rows.append(["", "AMSGrad + EF / naive", f"{ef.step} / {naive.step}",
                     f"{ef.norm:.1e} / {naive.norm:.1e}", "—",
                     " / ".join(cdadam_reach(m, base, 1e-2, saving=False) for m in (ef, naive))])
    return table(["dataset", "method", "η", "final ‖∇f‖²", "vs AMSGrad",
                  "to 10⁻²: it, kbit as counted (saving; exact saving)"], rows)


def cdadam_links_table(bests):
    labels = ["AMSGrad", "CD-Adam (scaled sign)", "CD-Adam uplink only (scaled sign)",
              "CD-Adam downlink only (scaled sign)"]
    rows = [[name] + [f"{b[label].norm:.1e} (η {b[label].step})" for label in labels]
            for name, b in bests.items()]
    return table(["dataset", "AMSGrad", "CD-Adam, both links", "uplink only", "downlink only"],
                 rows)


def cdadam_zero_table(bests):
    rows = []
    for name, b in bests.items():
        for i, label in enumerate(SIGN_METHODS):
            m = b[label]
            rows.append([name if i == 0 else "", label.replace(" (scaled sign)", ""), m.step,
                         f"{m.norm:.1e}", cdadam_reach(m, b["AMSGrad"], 1e-4),
                         cdadam_reach(m, b["AMSGrad"], 1e-6)])
    return table(["dataset", "method", "η", "final ‖∇f‖²", "to 10⁻⁴", "to 10⁻⁶"], rows)


def cdadam(runner, page, figures):
    bests, zero = {}, {}
    for name in CDADAM_SETS:
        try:
            folder = runner.run(f"cdadam/{name}")
        except Skipped as why:
            print(f"skipped: {why}")
            continue
        bests[name] = cdadam_best(folder)
        zero[name] = cdadam_best(runner.run(f"cdadam/{name}", "zero", ["run.init=zero"]))
        for compressor in ("scaled sign", "top-1"):
            chosen = [m.label for label, m in bests[name].items()
                      if label == "AMSGrad" or (label.endswith(f"({compressor})")
                                                and "link only" not in label)]
            plot(folder, figures / f"cdadam_{compressor.replace(' ', '_')}_{name}.png", "--x",
                 "rounds", "bits_paper", "--y", "grad_norm_sq", "--only",
                 "^(" + "|".join(re.escape(c) for c in chosen) + ")$", "--title",
                 f"CD-Adam, {compressor}: {name} (each method at its best step)")
    if not bests:
        return page
    page = fill(page, "cdadam-sign", cdadam_sign_table(bests))
    page = fill(page, "cdadam-grid", cdadam_grid_table(bests))
    page = fill(page, "cdadam-top1", cdadam_top1_table(bests))
    page = fill(page, "cdadam-links", cdadam_links_table(bests))
    return fill(page, "cdadam-zero", cdadam_zero_table(zero))


# ---- docs/experiments/compositions.md ------------------------------------------------------


def lazy_table(bests):
    """Each method of part A at its best step against AMSGrad's: final ‖∇f‖², uploads, bits
    per worker, and iterations and bits to three levels of ‖∇f‖²."""
    base = bests["AMSGrad"]
    rows = []
    for label, m in bests.items():
        end = m.history[-1]
        rows.append([label, m.step, f"{m.norm:.2e}", ratio(m.norm, base.norm),
                     f"{m.row['uploads']:.0f}",
                     f"{kbits(end, True):.1f} ({kbits(end, False):.1f})"]
                    + [cdadam_reach(m, base, level) for level in (1e-2, 1e-4, 1e-6)])
    return table(["method", "η", "final ‖∇f‖²", "vs AMSGrad", "uploads",
                  "kbit per worker (exact)", "to 10⁻²·start", "to 10⁻⁴·start",
                  "to 10⁻⁶·start"], rows)


# The refused compositions: what each is, and its specification (on experiments/example.toml).
REFUSED = [
    ("FedPAQ with a Markov top-k **downlink**, r < n",
     "qsgd(levels=1) + periodic_average(local_steps=2, participation=sample(2))"
     " + down:markov(top_k(k=1))"),
    ("LASG-WK2 + CD-Adam with r < n",
     "lasg_wk2 + amsgrad(participation=sample(2)) + markov(scaled_sign)"
     " + down:markov(scaled_sign)"),
    ("a skip rule with periodic averaging (LASG-WK2 + FedPAQ)",
     "lasg_wk2 + qsgd(levels=1) + periodic_average(local_steps=2)"),
    ("a server-side skip rule with a stateful downlink (LASG-PS + Markov top-k broadcast)",
     "lasg_ps + sgd + down:markov(top_k(k=1))"),
    ("FedPAQ with a Markov top-k **uplink**, r < n (part B, accepted)",
     "markov(top_k(k=1)) + periodic_average(local_steps=2, participation=sample(2))"),
]


def refusals_table(runner):
    """What laconic-run says of each composition of REFUSED: its refusal, or that it is
    accepted."""
    rows = []
    for what, spec in REFUSED:
        command = [runner.laconic_run, str(EXPERIMENTS / "example.toml"), "--dry-run",
                   "--set", f"method.0.spec={spec}"]
        done = subprocess.run(command, capture_output=True, text=True)
        said = done.stderr.strip()
        if done.returncode == 0:
            verdict = "accepted"
        elif "invalid parameter" in said:
            verdict = "refused: `invalid parameter" + said.split("invalid parameter", 1)[1] + "`"
        else:
            raise SystemExit(f"regenerate.py: laconic-run failed otherwise on {spec}:\n{said}")
        rows.append([what, f"`{spec}`", verdict])
    return table(["composition", "specification", "laconic-run --dry-run says"], rows)


def with_exact_floats(experiment):
    """Overrides that give each method of `experiment` 64-bit floats on its links."""
    methods = tomllib.loads((EXPERIMENTS / f"{experiment}.toml").read_text())["method"]
    return [f"method.{i}.spec={m['spec'].replace('float_bits=32', 'float_bits=64')}"
            for i, m in enumerate(methods)]


def compositions(runner, page, figures):
    page = fill(page, "compositions-refused", refusals_table(runner))
    try:
        folder = runner.run("compositions/lazy_amsgrad")
    except Skipped as why:
        print(f"skipped: {why}")
        return page
    bests = cdadam_best(folder)
    page = fill(page, "compositions-lazy", lazy_table(bests))
    chosen = [m.label for label, m in bests.items()
              if not label.startswith("LASG") or "10⁻⁴" in label or "10⁻⁶" in label]
    plot(folder, figures / "compositions_lasg_cdadam.png", "--x", "rounds", "bits", "uploads",
         "--y", "grad_norm_sq", "--only", "^(" + "|".join(re.escape(c) for c in chosen) + ")$",
         "--title", "LASG-WK2 on AMSGrad and CD-Adam, a9a (each method at its best step)")

    experiment = "compositions/fedpaq_markov"
    folder, steps = tuned(runner, experiment)
    page = fill(page, "compositions-fedpaq", fedpaq_table(folder, steps))
    plot(folder, figures / "compositions_fedpaq_markov.png", "--x", "time", "bits_up", "--y",
         "loss_gap", "--optimal-loss", repr(optimum(folder)), "--title",
         "FedPAQ's periodic averaging with four uplinks, MNIST 0 vs 8, τ = 5")
    exact, steps = tuned(runner, experiment, "exact", with_exact_floats(experiment))
    return fill(page, "compositions-fedpaq-exact", fedpaq_table(exact, steps))


# ---- docs/experiments/time.md --------------------------------------------------------------

LOGNORMAL = ["run.cost.devices.compute_sigma=1", "run.cost.devices.bandwidth_sigma=1"]
PARALLEL = ["run.cost.links=parallel"]


def mean_round_time(folder):
    """{method: its mean simulated time per round}, over the seeds."""
    return {label.rpartition(" (server.step=")[0] or label:
            median([r["time"] / r["rounds"] for r in rows])
            for label, rows in by_method(read_summary(folder)).items()}


def with_deadlines(experiment, round_times, factor, only=None):
    """Overrides giving each method (of `only`, if given) the deadline `factor` × its round
    time in `round_times`."""
    return [f"method.{i}.run.cost.deadline={factor * round_times[label]:.6g}"
            for label, i in method_index(experiment).items() if only is None or label in only]


def time_settings_table(settings, target):
    """Per method: the median time to the relative gap `target` (how many seeds reach it) in
    each setting, the fastest method of each setting in bold, and its uplink traffic dropped."""
    columns = []
    for name, folder in settings:
        f_star, methods = fedpaq_rows(folder)
        cells = {}
        for label, (runs, histories) in methods.items():
            t = [time_to(h, f_star, target) for h in histories]
            dropped = median([h[-1]["dropped_uploads"] / max(h[-1]["uploads"], 1)
                              for h in histories])
            cells[label] = (median(t), sum(x < float("inf") for x in t), len(t), dropped)
        columns.append((name, cells))
    labels = list(columns[0][1])
    rows = []
    for label in labels:
        row = [label]
        for name, cells in columns:
            t, reached, runs, dropped = cells[label]
            fastest = min(c[0] for c in cells.values())
            text = "not reached" if t == float("inf") else f"{t:,.0f}"
            text = f"**{text}**" if t == fastest and t < float("inf") else text
            text += f" ({reached}/{runs})"
            if dropped > 0:
                text += f", {100 * dropped:.0f}% dropped"
            row.append(text)
        rows.append(row)
    return table(["method"] + [name for name, _ in columns], rows)


def time_parts_table(settings):
    """Where each method's simulated time went in each setting: the shares of its parts
    (medians over the seeds)."""
    rows = []
    for name, folder in settings:
        for label, (runs, histories) in fedpaq_rows(folder)[1].items():
            last = lambda key: median([h[-1][key] for h in histories])
            total = last("time")
            shares = [f"{100 * last(k) / total:.0f}%" for k in
                      ("time_down", "time_compute", "time_up", "time_wait")]
            rows.append([name, label, f"{total:,.0f}", *shares])
    return table(["setting", "method", "time", "download", "compute", "upload", "wait"], rows)


def time_page(runner, page, figures):
    try:
        # Part A: FedPAQ's Fig. 1(d), steps tuned as on fedpaq.md (devices do not change the
        # iterates unless uploads are dropped), then the same steps on other devices and links.
        experiment = "fedpaq/d_methods"
        paper, steps = tuned(runner, experiment)
    except Skipped as why:
        print(f"skipped: {why}")
        return page
    fixed = with_steps(experiment, steps)
    spread = runner.run(experiment, "lognormal", [*fixed, *LOGNORMAL])
    parallel = runner.run(experiment, "parallel", [*fixed, *LOGNORMAL, *PARALLEL])
    same = runner.run(experiment, "parallel-same", [*fixed, *PARALLEL])
    rounds = mean_round_time(same)
    deadline = runner.run(experiment, "deadline", [*fixed, *LOGNORMAL, *PARALLEL,
                                                   *with_deadlines(experiment, rounds, 1.5)])
    keep = runner.run(experiment, "keep", [*fixed, *LOGNORMAL, *PARALLEL, "run.cost.keep=40"])
    fedpaq_settings = [("identical, one shared link (the paper's)", paper),
                       ("log-normal devices, shared link", spread),
                       ("identical, own links", same),
                       ("log-normal, own links", parallel),
                       ("… with a deadline", deadline),
                       ("… keeping the first 40 of 50", keep)]
    page = fill(page, "time-fedpaq", time_settings_table(fedpaq_settings, 0.05))
    page = fill(page, "time-fedpaq-parts", time_parts_table(fedpaq_settings[:4]))
    plot(parallel, figures / "time_fedpaq_lognormal.png", "--x", "time", "rounds", "--y",
         "loss_gap", "--optimal-loss", repr(optimum(parallel)), "--title",
         "FedPAQ Fig. 1(d) on log-normal devices, each with its own link")

    # Part B: LASG-WK2 against SGD and QSGD on a9a.
    experiment = "time/lasg_a9a"
    same = runner.run(experiment)
    spread = runner.run(experiment, "lognormal", LOGNORMAL)
    rounds = mean_round_time(same)
    # A deadline is refused under a skip rule: LASG-WK2 runs on without one.
    deadline = runner.run(experiment, "deadline", [
        *LOGNORMAL, *with_deadlines(experiment, rounds, 1.5, only=("SGD", "QSGD 4-bit"))])
    lasg_settings = [("identical devices", same), ("log-normal devices", spread),
                     ("log-normal, deadline", deadline)]
    page = fill(page, "time-lasg", time_settings_table(lasg_settings, 0.05))
    page = fill(page, "time-lasg-parts", time_parts_table(lasg_settings))
    for folder, name, title in [(same, "same", "identical devices"),
                                (spread, "lognormal", "log-normal devices")]:
        plot(folder, figures / f"time_lasg_{name}.png", "--x", "time", "uploads", "--y",
             "loss_gap", "--optimal-loss", repr(optimum(folder)), "--title",
             f"LASG-WK2, SGD and QSGD on a9a, {title}")
    return page


# ---- docs/experiments/networks.md ----------------------------------------------------------

# Each experiment of the page: its file, its markers' and figure's name, the x axes of its
# figure and the title; the loss target of its table is set from its runs (network_target).
NETWORKS = [
    ("networks/laq_mlp", "networks-laq", ["rounds", "bits_paper"],
     "LAQ's MLP 784-200-10 on MNIST"),
    ("networks/lasg_cnn", "networks-lasg", ["rounds", "uploads"], "LASG's CNN on MNIST"),
    ("networks/fedpaq_mlp", "networks-fedpaq", ["rounds", "time"],
     "FedPAQ's network (784-50-10) on Fashion-MNIST"),
    ("networks/cdadam_cnn", "networks-cdadam", ["rounds", "bits_paper"],
     "CD-Adam on a CNN, Fashion-MNIST"),
    ("networks/lazy_markov_amsgrad", "networks-composition", ["rounds", "bits_paper"],
     "LASG-WK2 + Markov top-k + AMSGrad, MLP on Fashion-MNIST"),
]


def network_targets(methods):
    """The training losses the table asks each method to reach: 10% above the first method's
    (the baseline's) final loss, and the largest final loss of the runs that did not diverge
    (one every such method reached)."""
    first = next(iter(methods.values()))
    finite = [final_loss(runs[0]) for runs in methods.values() if final_loss(runs[0]) < math.inf]
    return [1.1 * final_loss(first[0]), max(finite)]


def reached(history, target, base_bits, timed):
    """The round, uploads and bits (up + down, the papers' count; with the baseline's bits over
    them when base_bits is given) of the first History row at the target loss."""
    at = next((h for h in history if h["loss"] <= target), None)
    if at is None:
        return "not reached", None
    bits = (at["bits_up_paper"] + at["bits_down_paper"]) / 1e6
    text = f"{at['round']:.0f} it, {at['uploads']:.0f} up, {bits:.1f} Mbit"
    if base_bits and bits > 0:
        text += f" ({times(base_bits / bits)})"
    if timed:
        text += f", time {at['time']:.0f}"
    return text, bits


def network_table(folder, timed):
    """Per method: its final training loss and held-out accuracy, uploads and bits as the
    papers count them (up + down), and where it first reached each target loss."""
    methods = by_method(read_summary(folder))
    baseline = next(iter(methods))
    targets = network_targets(methods)
    base_bits = [None] * len(targets)
    rows = []
    for label, runs in methods.items():
        r = runs[0]
        history = read_history(folder, r)
        cells = []
        for i, target in enumerate(targets):
            text, bits = reached(history, target, None if label == baseline else base_bits[i],
                                 timed)
            if label == baseline:
                base_bits[i] = bits
            cells.append(text)
        rows.append([label, f"{final_loss(r):.4f}", f"{r['test_accuracy']:.3f}",
                     f"{r['uploads']:.0f}",
                     f"{(r['bits_up_paper'] + r['bits_down_paper']) / 1e6:.1f}", *cells])
    return table(["method", "final training loss", "held-out accuracy", "uploads",
                  "Mbit, up + down (papers' count)",
                  f"first at loss ≤ {targets[0]:.4f} (10% above {baseline}'s final)",
                  f"first at loss ≤ {targets[1]:.4f} (the highest final)"], rows)


def networks(runner, page, figures):
    for experiment, name, xs, title in NETWORKS:
        try:
            folder = runner.run(experiment)
        except Skipped as why:
            print(f"skipped: {why}")
            continue
        timed = "time" in xs
        page = fill(page, name, network_table(folder, timed))
        plot(folder, figures / f"{name.replace('-', '_')}.png", "--x", *xs, "--y", "loss",
             "test_accuracy", "--title", title)
    return page


PAGES = {"lasg": lasg, "laq": laq, "fedpaq": fedpaq, "cdadam": cdadam,
         "compositions": compositions, "time": time_page, "networks": networks}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pages", nargs="*", metavar="PAGE",
                        help="pages to regenerate: " + ", ".join(PAGES) + " (default: all)")
    parser.add_argument("--laconic-run", default=shutil.which("laconic-run"),
                        help="the laconic-run program (default: the one on PATH)")
    parser.add_argument("--runs", type=Path, help="where the run folders go (default: runs/docs)")
    parser.add_argument("--docs", type=Path, default=HERE,
                        help="where the pages and figures are written (default: docs/experiments)")
    parser.add_argument("--quick", action="store_true",
                        help="few rounds, into a temporary folder: a check of the pipeline")
    parser.add_argument("-j", "--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    for name in args.pages:
        if name not in PAGES:
            parser.error(f"no page {name}: the pages are " + ", ".join(PAGES))
    if not args.laconic_run:
        parser.error("laconic-run is not on PATH: give --laconic-run")
    if args.quick and args.docs.resolve() == HERE:
        parser.error("--quick writes pages of a few rounds: give --docs somewhere else")

    with tempfile.TemporaryDirectory() as scratch:
        runs = args.runs or (Path(scratch) if args.quick else ROOT / "runs" / "docs")
        runner = Runner(args.laconic_run, runs, args.quick, args.threads)
        for name in args.pages or list(PAGES):
            page = (HERE / f"{name}.md").read_text()
            page = PAGES[name](runner, page, args.docs / "figures")
            args.docs.mkdir(parents=True, exist_ok=True)
            (args.docs / f"{name}.md").write_text(page)
            print(f"wrote {args.docs / (name + '.md')}")


if __name__ == "__main__":
    main()
