#!/usr/bin/python3
"""SGD, LASG-WK2 and EF21 on a9a over three seeds, and the loss against the uploads each needed
(the walkthrough of docs/python.md).

    PYTHONPATH=build/release/python /usr/bin/python3 examples/python/compare.py \
        --data $LACONIC_DATA_DIR/a9a/a9a -o compare.png
"""

import argparse
import os
import sys

import numpy as np

import laconic

METHODS = {
    "SGD": "sgd(step=0.1, batch=32)",
    "LASG-WK2": "lasg-wk2 + sgd(step=0.1, batch=32)",
    "EF21 top-10": "markov(top_k(k=10), start=exact) + sgd(step=0.1, batch=32)",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = os.path.join(os.environ.get("LACONIC_DATA_DIR", "data"), "a9a", "a9a")
    parser.add_argument("--data", default=default, help=f"the a9a LIBSVM file (default {default})")
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("-o", "--output", help="draw loss against uploads into this file")
    args = parser.parse_args()
    if not os.path.exists(args.data):
        sys.exit(f"compare.py: no a9a at {args.data} (docs/data.md says where to get it; "
                 "give --data or set LACONIC_DATA_DIR)")

    X, y = laconic.read_libsvm(args.data, num_features=123)
    print(f"a9a: {X.shape[0]} samples x {X.shape[1]} features, 10 workers, "
          f"{args.rounds} rounds, seeds 1..{args.seeds}")
    print(f"{'method':<12} {'final loss':>12} {'uploads':>9} {'Mbit up':>9}")
    curves = {}
    for name, spec in METHODS.items():
        runs = [laconic.run(spec, X, y, objective="logistic(lambda=1e-4)", workers=10, seed=seed,
                            rounds=args.rounds, record_every=10, threads=2)
                for seed in range(1, args.seeds + 1)]
        loss = np.mean([r.history["loss"] for r in runs], axis=0)
        uploads = np.mean([r.history["uploads"] for r in runs], axis=0)
        bits = np.mean([r.traffic["bits_up"] for r in runs])
        curves[name] = (uploads, loss)
        print(f"{name:<12} {loss[-1]:12.6f} {uploads[-1]:9.0f} {bits / 1e6:9.2f}")

    if args.output:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
        for name, (uploads, loss) in curves.items():
            ax.plot(uploads, loss, label=name)
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel("uploads (all workers)")
        ax.set_ylabel(f"training loss (mean of {args.seeds} seeds)")
        ax.legend()
        fig.savefig(args.output)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
