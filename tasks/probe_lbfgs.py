"""L-BFGS for many independent problems at once, each with its own line search and stop.

The probe's grid search is 50 small problems (folds x C values) that share one data matrix: a
step of all of them costs two large matrix products where one problem alone costs two thin ones
(memory-bound on a CPU, idle on a GPU). This module runs the optimiser for a batch of problems
in lock-step: every round, each active problem takes one L-BFGS iteration; line-search retries
are evaluated only for the problems that need them; a problem leaves the batch when it stops
and the batch is compacted.

The rules are those of scipy's L-BFGS-B as scikit-learn calls it (scikit-learn 1.9.1
sklearn/linear_model/_logistic.py:586-598: 10 correction pairs, stop once the largest gradient
entry is at most ``tol``, at most ``max_iter`` iterations), with two changes that only affect the
path, not the optimum: the initial inverse Hessian is a preconditioner supplied by the caller
(scaled by the usual s'y / y'Hy), and the line search is backtracking Armijo with quadratic
interpolation.

Parameters of problem p are ``theta[p]`` (float32, any trailing shape); the objective is
``evaluate(theta_subset, idx) -> (f float64 (A,), grad like theta_subset, gmax (A,))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Evaluate = Callable[[Any, Any], tuple[Any, Any, Any]]
Precondition = Callable[[Any, Any], Any]  # (vectors (A, ...), idx) -> H0 @ vectors

MEMORY = 10  # scipy's default maxcor, which scikit-learn leaves as is
ARMIJO = 1e-4
APPROX_DELTA, APPROX_EPS = 0.1, 1e-6
MAX_BACKTRACKS = 30


@dataclass
class Pairs:
    """Every problem's curvature pairs, oldest first; rho = 0 marks an empty slot."""

    S: Any  # (memory, P, ...)
    Y: Any
    rho: Any  # (memory, P) float64
    gamma: Any  # (P,) float64, the scale of the initial inverse Hessian

    def add_curvature(self, delta: Any, mask: Any) -> Pairs:
        """The pairs for f + delta/2 ||mask * x||^2 (exact: y += delta * mask * s); pairs
        that lose positive curvature are dropped. Carries an L-BFGS along a penalty path."""
        import torch

        Y = self.Y + _col(delta, self.Y[0])[None] * self.S * mask
        flat = (self.S.shape[0], self.S.shape[1], -1)
        sy = torch.linalg.vecdot(self.S.reshape(flat), Y.reshape(flat), dim=2).double()
        yy = torch.linalg.vecdot(Y.reshape(flat), Y.reshape(flat), dim=2).double()
        keep = (self.rho > 0) & (sy > 1e-10 * yy)
        return Pairs(self.S, Y, torch.where(keep, 1.0 / sy.clamp_min(1e-300), 0.0), self.gamma)


@dataclass
class LbfgsResult:
    theta: Any  # (P, ...) the last accepted point of each problem
    n_iter: list[int]
    status: list[str]  # per problem: "converged", "max_iter" or "stalled"
    pairs: Pairs  # each problem's pairs where it stopped, to continue from


def _dot(a: Any, b: Any) -> Any:
    """Per-problem inner products of (A, ...) tensors, as float64 (A,)."""
    import torch

    return torch.linalg.vecdot(a.flatten(1), b.flatten(1), dim=1).double()


def _col(v: Any, like: Any) -> Any:
    """(A,) -> a shape that broadcasts over (A, ...), in like's dtype."""
    return v.to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


