#!/usr/bin/env python3
"""Procedural surfaces + a microscope capture simulator for fingerprint research.

Run with Debian's /usr/bin/python3 (python3-numpy, python3-scipy, python3-pil; python3-skimage
optional: its real texture photos brick/grass/gravel become an extra "real" surface family).

Every item is a unique random instance of a surface family, fully determined by (seed, item index).
`capture()` re-images a spot of the surface with a random pose and random optical/sensor distortions,
fully determined by (seed, item index, capture index).

Surface families: leather, fabric, metal, paper, plastic (procedural) and real (crops of real texture
photos shipped by python3-skimage, non-overlapping tiles, each tile in one of 8 dihedral poses).
"""
from __future__ import annotations

import io
import math

import numpy as np
from scipy import ndimage as ndi

BASE = 448          # side of a generated surface, in surface pixels
FOV = 256           # side of the nominal field of view, in surface pixels
FAMILIES = ["leather", "fabric", "metal", "paper", "plastic", "real"]

# Capture distortion ranges: "spec" matches the product brief, "harsh" exceeds it.
PROFILES = {
    "spec": dict(offset=0.05, rot=10.0, scale=0.05, blur=(0.0, 1.6), noise=(0.005, 0.03),
                 illum=0.35, vignette=0.35, jpeg=(55, 95), gamma=(0.8, 1.25)),
    "harsh": dict(offset=0.08, rot=12.0, scale=0.06, blur=(0.3, 2.4), noise=(0.01, 0.05),
                  illum=0.5, vignette=0.5, jpeg=(40, 90), gamma=(0.7, 1.4)),
}


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in key])


def _norm(a: np.ndarray) -> np.ndarray:
    a = a - a.mean()
    return a / (a.std() + 1e-9)


def _noise(rng, sigma, shape=(BASE, BASE)):
    return ndi.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")


def leather(rng):
    # Grain cells (Voronoi creases) + pores + fine relief.
    n = rng.integers(250, 450)
    pts = rng.integers(0, BASE, size=(n, 2))
    seeds = np.ones((BASE, BASE), bool)
    seeds[pts[:, 0], pts[:, 1]] = False
    dist, idx = ndi.distance_transform_edt(seeds, return_indices=True)
    lab = idx[0] * BASE + idx[1]
    edge = (ndi.maximum_filter(lab, 3) != ndi.minimum_filter(lab, 3)).astype(float)
    crease = ndi.gaussian_filter(edge, 1.5)
    cells = np.sqrt(dist)
    pores = (rng.random((BASE, BASE)) < 0.004).astype(float)
    pores = ndi.gaussian_filter(pores, 1.2)
    img = 0.6 * _norm(cells) - 1.0 * _norm(crease) - 0.5 * _norm(pores) + 0.4 * _norm(_noise(rng, 1.0))
    return img


def fabric(rng):
    # Plain weave: periodic over/under threads with irregular thread paths, widths and fibre noise.
    period = rng.uniform(14, 24)
    y, x = np.mgrid[0:BASE, 0:BASE].astype(float)
    wy = 3.0 * _noise(rng, 12) / (np.abs(_noise(rng, 12)).mean() + 1e-9) * 0.3
    wx = 3.0 * _noise(rng, 12) / (np.abs(_noise(rng, 12)).mean() + 1e-9) * 0.3
    ph = 2 * math.pi / period
    warp = np.cos(ph * (x + wx))
    weft = np.cos(ph * (y + wy))
    over = np.sign(np.sin(ph * (x + wx) / 2) * np.sin(ph * (y + wy) / 2))
    thread = np.where(over > 0, np.abs(warp), np.abs(weft))
    fib_v = ndi.gaussian_filter(rng.standard_normal((BASE, BASE)), (6, 0.7))
    fib_h = ndi.gaussian_filter(rng.standard_normal((BASE, BASE)), (0.7, 6))
    fibre = np.where(over > 0, fib_v, fib_h)
    slub = _noise(rng, 20)
    return _norm(thread) + 0.8 * _norm(fibre) + 0.3 * _norm(slub)


