"""The probe's logistic regressions as one batched problem in PyTorch, on a CPU or a GPU.

Each problem is scikit-learn's ``StandardScaler`` + ``LogisticRegression(C)`` (lbfgs) on one set
of rows of a feature matrix: the scaler fitted on those rows, then

    min_W,b  mean_i CE(softmax(x_i_std W + b), y_i) + ||W||^2 / (2 C n)

(scikit-learn 1.9.1 sklearn/linear_model/_logistic.py:580, l2_reg_strength = 1 / (C * sw_sum))
over the classes present in the rows. With two classes scikit-learn fits one weight vector
(_logistic.py:438); its optimum is the two-class softmax's at C/2 (w1 = -w2 = w/2, same
probabilities), which is what is solved here, so one code path serves both.

All problems share the data passes. The rows are copied once into a float32 working matrix,
centred on their mean (float32 products of uncentred features lose digits to large offsets),
with a column of ones for the intercepts, grouped into "atoms": rows that belong to the same row
sets (for K-fold splits: the held-out parts). Each row set's standardisation is folded into its
weights (x_std W = (x - m0) (W / s) - ((mu - m0) / s) W), so no standardised copy exists, and
each atom is multiplied only by the problems whose rows contain it, in row chunks that stay in
cache between the forward and backward products.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.tasks.probe_lbfgs import Pairs, minimize

RANK = 256  # leading eigen-directions of the feature covariance kept for the preconditioner
OVERSAMPLE, POWER_ITERS = 16, 2
# Added to every eigenvalue, in units of their mean (1 after standardisation): it caps how
# much the preconditioner amplifies low-variance directions. At 17,700 x 4,096 it cut the
# iterations by a quarter (0.3: -21%, 1: -27%; at 1,024 dims 0.3: -8%, 1: +8%).
RIDGE = 0.5
CPU_CHUNK = 512  # rows: a chunk (8 MB at 4,096 dims) stays in cache between the two products


def resolve_device(device: str) -> str:
    """auto -> cuda when torch sees a GPU, else cpu; a GPU asked for must exist."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise HarnessError(f"probe: device {device!r} asked for, but torch sees no GPU "
                           "(use cpu or auto)")
    if not (device == "cpu" or device.startswith("cuda")):
        raise HarnessError(f"probe: device {device!r} is not one of auto, cpu, cuda")
    return device


@dataclass
class Solution:
    theta: Any  # (P, d + 1, K) float32 on the device: rows 0..d-1 are W, row d is b
    status: list[str]
    n_iter: list[int]
    lam: Any = None  # (P,) the l2 strengths solved for
    pairs: Pairs | None = None  # L-BFGS curvature pairs where each problem stopped


