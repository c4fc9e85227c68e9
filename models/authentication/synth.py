#!/usr/bin/env python3
"""Synthetic genuine-vs-counterfeit surfaces per brand+material, imaged by the fingerprint capture simulator.

There is NO real labelled counterfeit data here. This module invents a plausible but entirely synthetic task:
a "genuine" material is one parametric family of surfaces; a "counterfeit" of it carries one or more *cues*,
each with a random strength, drawn from distributions that overlap the genuine ones on purpose:

* coarse   - coarser grain (fewer, larger leather cells / a longer weave period, wider creases),
* dots     - a faint regular halftone screen (printed imitation of the grain),
* fibre    - different fine-texture statistics (smoother relief and fewer pores / shorter, stronger fibres and
             more regular threads).

Reuses models/fingerprint/surfaces.py (helpers and `capture`) unchanged; the material generators are
parametric copies of surfaces.leather / surfaces.fabric. Everything is determined by (seed, spec, item).
"""
from __future__ import annotations

import io
import math
import os
import sys

import numpy as np
from scipy import ndimage as ndi

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fingerprint"))
import fpcore  # noqa: E402
import surfaces  # noqa: E402
from surfaces import BASE, _noise, _norm  # noqa: E402

CUES = ("coarse", "dots", "fibre")
CAPTURE_SIZES = (256, 320, 384, 512)  # capture side in px (kept <= 512 so the dataset builds in minutes)


def leather(rng, n_cells, crease_sigma, pore_density, relief_sigma, relief_w):
    """Parametric copy of surfaces.leather: Voronoi grain cells + creases + pores + fine relief."""
    pts = rng.integers(0, BASE, size=(int(n_cells), 2))
    seeds = np.ones((BASE, BASE), bool)
    seeds[pts[:, 0], pts[:, 1]] = False
    dist, idx = ndi.distance_transform_edt(seeds, return_indices=True)
    lab = idx[0] * BASE + idx[1]
    edge = (ndi.maximum_filter(lab, 3) != ndi.minimum_filter(lab, 3)).astype(float)
    crease = ndi.gaussian_filter(edge, crease_sigma)
    cells = np.sqrt(dist)
    pores = ndi.gaussian_filter((rng.random((BASE, BASE)) < pore_density).astype(float), 1.2)
    return (0.6 * _norm(cells) - 1.0 * _norm(crease) - 0.5 * _norm(pores)
            + relief_w * _norm(_noise(rng, relief_sigma)))


def fabric(rng, period, irregularity, fibre_len, fibre_w):
    """Parametric copy of surfaces.fabric: plain weave with irregular thread paths and fibre noise."""
    y, x = np.mgrid[0:BASE, 0:BASE].astype(float)
    wy = 3.0 * _noise(rng, 12) / (np.abs(_noise(rng, 12)).mean() + 1e-9) * irregularity
    wx = 3.0 * _noise(rng, 12) / (np.abs(_noise(rng, 12)).mean() + 1e-9) * irregularity
    ph = 2 * math.pi / period
    warp = np.cos(ph * (x + wx))
    weft = np.cos(ph * (y + wy))
    over = np.sign(np.sin(ph * (x + wx) / 2) * np.sin(ph * (y + wy) / 2))
    thread = np.where(over > 0, np.abs(warp), np.abs(weft))
    fib_v = ndi.gaussian_filter(rng.standard_normal((BASE, BASE)), (fibre_len, 0.7))
    fib_h = ndi.gaussian_filter(rng.standard_normal((BASE, BASE)), (0.7, fibre_len))
    fibre = np.where(over > 0, fib_v, fib_h)
    return _norm(thread) + fibre_w * _norm(fibre) + 0.3 * _norm(_noise(rng, 20))


def halftone(rng, pitch):
    """A regular printed dot screen (as in surfaces.plastic) at a random angle, zero-mean unit-std."""
    ang = math.radians(rng.uniform(0, 90))
    y, x = np.mgrid[0:BASE, 0:BASE].astype(float)
    u = (x * math.cos(ang) + y * math.sin(ang)) / pitch
    v = (-x * math.sin(ang) + y * math.cos(ang)) / pitch
    tone = 0.5 + 0.35 * np.tanh(_norm(_noise(rng, 25)))
    du, dv = u - np.round(u), v - np.round(v)
    r = np.sqrt(du ** 2 + dv ** 2) * (1.0 + 0.35 * _noise(rng, 1.5) / 0.1)
    return _norm(1.0 / (1.0 + np.exp((r - 0.55 * np.sqrt(tone)) * 18)))