def metal(rng):
    # Brushed metal: streaks along a random direction + random scratches + pits.
    ang = rng.uniform(0, 180)
    raw = rng.standard_normal((BASE + 128, BASE + 128))
    streak = ndi.gaussian_filter(raw, (0.8, 18))
    streak = ndi.rotate(streak, ang, reshape=False, order=1, mode="wrap")[64:-64, 64:-64]
    scr = np.zeros((BASE, BASE))
    for _ in range(rng.integers(15, 40)):
        a = math.radians(rng.uniform(0, 180))
        x0, y0 = rng.uniform(0, BASE, 2)
        ln = rng.uniform(30, 250)
        t = np.linspace(-ln / 2, ln / 2, int(ln * 2))
        xs = np.clip((x0 + t * math.cos(a)).astype(int), 0, BASE - 1)
        ys = np.clip((y0 + t * math.sin(a)).astype(int), 0, BASE - 1)
        scr[ys, xs] += rng.uniform(0.5, 1.5)
    scr = ndi.gaussian_filter(scr, 0.8)
    pits = ndi.gaussian_filter((rng.random((BASE, BASE)) < 0.002).astype(float), 1.0)
    return _norm(streak) + 0.8 * _norm(scr) - 0.5 * _norm(pits) + 0.2 * _norm(_noise(rng, 0.7))


def paper(rng):
    # Paper: many short curved fibres + formation (flocculation) mottle.
    img = np.zeros((BASE, BASE))
    n = rng.integers(500, 900)
    for _ in range(n):
        x, y = rng.uniform(0, BASE, 2)
        a = rng.uniform(0, 2 * math.pi)
        curv = rng.normal(0, 0.05)
        w = rng.uniform(0.3, 1.0)
        for _ in range(int(rng.uniform(15, 60))):
            xi, yi = int(x) % BASE, int(y) % BASE
            img[yi, xi] += w
            x += math.cos(a)
            y += math.sin(a)
            a += curv
    fib = ndi.gaussian_filter(img, 0.9, mode="wrap")
    floc = _noise(rng, 10)
    return _norm(fib) + 0.7 * _norm(floc) + 0.25 * _norm(_noise(rng, 0.8))


def plastic(rng):
    # Printed plastic: halftone dot screen with random ink spread + moulded grain.
    pitch = rng.uniform(9, 16)
    ang = math.radians(rng.uniform(0, 90))
    y, x = np.mgrid[0:BASE, 0:BASE].astype(float)
    u = (x * math.cos(ang) + y * math.sin(ang)) / pitch
    v = (-x * math.sin(ang) + y * math.cos(ang)) / pitch
    tone = 0.5 + 0.35 * np.tanh(_norm(_noise(rng, 25)))
    du, dv = u - np.round(u), v - np.round(v)
    spread = 1.0 + 0.35 * _noise(rng, 1.5) / 0.1
    r = np.sqrt(du ** 2 + dv ** 2) * spread
    dots = 1.0 / (1.0 + np.exp((r - 0.55 * np.sqrt(tone)) * 18))
    grain = _noise(rng, 1.2)
    return -_norm(dots) + 0.7 * _norm(grain) + 0.3 * _norm(_noise(rng, 4))


_REAL_CACHE: list[np.ndarray] | None = None


def _real_photos() -> list[np.ndarray]:
    global _REAL_CACHE
    if _REAL_CACHE is None:
        try:
            from skimage import data as skd  # python3-skimage ships these real photographs
            _REAL_CACHE = [getattr(skd, n)().astype(float) for n in ("brick", "grass", "gravel")]
        except Exception:
            _REAL_CACHE = []
    return _REAL_CACHE


REAL_TILE = 170  # source tile side in photo pixels: 3x3 non-overlapping tiles per photo => distinct items


# The skimage photos contain cloned regions (found by this matcher: tiles scoring 30..115 inliers against another
# tile of the same photo). Such tiles are left out so that no two items share content.
CLONED_TILES = {(1, 4), (1, 5), (1, 7), (2, 5)}  # (photo index in brick/grass/gravel, tile = row*3+col)


