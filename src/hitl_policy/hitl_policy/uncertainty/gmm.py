"""Gaussian mixtures with 1..K modes, best by BIC, for many point sets at once.

``fit_gmm_torch`` fits every (set, K) pair of a whole fleet in one batched EM (components beyond
K are masked), with k-means++ / Lloyd initialisation as scikit-learn's ``init_params="kmeans"``
and a bounded iteration count. ``fit_gmm_sklearn`` is the reference: a loop of
``sklearn.mixture.GaussianMixture``. Both return a :class:`MixtureFit`; :func:`mixture_scores`
turns it into the paper's mode divergence D (Eq. 2) and weighted within-mode variance Var_g (Eq. 3).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

COVARIANCE_TYPES = ("full", "diag")
_THREADS_LOCK = threading.RLock()


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (0: unchanged), then restore.

    The EM is hundreds of small ops: on a busy 2-core machine two threads made one robot's fit
    6-18x slower than one thread (bench/uncertainty.py), so the fit runs single-threaded."""
    if n <= 0:
        yield
        return
    with _THREADS_LOCK:
        prev = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(prev)


@dataclass
class MixtureFit:
    """Best-BIC mixture per set. Arrays are padded to K_max components (weight 0 beyond ``k``).

    k: (B,) chosen mode count; weights: (B, K_max); means: (B, K_max, d);
    variances: (B, K_max) total variance (trace of the covariance) of each mode; bic: (B, K_max)
    the BIC of the 1..K_max fits."""

    k: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    bic: np.ndarray


def _n_params(k: int, d: int, cov: str) -> int:
    cov_params = k * d * (d + 1) // 2 if cov == "full" else k * d
    return cov_params + k * d + k - 1


def mixture_scores(fit: MixtureFit) -> tuple[np.ndarray, np.ndarray]:
    """D = mean over mode pairs of (1 - cosine similarity of the mode means) (0 for one mode);
    Var_g = sum over modes of weight * mode variance."""
    b, _kmax, _ = fit.means.shape
    d = np.zeros(b)
    for i in range(b):
        k = int(fit.k[i])
        if k < 2:
            continue
        m = fit.means[i, :k].astype(np.float64)
        u = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
        cos = u @ u.T
        iu = np.triu_indices(k, 1)
        d[i] = float(np.mean(1.0 - cos[iu]))
    var = (fit.weights * fit.variances).sum(axis=1)
    return d, var


# --------------------------------------------------------------------------- sklearn reference
def fit_gmm_sklearn(
    points: np.ndarray,
    max_modes: int = 4,
    covariance_type: str = "full",
    reg_covar: float = 1e-4,
    max_iter: int = 100,
    tol: float = 1e-3,
    seed: int = 0,
    lloyd_iters: int | None = None,
) -> MixtureFit:
    """points (B, N, d): one ``GaussianMixture`` per (set, K); keeps the lowest BIC.
    (``lloyd_iters`` is accepted for signature parity with the torch fit; k-means runs to convergence.)"""
    from sklearn.mixture import GaussianMixture

    pts = np.asarray(points, np.float64)
    b, n, dim = pts.shape
    kmax = min(max_modes, n)
    out = MixtureFit(
        np.zeros(b, np.int64),
        np.zeros((b, kmax)),
        np.zeros((b, kmax, dim)),
        np.zeros((b, kmax)),
        np.full((b, kmax), np.inf),
    )
    for i in range(b):
        best = None
        for k in range(1, kmax + 1):
            gm = GaussianMixture(
                k,
                covariance_type=covariance_type,
                reg_covar=reg_covar,
                max_iter=max_iter,
                tol=tol,
                random_state=seed,
            ).fit(pts[i])
            out.bic[i, k - 1] = gm.bic(pts[i])
            if best is None or out.bic[i, k - 1] < out.bic[i, best.n_components - 1]:
                best = gm
        assert best is not None
        k = best.n_components
        cov = best.covariances_
        tr = np.trace(cov, axis1=1, axis2=2) if covariance_type == "full" else cov.sum(axis=1)
        out.k[i], out.weights[i, :k], out.means[i, :k], out.variances[i, :k] = (
            k,
            best.weights_,
            best.means_,
            tr,
        )
    return out


