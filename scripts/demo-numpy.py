#!/usr/bin/env python3
"""`muso demo` written with numpy/scipy: the same job, the same sizes, the same steps.

Reads the Fashion-MNIST training split (gzip IDX), takes a seeded subset of
N images (all ten classes, one-hot targets), sets the bandwidth to the median
pairwise distance of 1000 of them, maps them with M random Fourier features
(cos/sin pairs), fits the min-norm model (Gram, Cholesky, solve,
theta = theta0 + Phi^T A, the condition estimate), forgets k random samples
exactly (the block-inverse downdate DeltaA = -G[:, F] G[F, F]^{-1} A[F] with
G[:, F] = cho_solve(L, E_F), theta += Phi^T DeltaA, the factor of K_RR by
refactorising the slice of the cached Gram matrix, as a numpy user would), retrains from scratch on the
N - k retained samples, and prints the times and the relative distance
||theta - theta_R|| / ||theta_R - theta0||. scripts/demo-vs-numpy times it
against `muso demo` as whole processes.
"""
import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import scipy.linalg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from numpy_features import features  # noqa: E402


def load(directory):
    with gzip.open(os.path.join(directory, "train-images-idx3-ubyte.gz")) as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            sys.exit("bad IDX magic")
        images = np.frombuffer(f.read(count * rows * cols), dtype=np.uint8).reshape(count, rows * cols)
    with gzip.open(os.path.join(directory, "train-labels-idx1-ubyte.gz")) as f:
        f.read(8)
        labels = np.frombuffer(f.read(count), dtype=np.uint8)
    return images, labels


def fit(phi, y, theta0):
    k = phi @ phi.T
    norm = np.abs(k).sum(axis=0).max()
    c = scipy.linalg.cho_factor(k, lower=True, overwrite_a=False, check_finite=False)
    rcond = scipy.linalg.lapack.dpocon(c[0], norm, uplo="L")[0]
    t = y - phi @ theta0
    a = scipy.linalg.cho_solve(c, t, check_finite=False)
    return k, c, a, theta0 + phi.T @ a, 1 / rcond


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--samples", type=int, default=4000)
    parser.add_argument("-m", "--features", type=int, default=16000)
    parser.add_argument("-k", "--forget", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    n, m = args.samples, args.features
    k = args.forget or max(1, n // 100)
    rng = np.random.default_rng(args.seed)

    images, labels = load(args.fashion_dir)
    chosen = np.sort(rng.permutation(images.shape[0])[:n])
    x = images[chosen].astype(np.float64) / 255.0
    y = np.eye(10)[labels[chosen]]
    sub = x[rng.permutation(n)[:1000]]
    sq = (sub * sub).sum(axis=1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * sub @ sub.T, 0))
    sigma = float(np.median(dist[np.tril_indices(len(sub), -1)]))
    w = rng.standard_normal((x.shape[1], m // 2)) / sigma
    theta0 = rng.standard_normal((m, 10)) / np.sqrt(m)
    forget = np.sort(rng.permutation(n)[:k])
    keep = np.setdiff1d(np.arange(n), forget)

    t0 = time.perf_counter()
    phi = features(x, w)
    gram, c, a, theta, cond = fit(phi, y, theta0)
    fit_time = time.perf_counter() - t0

    t1 = time.perf_counter()
    _, _, _, theta_r, _ = fit(features(x[keep], w), y[keep], theta0)
    retrain_time = time.perf_counter() - t1

    t2 = time.perf_counter()
    e = np.zeros((n, k))
    e[forget, np.arange(k)] = 1.0
    g = scipy.linalg.cho_solve(c, e, check_finite=False)
    z = np.linalg.solve(g[forget], a[forget])
    delta = -g @ z
    theta = theta + phi.T @ delta
    # The factor of K_RR for the next request: the cached Gram's slice, refactorised.
    scipy.linalg.cho_factor(gram[np.ix_(keep, keep)], lower=True, overwrite_a=True, check_finite=False)
    unlearn_time = time.perf_counter() - t2

    distance = np.linalg.norm(theta - theta_r) / np.linalg.norm(theta_r - theta0)
    print(f"problem: Fashion-MNIST, N = {n}, M = {m}, k = {k}, bandwidth {sigma:.4g}, cond(K) {cond:.3e}")
    print(f"train:   {fit_time:8.3f} s")
    print(f"retrain: {retrain_time:8.3f} s")
    print(f"unlearn: {unlearn_time:8.3f} s")
    print(f"relative distance to retraining = {distance:.3e}")


if __name__ == "__main__":
    main()
