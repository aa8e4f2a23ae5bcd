#!/usr/bin/env python3
"""Recompute a muso model's retrained parameters with numpy, independently.

Reads the directory written by `muso export MODEL --to DIR`, rebuilds the
feature matrix Phi of the retained samples from inputs.npy and the feature
map's parameters, retrains from scratch with numpy, and compares with
theta.npy:

    theta_R = theta0 + Phi^T (Phi Phi^T + eps I)^{-1} (Y - Phi theta0)   (--method gram)
    theta_R = theta0 + lstsq(Phi, Y - Phi theta0)  (min-norm, eps = 0)   (--method lstsq)

Prints the relative distance ||theta - theta_R|| / ||theta_R - theta0|| and
exits 1 when it exceeds --tolerance (default 1e-9).
"""
import argparse
import json
import sys

import numpy as np


def features(directory, meta):
    x = np.load(f"{directory}/inputs.npy")
    kind = meta["feature_map"]["kind"]
    m = meta["features"]
    if kind == "random-fourier":
        w = np.load(f"{directory}/frequencies.npy")
        p = x @ w
        phi = np.empty((x.shape[0], 2 * w.shape[1]))
        phi[:, 0::2] = np.cos(p)
        phi[:, 1::2] = np.sin(p)
        return phi / np.sqrt(w.shape[1])
    if kind == "random-relu":
        w = np.load(f"{directory}/weights.npy")
        b = np.load(f"{directory}/biases.npy").reshape(-1)
        return np.sqrt(2.0 / m) * np.maximum(0.0, x @ w + b)
    sys.exit(f"feature map '{kind}' cannot be rebuilt from an export")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory")
    parser.add_argument("--method", choices=["gram", "lstsq"], default="gram")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args()
    d = args.directory
    meta = json.load(open(f"{d}/model.json"))
    phi = features(d, meta)
    y = np.load(f"{d}/targets.npy")
    theta0 = np.load(f"{d}/theta0.npy")
    theta = np.load(f"{d}/theta.npy")
    eps = meta["ridge"]
    residual = y - phi @ theta0
    if args.method == "lstsq":
        if eps > 0:
            augmented = np.vstack([phi, np.sqrt(eps) * np.eye(phi.shape[1])])
            residual = np.vstack([residual, np.zeros((phi.shape[1], residual.shape[1]))])
            step = np.linalg.lstsq(augmented, residual, rcond=None)[0]
        else:
            step = np.linalg.lstsq(phi, residual, rcond=None)[0]
    elif meta["form"] == "dual":
        k = phi @ phi.T + eps * np.eye(phi.shape[0])
        step = phi.T @ np.linalg.solve(k, residual)
    else:
        h = phi.T @ phi + eps * np.eye(phi.shape[1])
        step = np.linalg.solve(h, phi.T @ residual)
    theta_r = theta0 + step
    distance = np.linalg.norm(theta - theta_r) / np.linalg.norm(theta_r - theta0)
    print(f"samples {phi.shape[0]}, features {phi.shape[1]}, outputs {y.shape[1]}, "
          f"numpy {args.method}: relative distance ||theta - theta_R|| / ||theta_R - theta0|| = {distance:.3e}")
    sys.exit(0 if distance <= args.tolerance else 1)


if __name__ == "__main__":
    main()
