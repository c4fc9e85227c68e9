#!/usr/bin/env python3
"""Reference (numpy/scipy) implementation of the surface-fingerprint matcher.

Pipeline: decode -> gray -> area-resize to 256x256 -> quality gate -> embedding model (same maths as
fingerprint.onnx built by build_model.py) -> keypoints + local descriptors (the fingerprint record)
-> 1:1 compare = mutual-nearest-neighbour matching + exhaustive 2-point similarity RANSAC inlier count.

Everything the C# port needs is specified by the constants in CONFIG (also written to fingerprint.json)
and the functions below; see docs/fingerprinting-research.md.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

CONFIG = dict(
    input_size=256,          # normalised capture side (px)
    variant="raw128",        # lcn256 | raw256 | raw128 (see embed); raw128 chosen (fastest, best)
    buckets=4,               # keypoints: top max_keypoints/(buckets^2) per block of a buckets x buckets grid
    fine_kernel="binomial3x3",  # fine smoothing: [1,2,1]x[1,2,1]/16 with reflect padding
    coarse_pool=4,           # coarse (illumination/variance) maps: AvgPool 4 -> 64x64, Gaussian, bilinear x4 up
    coarse_sigma=1.5,        # Gaussian sigma at 64x64 (about 6 px at 256)
    lcn_eps=1e-4,            # l = b / sqrt(coarse(b^2) + eps)
    det_sigma1=1.0,          # detector at 128x128 (AvgPool 2 of l): response = (G(s1) - G(s2))^2
    det_sigma2=1.6,
    n_orient=8,              # oriented gradient channels: relu(cos(k*45deg)*gx + sin(k*45deg)*gy)
    stride=2,                # cells/response maps are 128x128 (stride 2)
    desc_grid=4,             # descriptor = desc_grid x desc_grid cells x n_orient
    desc_spacing=2,          # cell spacing in map units (stride-2 pixels) => 4 px at 256
    nms_radius=2,            # NMS window (2r+1)^2 in map units
    max_keypoints=256,
    ransac_top=40,           # hypotheses = all pairs among the best `ransac_top` matches
    inlier_tol=3.0,          # px at 256
    max_rot_deg=20.0,
    scale_range=(0.85, 1.18),
    min_pair_dist=12.0,      # px: hypothesis pairs closer than this are unstable
    enrol_rotations=(-14.0, 0.0, 14.0),  # gallery records hold descriptors steered to these angles (deg)
)


# Quality gate on the normalised 256x256 image (see quality()); reject the capture when any limit fails.
QUALITY_GATE = dict(
    focus_min=0.003,       # var(Laplacian) / var(image); sharp captures 0.03..0.3 (material dependent), 3 px blur ~0.001..0.01
    mean_min=0.08, mean_max=0.92,   # exposure
    contrast_min=0.02,     # std of the image
    clipped_max=0.10,      # fraction of pixels at 0 or 255 (0.05 rejected 0.4% of good dev captures)
)


def passes_gate(q: dict, gate: dict = QUALITY_GATE) -> bool:
    return (q["focus"] >= gate["focus_min"] and gate["mean_min"] <= q["mean"] <= gate["mean_max"]
            and q["contrast"] >= gate["contrast_min"] and q["clipped"] <= gate["clipped_max"])


# ---------------------------------------------------------------- decode / normalise / quality
def to_gray(img: np.ndarray) -> np.ndarray:
    img = img.astype(np.float32) / 255.0
    if img.ndim == 3:
        img = img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114
    return img.astype(np.float32)


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Exact area-averaging resample matrix [n_out, n_in] (output pixel = mean of its input footprint)."""
    m = np.zeros((n_out, n_in), np.float64)
    s = n_in / n_out
    for o in range(n_out):
        a, b = o * s, (o + 1) * s
        i0, i1 = int(math.floor(a)), int(math.ceil(b))
        for i in range(i0, min(i1, n_in)):
            w = min(b, i + 1) - max(a, i)
            if w > 0:
                m[o, i] = w / s
    return m


