#!/usr/bin/env python3
"""Numpy twin of the authentication model graph (build_models.py mirrors every op in ONNX).

Fixed (not learned) texture features on a normalised capture x [N,1,256,256] in [0,1]:

* h0 = 2x2 average of x (128x128), pyramid h1..h3 = further 2x2 averages (64, 32, 16).
* Per level k: valid 3x3 convolutions R = (Laplacian, d/dx, d/dy) of h_k;
  energy E = mean(R^2), fourth moment Q = mean(R^4) over the map. Features:
    log(E_lap + eps) - log(var(h0) + eps)          band energy relative to image contrast (grain scale)
    log(E_dx + E_dy + eps) - log(var(h0) + eps)    gradient energy (grain scale)
    log(E_dx + eps) - log(E_dy + eps)              anisotropy (weave / fibre direction)
    log(Q_lap + eps) - 2 log(E_lap + eps)          Laplacian kurtosis (sparse creases, pores vs dense texture)
* Intensity skewness and kurtosis of h0.
* Spectrum: h0 cut into 4 tiles of 64x64, each made zero-mean and Hann-windowed; power spectrum of the
  half-plane (33x64, via DFT matrices), averaged over tiles. For 5 radial bands (cycles per 64 px):
    log(max P in band + eps) - log(mean P in band + eps)   peakiness (regular printing dots, weave period)
    log(mean P in band + eps) - log(mean P over all bands + eps)  spectral shape
Then standardisation and a tiny MLP (hidden ReLU layer, softmax over [not_authentic, authentic]).
All gain-invariant (ratios of energies) so exposure changes do not move the features much.
"""
from __future__ import annotations

import math

import numpy as np

EPS = 1e-8
TILE = 64
BANDS = ((3.0, 6.0), (6.0, 10.0), (10.0, 16.0), (16.0, 24.0), (24.0, 32.5))
KERNELS = np.array([
    [[0, 1, 0], [1, -4, 1], [0, 1, 0]],          # Laplacian
    [[0, 0, 0], [-0.5, 0, 0.5], [0, 0, 0]],      # d/dx
    [[0, -0.5, 0], [0, 0, 0], [0, 0.5, 0]],      # d/dy
], np.float32)[:, None]  # [3,1,3,3]
LEVELS = 4