def minimize(theta0: Any, evaluate: Evaluate, precondition: Precondition, *, tol: float,
             max_iter: int, pairs: Pairs | None = None, memory: int = MEMORY) -> LbfgsResult:
    """Minimise every problem from theta0 (and ``pairs``, e.g. a previous result's)."""
    import torch

    n_prob, dev = theta0.shape[0], theta0.device
    out_theta = theta0.clone()
    n_iter, status = [0] * n_prob, [""] * n_prob
    # State of the active problems only; ``ids`` maps its rows to problem numbers.
    ids = torch.arange(n_prob, device=dev)
    theta = theta0.clone()
    f, g, gmax = evaluate(theta, ids)
    if pairs is None:
        S = torch.zeros((memory, *theta.shape), dtype=theta.dtype, device=dev)
        pairs = Pairs(S, torch.zeros_like(S),
                      torch.zeros((memory, n_prob), dtype=torch.float64, device=dev),
                      torch.ones(n_prob, dtype=torch.float64, device=dev))
    S, Y, rho, gamma = pairs.S.clone(), pairs.Y.clone(), pairs.rho.clone(), pairs.gamma.clone()
    out = Pairs(S.clone(), Y.clone(), rho.clone(), gamma.clone())
    memory, slot = S.shape[0], 0  # slot: the next one written, i.e. the oldest
    done = gmax <= tol
    while True:
        for j in torch.nonzero(done).flatten().tolist():
            i = int(ids[j])
            status[i] = status[i] or "converged"
            out_theta[i] = theta[j]
            # Stored oldest first, so that a continuation starts writing at slot 0.
            out.S[:, i], out.Y[:, i] = S[:, j].roll(-slot, 0), Y[:, j].roll(-slot, 0)
            out.rho[:, i], out.gamma[i] = rho[:, j].roll(-slot, 0), gamma[j]
        if bool(done.any()):
            keep = ~done
            ids, theta, f, g, gmax = ids[keep], theta[keep], f[keep], g[keep], gmax[keep]
            S, Y, rho, gamma = S[:, keep], Y[:, keep], rho[:, keep], gamma[keep]
        if ids.numel() == 0:
            break
        h0 = _bind(precondition, ids)
        direction = -_two_loop(g, S, Y, rho, gamma, slot, memory, h0)
        slope = _dot(g, direction)
        bad = slope >= 0  # not a descent direction (stale pairs): restart from H0
        if bool(bad.any()):
            direction[bad] = -precondition(g[bad], ids[bad])
            slope = _dot(g, direction)
        f_new, g_new, gmax_new, step = _line_search(theta, f, slope, direction, ids, evaluate)
        ok = step > 0
        s_vec = _col(step, direction) * direction
        y_vec = g_new - g
        sy, yy = _dot(s_vec, y_vec), _dot(y_vec, y_vec)
        use = ok & (sy > 1e-10 * yy)  # curvature condition, else the pair is skipped
        rho[slot] = torch.where(use, 1.0 / sy.clamp_min(1e-300), 0.0)
        S[slot], Y[slot] = s_vec, y_vec
        hy = _dot(y_vec, precondition(y_vec, ids))
        gamma = torch.where(use & (hy > 0), sy / hy.clamp_min(1e-300), gamma)
        slot = (slot + 1) % memory
        theta = torch.where(_col(ok, theta).bool(), theta + s_vec, theta)
        f = torch.where(ok, f_new, f)
        g = torch.where(_col(ok, g).bool(), g_new, g)
        gmax = torch.where(ok, gmax_new, gmax)
        done = gmax <= tol
        for j, i in enumerate(ids.tolist()):
            n_iter[i] += 1
            if not ok[j]:
                status[i] = "stalled"  # no decrease found along a descent direction
                done[j] = True
            elif not done[j] and n_iter[i] >= max_iter:
                status[i] = "max_iter"
                done[j] = True
    return LbfgsResult(theta=out_theta, n_iter=n_iter, status=status, pairs=out)


def _bind(precondition: Precondition, ids: Any) -> Callable[[Any], Any]:
    return lambda v: precondition(v, ids)


def _two_loop(g: Any, S: Any, Y: Any, rho: Any, gamma: Any, slot: int, memory: int,
              h0: Callable[[Any], Any]) -> Any:
    """H @ g for every problem (empty slots have rho = 0 and change nothing)."""
    q = g.clone()
    order = [(slot - 1 - k) % memory for k in range(memory)]
    alphas = []
    for k in order:
        a = rho[k] * _dot(S[k], q)
        q.addcmul_(Y[k], _col(-a, q))
        alphas.append(a)
    r = h0(q) * _col(gamma, q)
    for k, a in zip(reversed(order), reversed(alphas), strict=True):
        b = rho[k] * _dot(Y[k], r)
        r.addcmul_(S[k], _col(a - b, r))
    return r


def _line_search(theta: Any, f0: Any, slope: Any, direction: Any, ids: Any,
                 evaluate: Evaluate) -> tuple[Any, Any, Any, Any]:
    """Backtracking Armijo from step 1 with quadratic interpolation; step 0 where none is found."""
    import torch

    n = theta.shape[0]
    step = torch.ones(n, dtype=torch.float64, device=theta.device)
    f_new = torch.empty(n, dtype=torch.float64, device=theta.device)
    g_new = torch.empty_like(theta)
    gmax_new = torch.empty(n, dtype=torch.float64, device=theta.device)
    todo = torch.arange(n, device=theta.device)
    for _ in range(MAX_BACKTRACKS):
        trial = theta[todo] + _col(step[todo], direction) * direction[todo]
        ft, gt, mt = evaluate(trial, ids[todo])
        f_new[todo], g_new[todo], gmax_new[todo] = ft, gt, mt
        armijo = ft <= f0[todo] + ARMIJO * step[todo] * slope[todo]
        # Near the optimum the decrease falls below the loss's float32 rounding: there, Hager
        # & Zhang's approximate Wolfe test (SIAM J. Optim. 16(1), 2005) judges the step by
        # its slope, exact to rounding of the gradient, with f allowed a relative 1e-6.
        approx = ((_dot(gt, direction[todo]) <= (2 * APPROX_DELTA - 1) * slope[todo])
                  & (ft <= f0[todo] + APPROX_EPS * f0[todo].abs()))
        ok = armijo | approx
        if bool(ok.all()):
            return f_new, g_new, gmax_new, step
        fail = todo[~ok]
        a = step[fail]
        # Minimiser of the quadratic through f0, the slope and the failed trial, in [a/10, a/2].
        curv = f_new[fail] - f0[fail] - a * slope[fail]
        a_q = -slope[fail] * a * a / (2 * curv.clamp_min(1e-300))
        a_q = torch.where(torch.isfinite(a_q), a_q, a / 2)
        step[fail] = torch.minimum(torch.maximum(a_q, a / 10), a / 2)
        todo = fail
    step[todo] = 0.0
    return f_new, g_new, gmax_new, step