def real_tiles() -> list[tuple[int, int]]:
    per = (512 // REAL_TILE) ** 2
    return [(p, t) for p in range(len(_real_photos())) for t in range(per) if (p, t) not in CLONED_TILES]


def real(rng, item: int):
    photos = _real_photos()
    if not photos:
        return leather(rng)
    tiles = real_tiles()
    k = item % (len(tiles) * 8)  # surface() never asks beyond the pool: a reused tile would be a duplicate item
    (ph, tile), pose = tiles[k // 8], k % 8
    ty, tx = divmod(tile, 512 // REAL_TILE)
    # Only the tile itself (no context, no padding) so that no two items share any photographed content.
    crop = photos[ph][ty * REAL_TILE:(ty + 1) * REAL_TILE, tx * REAL_TILE:(tx + 1) * REAL_TILE]
    if pose & 1:
        crop = crop[:, ::-1]
    crop = np.rot90(crop, pose >> 1)
    z = BASE / crop.shape[0]
    out = ndi.zoom(crop, z, order=3)[:BASE, :BASE]
    return _norm(out)


def surface(seed: int, item: int, family: str | None = None) -> tuple[str, np.ndarray]:
    """Returns (family, surface height/albedo map BASE x BASE, zero-mean unit-std)."""
    rng = _rng(seed, item, 0xF00D)
    if family is None:
        family = FAMILIES[item % len(FAMILIES)]
    if family == "real":
        pool = len(real_tiles()) * 8 or 1
        if item // len(FAMILIES) >= pool:
            # The photographed pool is used up: reusing a tile would make two "distinct" items the same surface (a
            # trace could not tell them apart), so later items of this slot are procedural, of a rotating family.
            family = FAMILIES[(item // len(FAMILIES)) % (len(FAMILIES) - 1)]
    if family == "real":
        img = real(rng, int(_rng(seed, 0xBEEF).permutation(pool)[item // len(FAMILIES)]))
    else:
        img = {"leather": leather, "fabric": fabric, "metal": metal, "paper": paper, "plastic": plastic}[family](rng)
    return family, _norm(img).astype(np.float32)


def capture(surf: np.ndarray, seed: int, item: int, cap: int, profile: str = "spec",
            size: int | None = None, colour: bool | None = None) -> np.ndarray:
    """Re-images the nominal FOV of `surf` with random pose + distortions; returns uint8 HxW or HxWx3."""
    p = PROFILES[profile]
    rng = _rng(seed, item, cap, 0xCAFE)
    if size is None:
        size = int(rng.choice([256, 320, 384, 512, 640, 768, 1024]))
    if colour is None:
        colour = bool(rng.random() < 0.5)
    rot = math.radians(rng.uniform(-p["rot"], p["rot"]))
    sc = 1.0 + rng.uniform(-p["scale"], p["scale"])
    off = rng.uniform(-p["offset"], p["offset"], 2) * FOV
    # output pixel (r, c) -> surface coordinate; FOV side = FOV/sc surface px mapped onto `size` px.
    k = (FOV / sc) / size
    ca, sa = math.cos(rot), math.sin(rot)
    m = k * np.array([[ca, -sa], [sa, ca]])
    centre_out = np.array([(size - 1) / 2, (size - 1) / 2])
    centre_src = np.array([BASE / 2 + off[0], BASE / 2 + off[1]])
    offset = centre_src - m @ centre_out
    src = surf
    if k < 1.0:
        src = ndi.gaussian_filter(surf, 0.0)  # upsampling: no anti-alias needed
    else:
        src = ndi.gaussian_filter(surf, 0.5 * (k - 1) + 1e-3)
    img = ndi.affine_transform(src, m, offset=offset, output_shape=(size, size), order=3, mode="reflect")
    # Optics: defocus blur (in output pixels, scaled with resolution).
    blur = rng.uniform(*p["blur"]) * size / 256
    if blur > 0.05:
        img = ndi.gaussian_filter(img, blur)
    # Surface contrast -> reflectance.
    refl = 0.5 + 0.16 * img
    yy, xx = (np.mgrid[0:size, 0:size] / (size - 1) - 0.5)
    ga, gb = rng.uniform(-1, 1, 2) * p["illum"]
    illum = 1.0 + ga * xx + gb * yy
    vr = rng.uniform(0.3, 1.0) * p["vignette"]
    cx, cy = rng.uniform(-0.15, 0.15, 2)
    illum = illum * (1.0 - vr * ((xx - cx) ** 2 + (yy - cy) ** 2) * 2.0)
    gain = rng.uniform(0.6, 1.3)
    lin = np.clip(refl * illum * gain, 0, None)
    if colour:
        tint = rng.uniform(0.7, 1.15, 3)
        lin = lin[..., None] * tint[None, None, :]
    sigma = rng.uniform(*p["noise"])
    lin = lin + rng.standard_normal(lin.shape) * sigma * np.sqrt(np.maximum(lin, 0.02))
    g = rng.uniform(*p["gamma"])
    out = np.clip(np.clip(lin, 0, 1) ** (1 / g) * 255 + 0.5, 0, 255).astype(np.uint8)
    return out


def encode(img: np.ndarray, fmt: str, quality: int) -> bytes:
    from PIL import Image
    bio = io.BytesIO()
    im = Image.fromarray(img)
    if fmt == "jpg":
        im.save(bio, format="JPEG", quality=int(quality))
    else:
        im.save(bio, format="PNG", optimize=False)
    return bio.getvalue()