def dft_mats():
    """Half-plane DFT row matrices [33,64] and full column matrices [64,64] (cos, sin), float32."""
    n = TILE
    k = np.arange(n // 2 + 1)[:, None]
    j = np.arange(n)[None, :]
    rows_c = np.cos(2 * math.pi * k * j / n)
    rows_s = np.sin(2 * math.pi * k * j / n)
    kk = np.arange(n)[:, None]
    cols_c = np.cos(2 * math.pi * kk * j / n)
    cols_s = np.sin(2 * math.pi * kk * j / n)
    return [a.astype(np.float32) for a in (rows_c, rows_s, cols_c, cols_s)]


def hann():
    w = 0.5 - 0.5 * np.cos(2 * math.pi * (np.arange(TILE) + 0.5) / TILE)
    return np.outer(w, w).astype(np.float32)


def band_masks():
    """[B,33,64] 0/1 masks of the radial bands on the half-plane spectrum, and each band's pixel fraction."""
    fy = np.arange(TILE // 2 + 1)[:, None].astype(float)
    fx = np.arange(TILE)[None, :].astype(float)
    fx = np.where(fx >= TILE / 2, fx - TILE, fx)
    r = np.sqrt(fy ** 2 + fx ** 2)
    masks = np.stack([((r >= a) & (r < b)) for a, b in BANDS]).astype(np.float32)
    allm = ((r >= BANDS[0][0]) & (r < BANDS[-1][1])).astype(np.float32)
    return masks, allm


N_FEATURES = LEVELS * 4 + 2 + 2 * len(BANDS)


def feature_names():
    names = []
    for k in range(LEVELS):
        names += [f"L{k}_lap_energy", f"L{k}_grad_energy", f"L{k}_anisotropy", f"L{k}_lap_kurtosis"]
    names += ["skewness", "kurtosis"]
    names += [f"band{i}_peakiness" for i in range(len(BANDS))]
    names += [f"band{i}_share" for i in range(len(BANDS))]
    return names


def pool2(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def conv_valid(x, k):
    """x [N,1,H,W], k [C,1,3,3] -> [N,C,H-2,W-2] (cross-correlation, as ONNX Conv)."""
    n, _, h, w = x.shape
    out = np.zeros((n, k.shape[0], h - 2, w - 2), x.dtype)
    for dy in range(3):
        for dx in range(3):
            out += k[None, :, 0, dy, dx, None, None] * x[:, :, dy:dy + h - 2, dx:dx + w - 2]
    return out


def features(x: np.ndarray, dtype=np.float64) -> np.ndarray:
    """x [N,1,256,256] -> features [N, N_FEATURES] (float64; dtype=float32 estimates the ONNX rounding)."""
    x = x.astype(dtype)
    h = pool2(x)
    m0 = h.mean(axis=(2, 3), keepdims=True)
    c0 = h - m0
    var0 = (c0 * c0).mean(axis=(2, 3))                      # [N,1]
    lvar = np.log(var0 + EPS)
    feats = []
    lev = h
    kern = KERNELS.astype(dtype)
    for k in range(LEVELS):
        r = conv_valid(lev, kern)
        r2 = r * r
        e = r2.mean(axis=(2, 3))                             # [N,3]
        q = (r2 * r2).mean(axis=(2, 3))
        le = np.log(e + EPS)
        feats.append(le[:, 0:1] - lvar)
        feats.append(np.log(e[:, 1:2] + e[:, 2:3] + EPS) - lvar)
        feats.append(le[:, 1:2] - le[:, 2:3])
        feats.append(np.log(q[:, 0:1] + EPS) - 2.0 * le[:, 0:1])
        if k + 1 < LEVELS:
            lev = pool2(lev)
    inv_sd = 1.0 / np.sqrt(var0 + EPS)
    z = c0 * inv_sd[:, :, None, None]
    z2 = z * z
    feats.append((z2 * z).mean(axis=(2, 3)))
    feats.append((z2 * z2).mean(axis=(2, 3)))
    # spectrum
    n = x.shape[0]
    t = h.reshape(n, 2, TILE, 2, TILE).transpose(0, 1, 3, 2, 4).reshape(n, 4, TILE, TILE)
    t = (t - t.mean(axis=(2, 3), keepdims=True)) * hann().astype(dtype)
    rc, rs, cc, cs = [a.astype(dtype) for a in dft_mats()]
    a = rc @ t                                               # [N,4,33,64]
    b = rs @ t
    re = a @ cc - b @ cs
    im = b @ cc + a @ cs
    p = (re * re + im * im).mean(axis=1, keepdims=True)      # [N,1,33,64]
    masks, allm = band_masks()
    frac = masks.reshape(len(BANDS), -1).mean(axis=1)        # [B]
    frac_all = allm.mean()
    pm = p * masks.astype(dtype)[None]                  # [N,B,33,64]
    pmax = pm.max(axis=(2, 3))
    pmean = pm.mean(axis=(2, 3)) / frac
    pall = (p * allm.astype(dtype)).mean(axis=(2, 3)) / frac_all  # [N,1]
    lmean = np.log(pmean + EPS)
    feats.append(np.log(pmax + EPS) - lmean)
    feats.append(lmean - np.log(pall + EPS))
    return np.concatenate(feats, axis=1).astype(np.float64)


def mlp(f: np.ndarray, w: dict) -> np.ndarray:
    """Standardised features -> softmax [N,2] (not_authentic, authentic)."""
    z = (f - w["mu"]) * w["inv_sd"]
    hdn = np.maximum(z @ w["w1"] + w["b1"], 0.0)
    lo = hdn @ w["w2"] + w["b2"]
    lo = lo - lo.max(axis=1, keepdims=True)
    e = np.exp(lo)
    return e / e.sum(axis=1, keepdims=True)


def probabilities(x: np.ndarray, w: dict) -> np.ndarray:
    return mlp(features(x), w)