def _interp_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Bilinear upsampling matrix (align_corners=False, edge clamped)."""
    m = np.zeros((n_out, n_in), np.float64)
    s = n_in / n_out
    for o in range(n_out):
        x = (o + 0.5) * s - 0.5
        x0 = int(math.floor(x))
        f = x - x0
        m[o, min(max(x0, 0), n_in - 1)] += 1 - f
        m[o, min(max(x0 + 1, 0), n_in - 1)] += f
    return m


def normalise(gray: np.ndarray, size: int = CONFIG["input_size"]) -> np.ndarray:
    """Centre-crop to square, then resize to size x size (area average when shrinking, bilinear otherwise)."""
    h, w = gray.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    g = gray[y0:y0 + s, x0:x0 + s].astype(np.float64)
    m = _area_matrix(s, size) if s >= size else _interp_matrix(s, size)
    return (m @ g @ m.T).astype(np.float32)


def quality(img256: np.ndarray) -> dict:
    """Quality-gate measures on the normalised 256x256 image in [0,1]."""
    lap = (img256[:-2, 1:-1] + img256[2:, 1:-1] + img256[1:-1, :-2] + img256[1:-1, 2:] - 4 * img256[1:-1, 1:-1])
    mean = float(img256.mean())
    return dict(
        focus=float(lap.var() / max(img256.var(), 1e-6)),   # contrast-normalised variance of Laplacian
        mean=mean,
        contrast=float(img256.std()),
        clipped=float(((img256 <= 1 / 255) | (img256 >= 254 / 255)).mean()),
    )


# ---------------------------------------------------------------- embedding model (ONNX twin)
def gauss_kernel(sigma: float) -> np.ndarray:
    r = int(math.ceil(3 * sigma))
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian with reflect padding (= ONNX Pad mode=reflect + Conv), over the last two axes."""
    k = gauss_kernel(sigma)
    y = ndi.correlate1d(x, k, axis=-1, mode="mirror")
    return ndi.correlate1d(y, k, axis=-2, mode="mirror")


def orient_kernels(n: int) -> np.ndarray:
    """[n,1,3,3] directional derivative kernels (central differences)."""
    ks = np.zeros((n, 1, 3, 3), np.float32)
    for k in range(n):
        a = 2 * math.pi * k / n
        ks[k, 0, 1, 2] += 0.5 * math.cos(a)
        ks[k, 0, 1, 0] -= 0.5 * math.cos(a)
        ks[k, 0, 2, 1] += 0.5 * math.sin(a)
        ks[k, 0, 0, 1] -= 0.5 * math.sin(a)
    return ks