class TorchProbe:
    """The working copy of the rows, each row set's standardisation, and batched fits."""

    def __init__(self, X: np.ndarray, codes: np.ndarray, n_classes: int,
                 row_sets: list[np.ndarray], *, device: str = "auto", seed: int = 0) -> None:
        import torch

        self.device = torch.device(resolve_device(device))
        self.chunk = CPU_CHUNK if self.device.type == "cpu" else 1 << 15
        self.K, (self.n, self.d) = n_classes, X.shape
        codes = np.asarray(codes, dtype=np.int64)
        member = np.zeros((self.n, len(row_sets)), dtype=bool)
        for f, rows in enumerate(row_sets):
            member[np.asarray(rows), f] = True
        # Atoms: rows with one membership pattern, contiguous in the working copy; rows in no
        # set go last (they are only ever predicted).
        patterns, inverse = np.unique(member, axis=0, return_inverse=True)
        used = patterns.any(1)
        key = np.where(used, np.arange(len(patterns)), len(patterns))[inverse.ravel()]
        order = np.argsort(key, kind="stable")
        bounds = np.searchsorted(key[order], np.arange(len(patterns) + 1))
        self.atoms = [(int(bounds[a]), int(bounds[a + 1]), torch.from_numpy(p).to(self.device))
                      for a, p in enumerate(patterns) if used[a]]
        in_sets = order[:int(used[inverse.ravel()].sum())]
        self.position = np.empty(self.n, dtype=np.int64)
        self.position[order] = np.arange(self.n)
        self.y = torch.from_numpy(codes[order]).to(self.device)
        self.n_rows = torch.tensor([len(r) for r in row_sets], dtype=torch.float64,
                                   device=self.device)
        present = np.zeros((len(row_sets), n_classes), dtype=bool)
        for f, rows in enumerate(row_sets):
            present[f, np.unique(codes[np.asarray(rows)])] = True
        self.present = torch.from_numpy(present).to(self.device)
        self._copy_rows(X, order)
        self._standardise(len(row_sets), n_in_sets=len(in_sets))
        self._preconditioner(seed, len(in_sets), codes[in_sets])

    # -- the working copy and the statistics ------------------------------------------
    def _copy_rows(self, X: np.ndarray, order: np.ndarray) -> None:
        """float32 rows in atom order, a ones column, padded to 16 columns (aligned rows)."""
        import torch

        width = -(-(self.d + 1) // 16) * 16
        self.Xw = torch.zeros((self.n, width), dtype=torch.float32, device=self.device)
        src = torch.from_numpy(X) if X.dtype == np.float32 else None
        for s in range(0, self.n, 4096):
            idx = order[s:s + 4096]
            part = (src[torch.from_numpy(idx)] if src is not None
                    else torch.from_numpy(np.asarray(X[idx], dtype=np.float32)))
            self.Xw[s:s + len(idx), :self.d] = part.to(self.device)
        self.Xw[:, self.d] = 1.0

    def _standardise(self, n_sets: int, n_in_sets: int) -> None:
        """Every row set's mean and scale, as StandardScaler computes them; then centre."""
        import torch

        d = self.d
        ref = self.Xw[0, :d].double()  # a data row keeps the float64 sums well scaled
        s1 = torch.zeros((n_sets, d), dtype=torch.float64, device=self.device)
        s2 = torch.zeros_like(s1)
        total = torch.zeros_like(ref)
        for a0, a1, contains in self.atoms:
            t1, t2 = torch.zeros_like(ref), torch.zeros_like(ref)
            for c in range(a0, a1, self.chunk):
                xb = self.Xw[c:min(c + self.chunk, a1), :d].double() - ref
                t1 += xb.sum(0)
                t2 += (xb * xb).sum(0)
            s1[contains] += t1
            s2[contains] += t2
            total += t1
        n = self.n_rows[:, None]
        self.mean = ref + s1 / n  # (F, d)
        var = (s2 / n - (s1 / n) ** 2).clamp_min(0)
        # StandardScaler's near-constant rule (sklearn/preprocessing/_data.py:83-98).
        eps = torch.finfo(torch.float64).eps
        constant = var <= n * eps * var + (n * self.mean * eps) ** 2
        self.var = torch.where(constant, 0.0, var)
        self.scale = torch.where(constant, 1.0, var.sqrt())
        self.m0 = (ref + total / n_in_sets).float()
        for c in range(0, self.n, self.chunk):
            self.Xw[c:c + self.chunk, :d] -= self.m0
        self.sig_t = self.scale.T.float().contiguous()  # (d, F)
        self.delta_t = ((self.mean - self.m0.double()) / self.scale).T.float().contiguous()

    def _preconditioner(self, seed: int, n_u: int, codes: np.ndarray) -> None:
        """Leading eigenpairs of the standardised covariance of all rows (randomised, seeded),
        and each class's share p: the Hessian is roughly p(1-p) Cov + lam per class column."""
        import torch

        d, X = self.d, self.Xw[:n_u, :self.d]
        var = sum((X[c:c + self.chunk].double() ** 2).sum(0)
                  for c in range(0, n_u, self.chunk)) / n_u
        scale = torch.where(var > 0, var.sqrt(), 1.0).float()

        def cov(v: Any) -> Any:
            out = torch.zeros_like(v)
            w = v / scale[:, None]
            for c in range(0, n_u, self.chunk):
                xb = X[c:c + self.chunk]
                out.addmm_(xb.T, xb @ w)
            return out / scale[:, None] / n_u

        r = min(RANK + OVERSAMPLE, d, n_u)
        gen = torch.Generator().manual_seed(seed)
        Q = torch.linalg.qr(cov(torch.randn((d, r), generator=gen).to(self.device)))[0]
        for _ in range(POWER_ITERS):
            Q = torch.linalg.qr(cov(Q))[0]
        B = (Q.T @ cov(Q)).double()
        s, V = torch.linalg.eigh((B + B.T) / 2)
        keep = min(RANK, r)
        s_top = s[-keep:].clamp_min(0)
        self.U = (Q.double() @ V[:, -keep:]).float()  # (d, keep)
        rest = d - keep
        trace = float((var > 0).sum())
        s_rest = max(trace - float(s_top.sum()), 0.0) / rest if rest else 0.0
        ridge = RIDGE * trace / d
        self.s_top, self.s_rest = s_top + ridge, s_rest + ridge
        share = np.bincount(codes, minlength=self.K) / len(codes)
        self.rho = torch.from_numpy(np.maximum(share * (1 - share), 1.0 / n_u)).to(self.device)

    # -- problems ----------------------------------------------------------------------
    def solve(self, row_set: np.ndarray, Cs: np.ndarray, *, init: Any = None,
              start: Solution | None = None, tol: float, max_iter: int) -> Solution:
        """Fit problem p = (rows of row_set[p], Cs[p]) for every p: from zero, from ``init``
        (parameters), or continuing ``start`` (same rows, another C: its parameters and its
        curvature pairs, corrected for the change of penalty)."""
        import torch

        rs = torch.as_tensor(np.asarray(row_set), dtype=torch.long, device=self.device)
        C = torch.as_tensor(np.asarray(Cs, dtype=np.float64), device=self.device)
        pres = self.present[rs]
        lam = 1.0 / (C * self.n_rows[rs])
        lam = torch.where(pres.sum(1) == 2, 2 * lam, lam)  # the binary model, see above
        pairs = None
        if start is not None:
            init = start.theta
            penalised = torch.ones((1, 1, self.d + 1, 1), device=self.device)
            penalised[..., self.d, :] = 0.0  # the intercepts are not penalised
            pairs = start.pairs.add_curvature(lam - start.lam, penalised)
        theta0 = (torch.zeros((rs.numel(), self.d + 1, self.K), device=self.device)
                  if init is None else init.to(self.device, torch.float32).clone())
        theta0.masked_fill_(~pres[:, None, :], 0.0)
        res = minimize(theta0, lambda th, i: self._evaluate(th, rs[i], lam[i], pres[i]),
                       lambda v, i: self._precondition(v, lam[i]), tol=tol, max_iter=max_iter,
                       pairs=pairs)
        return Solution(theta=res.theta, status=res.status, n_iter=res.n_iter, lam=lam,
                        pairs=res.pairs)

    def _weights(self, theta: Any, rs: Any, pres: Any) -> Any:
        """(d + 1, A * K) weights on the working copy's columns (standardisation folded in)."""
        import torch

        d, A = self.d, theta.shape[0]
        W = theta[:, :d].permute(1, 0, 2)  # (d, A, K)
        V = torch.empty((d + 1, A, self.K), device=self.device)
        torch.div(W, self.sig_t[:, rs, None], out=V[:d])
        V[d] = theta[:, d] - torch.einsum("dak,da->ak", W, self.delta_t[:, rs])
        V[d].masked_fill_(~pres, float("-inf"))  # absent classes take no probability
        return V.view(d + 1, A * self.K)

    def _evaluate(self, theta: Any, rs: Any, lam: Any, pres: Any) -> tuple[Any, Any, Any]:
        import torch

        d, A, K = self.d, theta.shape[0], self.K
        V = self._weights(theta, rs, pres)
        loss = torch.zeros(A, dtype=torch.float64, device=self.device)
        grad = torch.zeros((d + 1, A, K), device=self.device)
        for a0, a1, contains in self.atoms:
            sel = contains[rs]
            S = int(sel.sum())
            if S == 0:
                continue
            Vs = V if S == A else V.view(d + 1, A, K)[:, sel].reshape(d + 1, S * K)
            acc = torch.zeros((d + 1, S * K), device=self.device)
            lsum = torch.zeros(S, dtype=torch.float64, device=self.device)
            for c in range(a0, a1, self.chunk):
                xb = self.Xw[c:min(c + self.chunk, a1), :d + 1]
                logp = torch.log_softmax((xb @ Vs).view(-1, S, K), dim=2)
                yk = self.y[c:c + xb.shape[0]].view(-1, 1, 1).expand(-1, S, 1)
                lsum -= logp.gather(2, yk).sum((0, 2), dtype=torch.float64)
                G = logp.exp_().scatter_add_(2, yk, logp.new_full(yk.shape, -1.0))
                acc.addmm_(xb.T, G.view(-1, S * K))
            if S == A:
                grad += acc.view(d + 1, A, K)
                loss += lsum
            else:
                grad[:, sel] += acc.view(d + 1, S, K)
                loss[sel] += lsum
        n = self.n_rows[rs]
        grad /= n.float()[None, :, None]
        gb = grad[d]
        g = torch.empty_like(theta)
        W = theta[:, :d]
        # d/dW of the folded weights: (dL/dV) / s - ((mu - m0) / s) dL/db, plus the penalty.
        gw = grad[:d].div_(self.sig_t[:, rs, None]).sub_(self.delta_t[:, rs, None] * gb)
        g[:, :d] = gw.permute(1, 0, 2) + lam.float()[:, None, None] * W
        g[:, d] = gb
        g.masked_fill_(~pres[:, None, :], 0.0)
        f = loss / n + 0.5 * lam * (W.double() ** 2).sum((1, 2))
        return f, g, g.abs().amax(dim=(1, 2)).double()

    def _precondition(self, q: Any, lam: Any) -> Any:
        """(rho_k Cov + lam)^-1 on each class column of W (Cov: top eigenpairs + the mean of
        the rest), 1 / rho_k on the intercepts."""
        import torch

        d, A, K = self.d, q.shape[0], self.K
        rho, lam_ = self.rho.view(1, 1, K), lam.view(1, A, 1)
        qw = q[:, :d].permute(1, 0, 2).reshape(d, A * K)
        c = self.U.T @ qw  # (r, A * K)
        top = (c.view(-1, A, K) / (rho * self.s_top.view(-1, 1, 1) + lam_)).float()
        rest = (1.0 / (rho * self.s_rest + lam_)).float()
        out_w = (self.U @ (top.view(-1, A * K) - rest.view(1, A * K) * c)
                 + rest.view(1, A * K) * qw)
        out = torch.empty_like(q)
        out[:, :d] = out_w.view(d, A, K).permute(1, 0, 2)
        out[:, d] = q[:, d] / self.rho.float()
        return out

    # -- results -----------------------------------------------------------------------
    def proba(self, theta: Any, row_set: int, rows: np.ndarray) -> np.ndarray:
        """Class probabilities (K columns) of the given original rows under one solution."""
        import torch

        rs = torch.tensor([row_set], device=self.device)
        V = self._weights(theta[None], rs, self.present[rs])
        pos = torch.from_numpy(self.position[np.asarray(rows)]).to(self.device)
        out = [torch.softmax(self.Xw[pos[s:s + self.chunk], :self.d + 1] @ V, dim=1)
               for s in range(0, pos.numel(), self.chunk)]
        return torch.cat(out).double().cpu().numpy()

    def standardisation(self, row_set: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, var, scale) of a row set, as StandardScaler's mean_, var_, scale_."""
        return tuple(t[row_set].cpu().numpy() for t in (self.mean, self.var, self.scale))
