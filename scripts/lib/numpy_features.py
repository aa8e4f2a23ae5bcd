"""The random Fourier feature formula in numpy, shared by scripts/bench-numpy.py
and scripts/demo-numpy.py: Phi = [cos(X W), sin(X W)] / sqrt(M / 2), the
cos/sin pairs interleaved as the Swift engine lays them out."""
import numpy as np


def features(x, w):
    p = x @ w
    phi = np.empty((x.shape[0], 2 * w.shape[1]))
    np.cos(p, out=phi[:, 0::2])
    np.sin(p, out=phi[:, 1::2])
    phi *= 1.0 / np.sqrt(w.shape[1])
    return phi