def pool(x: np.ndarray, k: int) -> np.ndarray:
    """AveragePool k x k, stride k over the last two axes."""
    *lead, h, w = x.shape
    return x.reshape(*lead, h // k, k, w // k, k).mean(axis=(-3, -1))


def upsample(x: np.ndarray, k: int) -> np.ndarray:
    """ONNX Resize linear, half_pixel, scale k (edge clamped) over the last two axes."""
    h, w = x.shape[-2:]
    mh, mw = _interp_matrix(h, h * k).astype(np.float32), _interp_matrix(w, w * k).astype(np.float32)
    return np.matmul(np.matmul(mh, x), mw.T)


def conv3x3(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """x [N,H,W] reflect-padded by 1, correlated with k [C,3,3] -> [N,C,H,W]."""
    n, h, w = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    out = np.zeros((n, k.shape[0], h, w), np.float32)
    for c in range(k.shape[0]):
        for dy in range(3):
            for dx in range(3):
                if k[c, dy, dx] != 0:
                    out[:, c] += k[c, dy, dx] * xp[:, dy:dy + h, dx:dx + w]
    return out


BINOMIAL = (np.outer([1, 2, 1], [1, 2, 1]) / 16.0).astype(np.float32)


def _cells(o: np.ndarray) -> np.ndarray:
    """2x2 box (stride 1) with edge padding at the end: cell = 4x4 px at 256."""
    op = np.pad(o, ((0, 0), (0, 0), (0, 1), (0, 1)), mode="edge")
    return (op[:, :, :-1, :-1] + op[:, :, 1:, :-1] + op[:, :, :-1, 1:] + op[:, :, 1:, 1:]) * np.float32(0.25)


def embed(batch: np.ndarray, cfg: dict = CONFIG) -> tuple[np.ndarray, np.ndarray]:
    """batch [N,256,256] in [0,1] -> (cells [N,8,128,128], response [N,128,128]).

    lcn256: band-pass + local contrast normalisation at 256, oriented gradients at 256 (most ops; slowest).
    raw256: oriented gradients of the binomial-smoothed input at 256; detector DoG on the 2x2-pooled input.
    raw128: everything on the 2x2-pooled input (128x128): ~4x cheaper.
    Illumination: gradients ignore smooth offsets, descriptors are L1-normalised (gain), and keypoints are
    bucketed (uneven contrast cannot starve a region of keypoints).
    """
    x = batch.astype(np.float32)
    st = cfg["stride"]
    ok = orient_kernels(cfg["n_orient"])[:, 0]
    if cfg["variant"] == "lcn256":
        cp, cs = cfg["coarse_pool"], cfg["coarse_sigma"]
        fine = conv3x3(x, BINOMIAL[None])[:, 0]
        b = fine - upsample(blur(pool(x, cp), cs), cp)
        l = b / np.sqrt(upsample(blur(pool(b * b, cp), cs), cp) + np.float32(cfg["lcn_eps"]))
        lh = pool(l, st)
        o = pool(np.maximum(conv3x3(l, ok), 0), st)
    elif cfg["variant"] == "raw256":
        lh = pool(x, st)
        o = pool(np.maximum(conv3x3(conv3x3(x, BINOMIAL[None])[:, 0], ok), 0), st)
    else:
        lh = pool(x, st)
        o = np.maximum(conv3x3(conv3x3(lh, BINOMIAL[None])[:, 0], ok), 0)
    d = blur(lh, cfg["det_sigma1"]) - blur(lh, cfg["det_sigma2"])
    return _cells(o).astype(np.float32), (d * d).astype(np.float32)


# ---------------------------------------------------------------- fingerprint record
def keypoints(resp: np.ndarray, cfg: dict = CONFIG) -> np.ndarray:
    """Local maxima of the response (NMS (2r+1)^2), away from the border; per bucket (grid of buckets x buckets
    blocks) the strongest max_keypoints/buckets^2, ties broken by (y, x). -> [K,2] (y,x) map units."""
    r = cfg["nms_radius"]
    border = (cfg["desc_grid"] // 2) * cfg["desc_spacing"] + 2
    mx = ndi.maximum_filter(resp, size=2 * r + 1, mode="constant", cval=-1)
    peak = (resp == mx)
    peak[:border] = False
    peak[-border:] = False
    peak[:, :border] = False
    peak[:, -border:] = False
    ys, xs = np.nonzero(peak)
    v = resp[ys, xs]
    nb = cfg["buckets"]
    h, w = resp.shape
    bid = (ys * nb // h) * nb + (xs * nb // w)
    per = cfg["max_keypoints"] // (nb * nb)
    order = np.lexsort((xs, ys, -v, bid))
    out = []
    for k in range(nb * nb):
        sel = order[bid[order] == k][:per]
        out.append(sel)
    sel = np.concatenate(out)
    return np.stack([ys[sel], xs[sel]], 1)


def descriptors(cells: np.ndarray, kps: np.ndarray, cfg: dict = CONFIG, angle_deg: float = 0.0) -> np.ndarray:
    """cells [8,H,W], kps [K,2] (y,x) -> [K, grid*grid*8] RootSIFT descriptors (unit L2).

    angle_deg steers the descriptor: the cell grid is sampled rotated by the angle (bilinear) and the orientation
    channels are re-indexed by angle/45deg (linear interpolation between neighbouring channels), so a capture
    rotated by +angle relative to another yields descriptors comparable with the other's upright ones."""
    g, s = cfg["desc_grid"], cfg["desc_spacing"]
    n_or = cells.shape[0]
    h, w = cells.shape[1:]
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    shift = angle_deg / (360.0 / n_or)
    i0 = int(math.floor(shift))
    f = shift - i0
    chan = [((k + i0) % n_or, (k + i0 + 1) % n_or) for k in range(n_or)]
    offs = (np.arange(g) - (g - 1) / 2) * s  # e.g. -3,-1,1,3
    feats = []
    for oy in offs:
        for ox in offs:
            y = kps[:, 0] + (sa * ox + ca * oy)
            x = kps[:, 1] + (ca * ox - sa * oy)
            y = np.clip(y, 0, h - 1.001)
            x = np.clip(x, 0, w - 1.001)
            y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
            fy, fx = (y - y0)[None], (x - x0)[None]
            v = (cells[:, y0, x0] * (1 - fy) * (1 - fx) + cells[:, y0 + 1, x0] * fy * (1 - fx)
                 + cells[:, y0, x0 + 1] * (1 - fy) * fx + cells[:, y0 + 1, x0 + 1] * fy * fx)
            if angle_deg != 0.0:
                v = np.stack([(1 - f) * v[c0] + f * v[c1] for c0, c1 in chan])
            feats.append(v.T)
    d = np.concatenate(feats, 1)
    d = np.maximum(d, 0)
    d = np.sqrt(d / (d.sum(1, keepdims=True) + 1e-9))  # RootSIFT: L1 normalise then sqrt => unit L2
    return d.astype(np.float32)


def fingerprint(img256: np.ndarray, cells=None, resp=None, cfg: dict = CONFIG) -> dict:
    if cells is None:
        cells, resp = embed(img256[None], cfg)
        cells, resp = cells[0], resp[0]
    k = keypoints(resp, cfg)
    d = descriptors(cells, k, cfg)
    pts = (k.astype(np.float32) * cfg["stride"] + (cfg["stride"] - 1) / 2)[:, ::-1].copy()  # (x,y) px at 256
    rots = [descriptors(cells, k, cfg, r) if r != 0 else d for r in cfg["enrol_rotations"]]
    return dict(pts=pts, desc=d, desc_rot=rots)


# ---------------------------------------------------------------- 1:1 compare
_PAIR_CACHE: dict = {}


def _pairs(t: int):
    if t not in _PAIR_CACHE:
        i, j = np.triu_indices(t, 1)
        _PAIR_CACHE[t] = (i, j)
    return _PAIR_CACHE[t]


def compare(a: dict, b: dict, cfg: dict = CONFIG) -> float:
    """Probe a (upright descriptors) vs enrolled b: max over b's steered descriptor sets of compare_one."""
    sets = b.get("desc_rot") or [b["desc"]]
    return max(compare_one(a, dict(pts=b["pts"], desc=d), cfg) for d in sets)


def code_similarity(probe: np.ndarray, enrolled: np.ndarray) -> np.ndarray:
    """Descriptor similarities as the C# matcher computes them, on integer codes: the enrolled side as the record
    stores it (round(v * 255), 0..255), each probe row as signed codes round(v * 127 / max|v|) with the factor
    max|v| / (127 * 255) that turns the exact integer dot product back into a similarity (float32 throughout)."""
    enrolled_codes = np.clip(np.round(enrolled.astype(np.float32) * np.float32(255)), 0, 255).astype(np.int32)
    probe = probe.astype(np.float32)
    largest = np.abs(probe).max(1) if len(probe) else np.zeros(0, np.float32)
    live = (largest > 0) & np.isfinite(largest)
    to_code = np.where(live, np.float32(127) / np.where(live, largest, np.float32(1)), np.float32(0)).astype(np.float32)
    probe_codes = np.clip(np.round(probe * to_code[:, None]), -127, 127).astype(np.int32)
    scale = np.where(live, largest / np.float32(127 * 255), np.float32(0)).astype(np.float32)
    return (probe_codes @ enrolled_codes.T).astype(np.float32) * scale[:, None]


def compare_one(a: dict, b: dict, cfg: dict = CONFIG) -> float:
    """Score = RANSAC similarity inlier count among mutual nearest-neighbour matches (higher = same spot)."""
    if len(a["desc"]) < 2 or len(b["desc"]) < 2:
        return 0.0
    sim = code_similarity(a["desc"], b["desc"])
    j = sim.argmax(1)
    i = sim.argmax(0)
    ia = np.nonzero(i[j] == np.arange(len(j)))[0]
    jb = j[ia]
    if len(ia) < 2:
        return 0.0
    s = sim[ia, jb]
    order = np.argsort(-s, kind="stable")
    ia, jb = ia[order], jb[order]
    pa, pb = a["pts"][ia].astype(np.float64), b["pts"][jb].astype(np.float64)
    t = min(cfg["ransac_top"], len(ia))
    hi, hj = _pairs(t)
    # similarity b = s*R*a + t, as complex numbers: zb = q*za + c
    za = pa[:, 0] + 1j * pa[:, 1]
    zb = pb[:, 0] + 1j * pb[:, 1]
    da = za[hj] - za[hi]
    db = zb[hj] - zb[hi]
    ok = np.abs(da) >= cfg["min_pair_dist"]
    q = np.where(ok, db / np.where(ok, da, 1), 0)
    sc = np.abs(q)
    rot = np.degrees(np.abs(np.angle(q)))
    ok &= (sc >= cfg["scale_range"][0]) & (sc <= cfg["scale_range"][1]) & (rot <= cfg["max_rot_deg"])
    if not ok.any():
        return 0.0
    q = q[ok]
    c = zb[hi[ok]] - q * za[hi[ok]]
    res = np.abs(q[:, None] * za[None, :] + c[:, None] - zb[None, :])
    inl = (res <= cfg["inlier_tol"]).sum(1)
    return float(inl.max())


# ---------------------------------------------------------------- global vector (FAISS pre-filter)
def vlad(desc: np.ndarray, codebook: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """VLAD: per-centre sum of residuals (hard assignment by max dot product), signed sqrt, per-centre L2
    (intra-normalisation), flatten, minus the training mean, L2. -> [C*D] float32, unit norm (inner product = cosine)."""
    c, dim = codebook.shape
    if len(desc) == 0:
        return np.zeros(c * dim, np.float32)
    assign = (desc @ codebook.T).argmax(1)
    v = np.zeros((c, dim), np.float64)
    np.add.at(v, assign, desc - codebook[assign])
    v = np.sign(v) * np.sqrt(np.abs(v))
    v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-12
    v = v.reshape(-1)
    if mean is not None:
        v = v - mean
    return (v / (np.linalg.norm(v) + 1e-12)).astype(np.float32)


def kmeans(x: np.ndarray, k: int, iters: int = 25, seed: int = 7) -> np.ndarray:
    """Spherical k-means (deterministic init from a seeded permutation)."""
    rng = np.random.default_rng(seed)
    c = x[rng.permutation(len(x))[:k]].astype(np.float64)
    for _ in range(iters):
        a = (x @ c.T).argmax(1)
        for j in range(k):
            m = x[a == j]
            if len(m):
                c[j] = m.mean(0)
        c /= np.linalg.norm(c, axis=1, keepdims=True) + 1e-12
    return c.astype(np.float32)
