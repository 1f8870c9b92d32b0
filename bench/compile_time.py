#!/usr/bin/python3
"""How long laconic takes to compile, now and at an earlier revision, in the same run.

Compiles, one at a time with the build's compiler and flags:
  floor         the libraries laconic.hpp includes, unused (bench/compile_time/floor.cpp)
  include_only  a file that only includes laconic.hpp
  one_method    a user's program training with one named method (LASG-WK2, logistic regression)
  examples/...  the examples named by --examples (quickstart by default; `all`: every one but
                mpi_lasg and torch_mlp, which need MPI's and LibTorch's compiler flags)
as a program linking laconic::laconic compiles them (LACONIC_PRECOMPILED: the named methods'
simulations come from the library laconic_precompiled), as one linking laconic::headers does
(header-only), and against `--baseline` (a git revision, exported with `git archive`: its
include/ and examples/; the bench's own sources are this tree's). Prints seconds (the minimum
of two compiles for the small files, one for an example) and now / baseline beside the target
of issue 22: halve them (<= 0.5); then what building laconic_precompiled itself takes, once.
About 5 minutes as run by the bench workflow; 25 with all the examples.

    /usr/bin/python3 bench/compile_time.py --include /usr/include/eigen3
    /usr/bin/python3 bench/compile_time.py --include /usr/include/eigen3 --examples all

(`cmake --workflow --preset bench` runs it as the test bench.compile_time.)
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The revision before issue 22's compile-time work.
DEFAULT_BASELINE = "a15d6e1"


def seconds(command, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"compile failed: {' '.join(command)}\n{result.stderr[-4000:]}")
        best = min(best, elapsed)
    return best


def compile_command(args, tree, source, precompiled=False):
    defines = ["-DLACONIC_PRECOMPILED=1"] if precompiled else []
    includes = [f"-I{tree / 'include'}", f"-I{tree / 'examples'}"]
    includes += [f"-isystem{d}" for d in args.include]
    return ([args.compiler, "-std=c++20", *args.flags.split(), *includes,
             *defines, "-DLACONIC_WITH_ZLIB=1", f'-DLACONIC_EXAMPLES_DATA_DIR="{ROOT}/../shared/data"',
             "-c", str(source), "-o", "/dev/null"])


def sources(examples):
    """(name, path, compiles): the small files twice, the examples once."""
    bench = ROOT / "bench" / "compile_time"
    found = [("floor", bench / "floor.cpp", 2), ("include_only", bench / "include_only.cpp", 2),
             ("one_method", bench / "one_method.cpp", 2)]
    for main in sorted((ROOT / "examples").glob("*/main.cpp")):
        name = main.parent.name
        if name not in ("mpi_lasg", "torch_mlp") and (examples == ["all"] or name in examples):
            found.append((f"examples/{name}", main, 1))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compiler", default="g++")
    parser.add_argument("--flags", default="-O3 -DNDEBUG", help="as CMAKE_CXX_FLAGS_RELEASE")
    parser.add_argument("--include", action="append", default=[],
                        help="a dependency's include folder (Eigen's), as -isystem")
    parser.add_argument("--baseline", default=DEFAULT_BASELINE,
                        help="git revision to compare with (default: %(default)s); '' for none")
    parser.add_argument("--examples", default="quickstart",
                        help="comma-separated example names, or 'all' (default: %(default)s)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        baseline = None
        if args.baseline:
            baseline = Path(scratch)
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline,
                                      "include", "examples"], capture_output=True)
            if archive.returncode != 0:
                print(f"no baseline: git archive {args.baseline} failed "
                      f"({archive.stderr.decode().strip()}); printing this tree's times only")
                baseline = None
            else:
                subprocess.run(["tar", "-x", "-C", scratch], input=archive.stdout, check=True)

        print(f"{'file':32} {'now (s)':>8} {'headers':>8} {'baseline':>9} {'now/base':>9} "
              f"{'headers/base':>13}  target")
        now_by_name = {}
        for name, source, repeat in sources(args.examples.split(",")):
            now = seconds(compile_command(args, ROOT, source, precompiled=True), repeat)
            headers = seconds(compile_command(args, ROOT, source), repeat)
            now_by_name[name] = now
            line = f"{name:32} {now:8.1f} {headers:8.1f}"
            old_source = source
            if baseline is not None and name.startswith("examples/"):
                old_source = baseline / source.relative_to(ROOT)
            if baseline is not None and old_source.exists():
                old = seconds(compile_command(args, baseline, old_source), repeat)
                target = "" if name == "floor" else "<= 0.5"
                line += f" {old:9.1f} {now / old:9.2f} {headers / old:13.2f}  {target}"
            print(line, flush=True)
        if "floor" in now_by_name:
            floor = now_by_name["floor"]
            print(f"\nover the floor ({floor:.1f} s): " + ", ".join(
                f"{name} {now / floor:.1f}x" for name, now in now_by_name.items()
                if name != "floor"))
        library = sorted((ROOT / "src").glob("precompiled_*.cpp"))
        once = sum(seconds(compile_command(args, ROOT, source), 1) for source in library)
        print(f"laconic_precompiled, built once ({len(library)} files): {once:.1f} s")

if __name__ == "__main__":
    main()
