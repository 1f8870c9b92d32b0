# The a9a column of LASG's table (docs/experiments/lasg.md) in a dozen lines: each rule's final
# loss against SGD's and SGD's uploads over its own.
import os, laconic
X, y = laconic.read_libsvm(os.path.expandvars("$LACONIC_DATA_DIR/a9a/a9a"), num_features=123)
rules = {"SGD": "", "LAG-WK (stochastic)": "lag_wk(D=10) + ", "LASG-WK1": "lasg_wk1 + ",
         "LASG-WK2": "lasg_wk2 + ", "LASG-PS": "lasg_ps + ", "LASG-PSE": "lasg_pse + "}
runs = {name: laconic.run(rule + "sgd(step=0.1, batch=fraction(0.001))", X, y,
                          objective="logistic(lambda=1e-5)", workers=20, seed=1, rounds=1000)
        for name, rule in rules.items()}
sgd = runs["SGD"]
for name, r in runs.items():
    print(f"{name:20} {100 * (r.history['loss'][-1] / sgd.history['loss'][-1] - 1):+.2f}%  "
          f"{sgd.traffic['uploads'] / r.traffic['uploads']:.1f}x")
