"""Float64 reference of the ICC loss and its gradient with respect to z, written independently of the
TypeScript code (numpy only). Reads a JSON list of cases on stdin, writes a JSON list of results.

  s = z C^T / tau;  logp = s - logsumexp(s);  L = -mean_i [lam_i logp[i, ya_i] + (1 - lam_i) logp[i, yb_i]]
  dL/dz_i = (1 / (B tau)) sum_k (softmax(s)_ik - t_ik) C_k,  t_i = lam_i e_ya + (1 - lam_i) e_yb

The analytic gradient is checked against central finite differences before it is reported."""
import json
import sys

import numpy as np


def loss(z, C, ya, yb, lam, tau):
    s = z @ C.T / tau
    m = s.max(axis=1, keepdims=True)
    logp = s - m - np.log(np.exp(s - m).sum(axis=1, keepdims=True))
    rows = np.arange(len(ya))
    return -np.mean(lam * logp[rows, ya] + (1 - lam) * logp[rows, yb]), logp


def grad(z, C, ya, yb, lam, tau):
    _, logp = loss(z, C, ya, yb, lam, tau)
    p = np.exp(logp)
    t = np.zeros_like(p)
    rows = np.arange(len(ya))
    np.add.at(t, (rows, ya), lam)
    np.add.at(t, (rows, yb), 1 - lam)
    return (p - t) @ C / (len(ya) * tau)


def main():
    out = []
    for case in json.load(sys.stdin):
        z = np.array(case["z"], dtype=np.float64)
        C = np.array(case["C"], dtype=np.float64)
        ya = np.array(case["ya"], dtype=np.int64)
        yb = np.array(case["yb"], dtype=np.int64)
        lam = np.array(case["lam"], dtype=np.float64)
        tau = float(case["tau"])
        L, _ = loss(z, C, ya, yb, lam, tau)
        g = grad(z, C, ya, yb, lam, tau)
        h = 1e-6 * max(1.0, tau)
        fd = np.zeros_like(z)
        for idx in np.ndindex(*z.shape):
            zp = z.copy(); zp[idx] += h
            zm = z.copy(); zm[idx] -= h
            fd[idx] = (loss(zp, C, ya, yb, lam, tau)[0] - loss(zm, C, ya, yb, lam, tau)[0]) / (2 * h)
        scale = max(1.0, np.abs(g).max())
        if not np.all(np.isfinite(g)) or np.abs(fd - g).max() > 1e-5 * scale:
            raise SystemExit(f"finite differences disagree with the analytic gradient: {np.abs(fd - g).max()}")
        out.append({"loss": float(L), "grad": g.tolist()})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
