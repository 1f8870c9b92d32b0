"""Tests of tools/laconic-plot/laconic-plot (run: /usr/bin/python3 -m pytest tests/tools -q).

LACONIC_PLOT, if set, names the script to test (e.g. the installed copy).
"""

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(os.environ.get("LACONIC_PLOT")
              or Path(__file__).parents[2] / "tools" / "laconic-plot" / "laconic-plot").resolve()

HEADER = ("round,loss,grad_norm_sq,test_accuracy,uploads,downloads,bits_up,bits_down,"
          "bits_up_values,bits_up_indices,bits_up_metadata,bits_down_values,bits_down_indices,"
          "bits_down_metadata,gradient_samples,time,bits_up_paper,bits_down_paper")


def comment(label="", seed=1):
    return (f"# laconic 0.1.0; label={label}; skip=never; uplink=identity; server=gd(step=0.1); "
            f"downlink=identity; workers=4; dim=6; seed={seed}; cost(none)")


def history_text(label, seed, losses, uploads_per_round=4, bits_per_upload=384):
    """A History CSV whose row r has the loss losses[r] (a float or 'nan'/'inf')."""
    lines = [comment(label, seed), HEADER]
    for r, loss in enumerate(losses):
        up = r * uploads_per_round
        bits_up, bits_down = up * bits_per_upload, r * 4 * bits_per_upload
        gns = 2.0 * float(loss)
        acc = "nan" if r % 2 else 0.5 + 0.01 * r  # evaluated every other round
        lines.append(f"{r},{loss},{gns},{acc},{up},{r * 4},{bits_up},{bits_down},"
                     f"{bits_up},0,0,{bits_down},0,0,{r * 40},{0.5 * r},{bits_up // 2},{bits_down // 2}")
    return "\n".join(lines) + "\n"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run_folder(tmp_path):
    """A laconic-run folder: two methods × three seeds, with summary.csv."""
    folder = tmp_path / "sweep"
    summary = ["run,method,seed,status,history,step"]
    for method, scale in (("gd", 1.0), ("lag-wk", 0.5)):
        for seed in (1, 2, 3):
            losses = [scale * (1 + seed * 0.1) / (r + 1) for r in range(8)]
            rel = f"runs/{method}-seed{seed}.csv"
            write(folder / rel, history_text(method, seed, losses))
            summary.append(f"{method}-seed{seed},{method},{seed},ok,{rel},0.1")
    write(folder / "summary.csv", "\n".join(summary) + "\n")
    return folder


