#!/usr/bin/env python3
"""The strongest thing a Python user would write for the same job as `muso bench`.

Same data (the first N Fashion-MNIST training images, d = 784, one-hot
targets), same feature formula (random Fourier features, cos/sin pairs), same
steps: features (X @ W, cos, sin), Gram (Phi @ Phi.T), Cholesky
(scipy.linalg.cho_factor), solve (cho_solve) and theta = theta0 + Phi.T @ A;
retraining from scratch on the N - k retained samples; retraining from the
cached Gram matrix (slice K_RR, refactorise, solve); and exact unlearning by
the block-inverse downdate DeltaA = -G[:, F] G[F, F]^{-1} A[F] with
G[:, F] = cho_solve(L, E_F), plus the theta update. Each time is the median of
--repeats runs (1 for N > --single-run-above). Prints JSON on stdout.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import scipy.linalg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from numpy_features import features  # noqa: E402


def load_images(directory, n):
    with gzip.open(os.path.join(directory, "train-images-idx3-ubyte.gz")) as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            sys.exit("bad IDX magic")
        data = np.frombuffer(f.read(n * rows * cols), dtype=np.uint8)
    with gzip.open(os.path.join(directory, "train-labels-idx1-ubyte.gz")) as f:
        f.read(8)
        labels = np.frombuffer(f.read(n), dtype=np.uint8)
    return data.reshape(n, rows * cols).astype(np.float64) / 255.0, labels


def median_time(repeats, body):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def fit(phi, y, theta0):
    k = phi @ phi.T
    c = scipy.linalg.cho_factor(k, lower=True, overwrite_a=True, check_finite=False)
    a = scipy.linalg.cho_solve(c, y - phi @ theta0, check_finite=False)
    return theta0 + phi.T @ a


def bench(x, y, m, ks, repeats):
    n, d = x.shape
    rng = np.random.default_rng(1)
    w = rng.standard_normal((d, m // 2)) / 11.6
    theta0 = rng.standard_normal((m, y.shape[1])) / np.sqrt(m)
    rows = []
    for k in ks:
        if k >= n:
            continue
        order = np.random.default_rng(n * 31 + k).permutation(n)
        forget = np.sort(order[:k])
        keep = np.setdiff1d(np.arange(n), forget)
        row = {"N": n, "M": m, "d": d, "k": k, "repeats": repeats}
        xr, yr = x[keep], y[keep]
        row["retrain_scratch_s"] = median_time(repeats, lambda: fit(features(xr, w), yr, theta0))
        holder = {}
        row["features_s"] = median_time(repeats, lambda: holder.__setitem__("phi", features(x, w)))
        phi = holder["phi"]
        row["gram_s"] = median_time(repeats, lambda: holder.__setitem__("K", phi @ phi.T))
        gram = holder["K"]
        row["factor_s"] = median_time(repeats, lambda: holder.__setitem__(
            "c", scipy.linalg.cho_factor(gram, lower=True, check_finite=False)))
        c = holder["c"]
        t = y - phi @ theta0
        row["solve_s"] = median_time(repeats, lambda: theta0 + phi.T @ scipy.linalg.cho_solve(c, t, check_finite=False))

        def cached_gram():
            kr = gram[np.ix_(keep, keep)]
            cr = scipy.linalg.cho_factor(kr, lower=True, overwrite_a=True, check_finite=False)
            a = scipy.linalg.cho_solve(cr, t[keep], check_finite=False)
            return theta0 + phi[keep].T @ a
        row["retrain_cached_gram_s"] = median_time(repeats, cached_gram)

        a = scipy.linalg.cho_solve(c, t, check_finite=False)
        theta = theta0 + phi.T @ a

        def unlearn():
            e = np.zeros((n, k))
            e[forget, np.arange(k)] = 1.0
            g = scipy.linalg.cho_solve(c, e, check_finite=False)
            z = np.linalg.solve(g[forget], a[forget])
            delta = -g @ z
            return theta + phi.T @ delta, delta
        row["unlearn_cached_s"] = median_time(repeats, unlearn)
        new_theta, _ = unlearn()
        theta_r = fit(features(xr, w), yr, theta0)
        row["relative_distance"] = float(np.linalg.norm(new_theta - theta_r) / np.linalg.norm(theta_r - theta0))
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,2000,4000")
    parser.add_argument("--ratios", default="2,4")
    parser.add_argument("--forget", default="1,10,100")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--single-run-above", type=int, default=4000)
    parser.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    x_all, labels = load_images(args.fashion_dir, max(sizes))
    y_all = np.eye(10)[labels]
    rows = []
    for n in sizes:
        for r in [int(s) for s in args.ratios.split(",")]:
            m = 2 * ((r * n) // 2)
            reps = 1 if n > args.single_run_above else args.repeats
            rows.extend(bench(x_all[:n], y_all[:n], m, [int(s) for s in args.forget.split(",")], reps))
            print(f"numpy: N = {n}, M = {m} done", file=sys.stderr)
    try:
        from threadpoolctl import threadpool_info
        blas = threadpool_info()
    except Exception:
        blas = []
    print(json.dumps({"numpy": np.__version__, "scipy": scipy.__version__, "blas": blas, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