# --------------------------------------------------------------------------- batched torch EM
def _sqdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(S, M, d), (S, L, d) -> (S, M, L) squared distances via one batched matmul."""
    return ((a * a).sum(-1)[..., None] - 2 * a @ b.transpose(1, 2) + (b * b).sum(-1)[:, None, :]).clamp_min(0)


def _kmeans_init(
    x: torch.Tensor, mask: torch.Tensor, lloyd_iters: int, gen: torch.Generator, n_trials: int = 3
) -> torch.Tensor:
    """Greedy k-means++ (best of ``n_trials`` candidates per centre, as scikit-learn) then Lloyd;
    x (S, N, d), mask (S, K) active components. Returns hard labels (S, N)."""
    s, n, d = x.shape
    kmax = mask.shape[1]
    rows = torch.arange(s)
    centers = torch.zeros(s, kmax, d, dtype=x.dtype)
    centers[:, 0] = x[rows, torch.randint(0, n, (s,), generator=gen)]
    d2 = ((x - centers[:, :1]) ** 2).sum(-1)  # (S, N)
    for j in range(1, kmax):
        prob = d2 + 1e-12
        cand = torch.multinomial(prob / prob.sum(1, keepdim=True), n_trials, replacement=True, generator=gen)
        cpts = x[rows[:, None], cand]  # (S, T, d)
        cd2 = torch.minimum(
            d2[:, None, :], ((cpts[:, :, None, :] - x[:, None, :, :]) ** 2).sum(-1)
        )  # (S, T, N)
        best = cd2.sum(-1).argmin(1)
        centers[:, j] = cpts[rows, best]
        d2 = cd2[rows, best]
    big = torch.finfo(x.dtype).max / 4
    for it in range(lloyd_iters + 1):
        dist = _sqdist(x, centers).masked_fill(~mask[:, None, :], big)
        labels = dist.argmin(-1)
        if it == lloyd_iters:
            break
        onehot = torch.nn.functional.one_hot(labels, kmax).to(x.dtype)
        cnt = onehot.sum(1)
        new = onehot.transpose(1, 2) @ x / cnt.clamp_min(1)[..., None]
        centers = torch.where(cnt[..., None] > 0, new, centers)  # an empty cluster keeps its centre
    return labels


def _m_step(x: torch.Tensor, xx: torch.Tensor, resp: torch.Tensor, mask: torch.Tensor, cov_type: str, reg: float):
    """x (S, N, d) centred points, xx (S, N, d*d) their outer products (full covariance only)."""
    _s, _n, d = x.shape
    nk = resp.sum(1) + 10 * torch.finfo(x.dtype).eps  # (S, K)
    rt = resp.transpose(1, 2)  # (S, K, N)
    means = rt @ x / nk[..., None]  # (S, K, d)
    eye = torch.eye(d, dtype=x.dtype)
    if cov_type == "full":  # E[x x^T] - mu mu^T: one batched matmul, no (S, K, N, d) tensor
        second = (rt @ xx / nk[..., None]).reshape(*nk.shape, d, d)
        cov = second - means[..., :, None] * means[..., None, :] + reg * eye
        cov = torch.where(mask[..., None, None], cov, eye.expand_as(cov))
    else:
        cov = rt @ (x * x) / nk[..., None] - means**2 + reg
        cov = torch.where(mask[..., None], cov, torch.ones_like(cov))
    weights = torch.where(mask, nk, torch.zeros_like(nk))
    weights = weights / weights.sum(1, keepdim=True)
    return weights, means, cov


def _log_prob(x: torch.Tensor, xx: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, cov: torch.Tensor,
              cov_type: str):
    """(S, N, K) log(w_k N(x | mu_k, Sigma_k)); Mahalanobis terms as x'Px - 2 x'P mu + mu'P mu."""
    s, _n, d = x.shape
    if cov_type == "full":
        chol, _ = torch.linalg.cholesky_ex(cov)  # (S, K, d, d); reg_covar keeps it positive definite
        prec = torch.cholesky_inverse(chol)
        pmu = (prec @ means[..., None]).squeeze(-1)  # (S, K, d)
        maha = xx @ prec.reshape(s, -1, d * d).transpose(1, 2) - 2 * x @ pmu.transpose(1, 2)
        maha = maha + (means * pmu).sum(-1)[:, None, :]
        logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    else:
        inv = 1.0 / cov  # (S, K, d)
        maha = (x * x) @ inv.transpose(1, 2) - 2 * x @ (means * inv).transpose(1, 2)
        maha = maha + (means * means * inv).sum(-1)[:, None, :]
        logdet = torch.log(cov).sum(-1)
    lp = -0.5 * (d * math.log(2 * math.pi) + logdet[:, None, :] + maha.clamp_min(0))
    return lp + torch.log(weights)[:, None, :]