def plot(*args, cwd=None):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True)


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Every test runs in its own folder, so a default figure.pdf never lands in the source tree."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def lp():
    """The script imported as a module, for its data-reduction functions."""
    loader = importlib.machinery.SourceFileLoader("laconic_plot", str(SCRIPT))
    spec = importlib.util.spec_from_loader("laconic_plot", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


# (a) a run folder gives a figure in each format


MAGIC = {"pdf": (b"%PDF",), "png": (b"\x89PNG",), "svg": (b"<?xml", b"<svg")}


@pytest.mark.parametrize("fmt", ["pdf", "png", "svg"])
def test_run_folder_gives_each_format(tmp_path, fmt):
    folder = run_folder(tmp_path)
    out = tmp_path / f"fig.{fmt}"
    result = plot(folder, "-o", out, "--x", "rounds", "bits", "--y", "loss", "test_accuracy")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert out.read_bytes().startswith(MAGIC[fmt])


def test_default_output_is_in_the_first_folder(tmp_path):
    folder = run_folder(tmp_path)
    result = plot(folder, "--format", "svg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (folder / "figure.svg").read_bytes().startswith(MAGIC["svg"])
    assert result.stdout.strip() == str(folder / "figure.svg")
    result = plot(folder / "runs" / "gd-seed1.csv", cwd=tmp_path)  # a file: the current folder
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "figure.pdf").read_bytes().startswith(MAGIC["pdf"])


def test_run_folder_groups_by_method(lp, tmp_path):
    groups = lp.group_runs(lp.collect_runs([str(run_folder(tmp_path))]))
    assert {k: sorted(r.seed for r in v) for k, v in groups.items()} == {
        "gd": ["1", "2", "3"], "lag-wk": ["1", "2", "3"]}


# (b) grouping, mean and band


def test_grouping_by_label_and_by_file_name(lp, tmp_path):
    write(tmp_path / "a.csv", history_text("lag", 1, [1, 2]))
    write(tmp_path / "b.csv", history_text("lag", 2, [1, 2]))
    write(tmp_path / "exp_seed1.csv", history_text("", 1, [1, 2]))
    write(tmp_path / "exp_seed12.csv", history_text("", 12, [1, 2]))
    write(tmp_path / "other.csv", history_text("", 3, [1, 2]))
    runs = lp.collect_runs([str(tmp_path)])
    groups = lp.group_runs(runs)
    assert {k: sorted(Path(r.path).name for r in v) for k, v in groups.items()} == {
        "lag": ["a.csv", "b.csv"], "exp": ["exp_seed1.csv", "exp_seed12.csv"],
        "other": ["other.csv"]}
    assert sorted(r.seed for r in groups["exp"]) == ["1", "12"]


def test_mean_and_bands(lp, tmp_path):
    losses = [[1, 2, 3], [3, 4, 5], [2, 3, 7]]
    runs = [lp.read_history(write(tmp_path / f"m-seed{i}.csv", history_text("m", i, l)))
            for i, l in enumerate(losses)]
    x, mean, low, high = lp.group_curve(runs, "rounds", "loss", "minmax")
    np.testing.assert_array_equal(x, [0, 1, 2])
    np.testing.assert_allclose(mean, [2, 3, 5])
    np.testing.assert_allclose(low, [1, 2, 3])
    np.testing.assert_allclose(high, [3, 4, 7])
    x, mean, low, high = lp.group_curve(runs, "rounds", "loss", "std")
    std = np.array([1.0, 1.0, 2.0])  # sample standard deviations of each column
    np.testing.assert_allclose(low, [2, 3, 5] - std)
    np.testing.assert_allclose(high, [2, 3, 5] + std)
    _, mean, low, high = lp.group_curve(runs, "rounds", "loss", "none")
    assert low is None and high is None
    np.testing.assert_allclose(mean, [2, 3, 5])
    # x = bits: bits_up + bits_down; loss_gap subtracts F.
    x, mean, _, _ = lp.group_curve(runs, "bits", "loss_gap", "minmax", optimal_loss=0.5)
    np.testing.assert_allclose(x, [0, 2 * 4 * 384, 4 * 4 * 384])
    np.testing.assert_allclose(mean, [1.5, 2.5, 4.5])
    # y = uploads so far (4 a round in every run), against rounds.
    x, mean, _, _ = lp.group_curve(runs, "rounds", "uploads", "minmax")
    np.testing.assert_allclose(mean, [0, 4, 8])


def test_unevaluated_rows_are_dropped_and_non_finite_kept_as_gaps(lp, tmp_path):
    runs = [lp.read_history(write(tmp_path / f"d{i}.csv", history_text("d", i, l)))
            for i, l in enumerate([[1, 2, "inf", "nan"], [1, 2, 3, 4]])]
    x, acc, _, _ = lp.group_curve(runs, "rounds", "test_accuracy")
    np.testing.assert_array_equal(x, [0, 2])  # rounds 1 and 3: NaN in every run
    np.testing.assert_allclose(acc, [0.5, 0.52])
    x, loss, low, high = lp.group_curve(runs, "rounds", "loss")
    np.testing.assert_array_equal(x, [0, 1, 2, 3])
    assert np.isfinite(loss[:2]).all() and not np.isfinite(loss[2:]).any()


def test_colours_then_line_styles(lp):
    styles = [lp.style(i) for i in range(25)]
    assert len(set(styles)) == 25
    assert len({c for c, _ in styles[:10]}) == 10 and len({s for _, s in styles[:10]}) == 1
    assert styles[10][0] == styles[0][0] and styles[10][1] != styles[0][1]


# (c) malformed input


@pytest.mark.parametrize("mutate, line, words", [
    (lambda t: t.replace("# laconic", "laconic", 1), 1, "comment"),
    (lambda t: t.replace("grad_norm_sq,", "", 1), 2, "grad_norm_sq"),
    (lambda t: t.replace("\n2,", "\n2,7,", 1), 5, "fields"),
    (lambda t: t.replace("\n1,", "\n1,oops", 1), 4, "oops"),
])
def test_malformed_csv_names_file_and_line(tmp_path, mutate, line, words):
    bad = write(tmp_path / "bad.csv", mutate(history_text("x", 1, [1, 2, 3])))
    result = plot(bad, "-o", tmp_path / "f.pdf")
    assert result.returncode == 2
    assert f"laconic-plot: {bad}:{line}: " in result.stderr
    assert words in result.stderr
    assert not (tmp_path / "f.pdf").exists()


def test_malformed_history_inside_a_run_folder(tmp_path):
    folder = run_folder(tmp_path)
    bad = folder / "runs" / "gd-seed2.csv"
    bad.write_text(bad.read_text() + "9,1,2\n")
    result = plot(folder)
    assert result.returncode == 2
    assert f"{bad}:11: 3 fields" in result.stderr


def test_no_input_files(tmp_path):
    (tmp_path / "empty").mkdir()
    result = plot(tmp_path / "empty")
    assert result.returncode == 2
    assert "no History CSV" in result.stderr
    result = plot(tmp_path / "missing")
    assert result.returncode == 2 and "no such file" in result.stderr


# (d) loss_gap needs the optimal loss


def test_loss_gap_needs_optimal_loss(tmp_path):
    folder = run_folder(tmp_path)
    result = plot(folder, "--y", "loss_gap")
    assert result.returncode == 2
    assert "loss_gap needs --optimal-loss" in result.stderr
    assert not (folder / "figure.pdf").exists()
    result = plot(folder, "--y", "loss_gap", "--optimal-loss", "0.01")
    assert result.returncode == 0, result.stderr
    assert (folder / "figure.pdf").exists()


# (e) runs of unequal length


def test_unequal_runs_are_aligned_and_reported(lp, tmp_path):
    long1 = write(tmp_path / "g-seed1.csv", history_text("g", 1, [4, 3, 2, 1, 0.5]))
    long2 = write(tmp_path / "g-seed2.csv", history_text("g", 2, [6, 5, 4, 3, 2.5]))
    short = write(tmp_path / "g-seed3.csv", history_text("g", 3, [5, 4, 3]))
    runs = [lp.read_history(p) for p in (long1, short, long2)]
    rounds, shorter = lp.align(runs)
    np.testing.assert_array_equal(rounds, [0, 1, 2])
    assert [Path(r.path).name for r in shorter] == ["g-seed3.csv"]
    x, mean, low, high = lp.group_curve(runs, "uploads", "loss")
    np.testing.assert_array_equal(x, [0, 4, 8])
    np.testing.assert_allclose(mean, [5, 4, 3])
    np.testing.assert_allclose(low, [4, 3, 2])
    np.testing.assert_allclose(high, [6, 5, 4])

    result = plot(tmp_path, "-o", tmp_path / "f.png")
    assert result.returncode == 0, result.stderr
    report = [l for l in result.stderr.splitlines() if "shorter" in l]
    assert len(report) == 1, result.stderr
    assert str(short) in report[0] and "stops at round 2" in report[0]