# Per brand+material: genuine parameter ranges, and how each counterfeit cue shifts them. Ranges overlap.
SPECS = {
    "acme-leather": dict(
        brand="acme", material="leather", generator="leather",
        genuine=dict(n_cells=(300, 480), crease_sigma=(1.2, 1.8), pore_density=(0.003, 0.005),
                     relief_sigma=(0.8, 1.2), relief_w=(0.35, 0.5)),
        coarse=dict(n_cells=(160, 330), crease_sigma=(1.6, 2.6)),
        fibre=dict(relief_sigma=(1.3, 2.2), relief_w=(0.15, 0.35), pore_density=(0.001, 0.0025)),
        dots=dict(amplitude=(0.12, 0.45), pitch=(8.0, 13.0)),
    ),
    "acme-canvas": dict(
        brand="acme", material="fabric", generator="fabric",
        genuine=dict(period=(14.0, 19.0), irregularity=(0.25, 0.4), fibre_len=(5.0, 7.0), fibre_w=(0.7, 0.9)),
        coarse=dict(period=(17.0, 25.0)),
        fibre=dict(fibre_len=(2.5, 4.5), fibre_w=(0.9, 1.3), irregularity=(0.08, 0.25)),
        dots=dict(amplitude=(0.12, 0.45), pitch=(8.0, 13.0)),
    ),
}


def _draw(rng, ranges):
    return {k: float(rng.uniform(*v)) for k, v in ranges.items()}


def _item_params(seed: int, model_id: str, item: int, authentic: bool):
    """(rng positioned after the parameter draws, material parameters, cues present) for one item."""
    spec = SPECS[model_id]
    key = sum(ord(c) * (i + 1) for i, c in enumerate(model_id))
    rng = np.random.default_rng([seed, key, item, 1 if authentic else 0, 0xA17])
    params = _draw(rng, spec["genuine"])
    cues = []
    if not authentic:
        present = rng.random(len(CUES)) < 0.5
        if not present.any():
            present[rng.integers(len(CUES))] = True
        cues = [c for c, p in zip(CUES, present) if p]
        for c in ("coarse", "fibre"):
            if c in cues:
                params.update(_draw(rng, spec[c]))
    return rng, params, cues


def item_cues(seed: int, model_id: str, item: int, authentic: bool) -> list[str]:
    """The counterfeit cues of an item (empty for genuine ones), without synthesising its surface."""
    return _item_params(seed, model_id, item, authentic)[2]


def item_surface(seed: int, model_id: str, item: int, authentic: bool):
    """(surface BASE x BASE float32, cues present) for one item; fully determined by the arguments."""
    spec = SPECS[model_id]
    rng, params, cues = _item_params(seed, model_id, item, authentic)
    gen = {"leather": leather, "fabric": fabric}[spec["generator"]]
    img = _norm(gen(rng, **params))
    if "dots" in cues:
        d = _draw(rng, spec["dots"])
        img = _norm(img + d["amplitude"] * halftone(rng, d["pitch"]))
    return img.astype(np.float32), cues


def item_capture(seed: int, model_id: str, item: int, authentic: bool, size: int | None = None):
    """One capture of the item (uint8, gray or colour, maybe JPEG round-tripped) and its cues."""
    from PIL import Image
    surf, cues = item_surface(seed, model_id, item, authentic)
    rng = np.random.default_rng([seed, item, 1 if authentic else 0, 0xCA9])
    if size is None:
        size = int(rng.choice(CAPTURE_SIZES))
    jpeg = bool(rng.random() < 0.5)
    quality = int(rng.integers(*surfaces.PROFILES["spec"]["jpeg"]))
    cap_seed = seed * 2 + (1 if authentic else 0)
    img = surfaces.capture(surf, cap_seed, item, 0, "spec", size=size)
    if jpeg:
        img = np.asarray(Image.open(io.BytesIO(surfaces.encode(img, "jpg", quality))))
    return img, cues


def normalised(img: np.ndarray) -> np.ndarray:
    """The model's input normalisation (docs/fingerprinting-research.md 6.1): gray, centre crop, area resize."""
    return fpcore.normalise(fpcore.to_gray(img), 256)