def fit_gmm_torch(
    points: np.ndarray | torch.Tensor,
    max_modes: int = 4,
    covariance_type: str = "full",
    reg_covar: float = 1e-4,
    max_iter: int = 100,
    tol: float = 1e-3,
    lloyd_iters: int = 5,
    seed: int = 0,
    threads: int = 1,
    dtype: torch.dtype = torch.float32,
) -> MixtureFit:
    """points (B, N, d): fits K = 1..max_modes for all B sets in one batched EM and keeps
    the lowest BIC per set. At most ``max_iter`` EM iterations; stops early once every fit's mean
    log-likelihood changes by less than ``tol`` (scikit-learn's criterion). ``threads``: torch
    intra-op threads during the fit (0 = leave the caller's setting); ``dtype``: float32 (default:
    ~1.5x faster than float64, agrees with the float64 scikit-learn reference, see test_gmm.py)."""
    with torch_threads(threads):
        return _fit_torch(points, max_modes, covariance_type, reg_covar, max_iter, tol, lloyd_iters, seed, dtype)


@torch.no_grad()
def _fit_torch(points, max_modes: int, covariance_type: str, reg_covar: float, max_iter: int, tol: float,
               lloyd_iters: int, seed: int, dtype: torch.dtype) -> MixtureFit:
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}")
    x = torch.as_tensor(points).to(dtype)
    if x.ndim != 3 or x.shape[1] < 1:
        raise ValueError(f"points must be (B, N, d) with N >= 1, got {tuple(x.shape)}")
    b, n, d = x.shape
    kmax = min(max_modes, n)
    gen = torch.Generator().manual_seed(seed)
    centre = x.mean(1, keepdim=True)  # fit centred data (float32 second moments), add the centre back
    x = x - centre
    # sets S = B * kmax: set (i, k-1) fits k components of robot i
    xs = x.repeat_interleave(kmax, dim=0)
    xx = (xs[..., :, None] * xs[..., None, :]).reshape(len(xs), n, d * d) if covariance_type == "full" else xs
    ks = torch.arange(1, kmax + 1).repeat(b)
    mask = torch.arange(kmax)[None, :] < ks[:, None]  # (S, K)
    labels = _kmeans_init(xs, mask, lloyd_iters, gen)
    resp = torch.nn.functional.one_hot(labels, kmax).to(x.dtype)
    weights, means, cov = _m_step(xs, xx, resp, mask, covariance_type, reg_covar)
    prev = torch.full((len(xs),), -torch.inf, dtype=x.dtype)
    for it in range(max_iter):
        lp = _log_prob(xs, xx, weights, means, cov, covariance_type)
        lse = torch.logsumexp(lp, dim=2)  # (S, N)
        ll = lse.mean(1)
        resp = torch.exp(lp - lse[..., None])
        weights, means, cov = _m_step(xs, xx, resp, mask, covariance_type, reg_covar)
        if it % 5 == 4 and bool(((ll - prev).abs() < tol).all()):
            break
        prev = ll
    lp = _log_prob(xs, xx, weights, means, cov, covariance_type)
    ll = torch.logsumexp(lp, dim=2).sum(1)  # (S,) total log-likelihood
    n_par = torch.tensor([_n_params(int(k), d, covariance_type) for k in ks], dtype=x.dtype)
    bic = (-2 * ll + n_par * math.log(n)).reshape(b, kmax)
    best = bic.argmin(1)  # (B,)
    sel = torch.arange(b) * kmax + best
    var = cov.diagonal(dim1=-2, dim2=-1).sum(-1) if covariance_type == "full" else cov.sum(-1)
    w = weights[sel]
    return MixtureFit(
        k=(best + 1).numpy(),
        weights=w.numpy(),
        means=((means[sel] + centre) * (w > 0)[..., None]).numpy(),
        variances=(var[sel] * (w > 0)).numpy(),
        bic=bic.numpy(),
    )


def fit_gmm(points, backend: str = "torch", **kwargs) -> MixtureFit:
    if backend == "torch":
        return fit_gmm_torch(points, **kwargs)
    if backend == "sklearn":
        return fit_gmm_sklearn(points, **kwargs)
    raise ValueError(f"unknown GMM backend {backend!r}: expected 'torch' or 'sklearn'")
