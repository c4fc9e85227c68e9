#!/usr/bin/env python3
"""Writes a fingerprint development set from REAL photographs that Debian packages ship (not simulator surfaces).

    /usr/bin/python3 models/fingerprint/make_real_devset.py --out DIR [--items N] [--unregistered U]
        [--probes-per-item P] [--profile spec|harsh] [--seed S] [--keep-self-similar] [--spot 72]

Needs Debian's python3-numpy, python3-scipy, python3-pil, python3-skimage; photographs also come from
mate-backgrounds (/usr/share/backgrounds/mate/nature) and lxqt-themes (/usr/share/lxqt/wallpapers) when installed
(`apt-get install mate-backgrounds lxqt-themes`); missing files are skipped and the sources used are listed in
DIR/sources.csv.

How a set is made (deterministic per --seed):
* Every photograph is converted to float RGB in [0,1]; photographs wider than 1,600 px are area-reduced to 1,600 so a
  72-px spot holds texture, not the soft pixels of a 5,000-px wallpaper.
* Spots: `--spot` px squares (default 72, as in issue 18) on a grid, ranked by texture (std of the band-pass
  G(0.8) - G(3) of the gray photo); the richest spots are taken greedily with centres >= 1.6 spots apart, so two items
  never share texture even after offset and rotation.
* Self-similarity: each chosen spot's band-passed texture is correlated (normalised cross-correlation) with the rest
  of the same photograph, its own neighbourhood (<= 0.75 spot) excluded. Spots whose best match elsewhere exceeds
  --ncc-max (0.5) repeat in the photo (brick walls, tiles, cloned regions) and are dropped, or kept and labelled
  `self_similar=1` with --keep-self-similar. `ncc_max` is written for every item (items.csv).
* Captures: each spot is re-imaged to 256x256 with hand-held-microscope distortions (profile "spec" = issue 18:
  offset, rotation sigma 4 deg, scale sigma 2.5 %, defocus, gain and gamma, vignetting, sensor noise, JPEG 70-95;
  profile "harsh" = larger values of every one, plus motion blur). The gallery capture (registration) is one such
  capture; each probe is another.

Outputs
  DIR/gallery.csv  item_id,image[,labels...]
  DIR/probes.csv   probe_id,image,item_id,d_rotation,d_scale,d_blur,d_exposure,d_noise,d_jpeg,applied,...
                   item_id empty = never registered. d_* are severities relative to the registration capture
                   (|rotation difference| deg, |scale ratio - 1| %, defocus+motion sigma px, |ln gain|+|ln gamma|,
                   noise sigma x 100, 100 - JPEG quality); `applied` names the distortions above a notable level.
                   `Entrupy.Silo eval` breaks failures down by every d_* column.
  DIR/items.csv    item_id,source,x,y,texture,ncc_max,self_similar,registered
  DIR/sources.csv  the photographs used
"""
from __future__ import annotations

import argparse
import csv
import io
import math
import os

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

SIDE = 256
MAX_PHOTO_SIDE = 1600

# Photographs only (no drawings, logos, renders or text pages): the texture must be of a real surface.
SKIMAGE = ["astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel", "hubble_deep_field",
           "moon", "motorcycle_left", "rocket", "retina", "immunohistochemistry"]
SCIPY = ["face", "ascent"]
FILES = [
    "/usr/share/backgrounds/mate/nature/Aqua.jpg", "/usr/share/backgrounds/mate/nature/Blinds.jpg",
    "/usr/share/backgrounds/mate/nature/Dune.jpg", "/usr/share/backgrounds/mate/nature/FreshFlower.jpg",
    "/usr/share/backgrounds/mate/nature/Garden.jpg", "/usr/share/backgrounds/mate/nature/GreenMeadow.jpg",
    "/usr/share/backgrounds/mate/nature/LadyBird.jpg", "/usr/share/backgrounds/mate/nature/RainDrops.jpg",
    "/usr/share/backgrounds/mate/nature/Storm.jpg", "/usr/share/backgrounds/mate/nature/TwoWings.jpg",
    "/usr/share/backgrounds/mate/nature/Wood.jpg", "/usr/share/backgrounds/mate/nature/YellowFlower.jpg",
    "/usr/share/lxqt/wallpapers/Butterfly-Kenneth-Wimer.jpg", "/usr/share/lxqt/wallpapers/after-the-rain.jpg",
    "/usr/share/lxqt/wallpapers/fog.jpg",
]

PROFILES = {
    # issue 18's capture model
    "spec": dict(offset=0.05, rot=4.0, scale=0.025, blur=(0.0, 1.2), motion=(0.0, 0.0), gain=(0.7, 1.3),
                 gamma=(0.8, 1.25), vignette=(0.0, 0.35), noise=(0.005, 0.03), jpeg=(70, 95)),
    # harsher: wider pose, more defocus, some motion blur, darker/brighter, more noise, lower JPEG quality
    "harsh": dict(offset=0.08, rot=8.0, scale=0.05, blur=(0.3, 2.2), motion=(0.0, 4.0), gain=(0.45, 1.6),
                  gamma=(0.65, 1.5), vignette=(0.1, 0.6), noise=(0.01, 0.06), jpeg=(50, 90)),
}


def load_sources():
    out = []
    try:
        import skimage.data as sd
        for name in SKIMAGE:
            try:
                out.append((f"skimage:{name}", getattr(sd, name)()))
            except Exception:  # noqa: BLE001 - a missing sample image is skipped, the set says which were used
                pass
    except ImportError:
        pass
    try:
        from scipy import misc  # scipy.datasets would need pooch and a download; misc ships the files (scipy < 1.12)
        for name in SCIPY:
            try:
                out.append((f"scipy:{name}", getattr(misc, name)()))
            except Exception:  # noqa: BLE001
                pass
    except ImportError:
        pass
    for path in FILES:
        if os.path.exists(path):
            out.append((f"file:{path}", np.asarray(Image.open(path).convert("RGB"))))
    result = []
    for name, img in out:
        img = np.asarray(img)
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[..., :3]
        if img.dtype != np.uint8:
            img = (255 * (img.astype(np.float64) / max(float(img.max()), 1e-9))).astype(np.uint8)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        h, w = img.shape[:2]
        if max(h, w) > MAX_PHOTO_SIDE:
            f = MAX_PHOTO_SIDE / max(h, w)
            img = np.asarray(Image.fromarray(img).resize((round(w * f), round(h * f)), Image.BOX))
        result.append((name, img.astype(np.float64) / 255.0))
    return result


def gray(rgb):
    return rgb @ np.array([0.299, 0.587, 0.114])


def band(g):
    return ndi.gaussian_filter(g, 0.8) - ndi.gaussian_filter(g, 3.0)


def ncc_elsewhere(bp, cy, cx, spot):
    """Best normalised cross-correlation of the spot's band-pass texture with any other place of the photo."""
    from skimage.feature import match_template
    h = spot // 2
    tpl = bp[cy - h:cy + h, cx - h:cx + h]
    if tpl.std() < 1e-6:
        return 1.0
    r = match_template(bp, tpl)  # r[y, x] = NCC of the window whose top-left is (y, x)
    y0, x0 = cy - h, cx - h
    ex = int(0.75 * spot)
    r[max(0, y0 - ex):y0 + ex + 1, max(0, x0 - ex):x0 + ex + 1] = -1
    return float(r.max())


def pick_spots(rgb, spot, per_photo):
    g = gray(rgb)
    bp = band(g)
    h, w = g.shape
    margin = int(spot * 1.1)  # room for offset, rotation and scale when re-imaging
    step = spot // 3
    var = ndi.uniform_filter(bp * bp, spot) - ndi.uniform_filter(bp, spot) ** 2
    lum = ndi.uniform_filter(g, spot)
    cands = []
    for y in range(margin, h - margin, step):
        for x in range(margin, w - margin, step):
            # Not near-black or near-white regions: a microscope is held on a surface, not on sky or shadow.
            if 0.06 < lum[y, x] < 0.94:
                cands.append((math.sqrt(max(var[y, x], 0)), y, x))
    cands.sort(reverse=True)
    chosen = []
    min_d = 1.6 * spot
    for t, y, x in cands:
        if len(chosen) >= per_photo:
            break
        if t < 0.02:  # featureless: nothing a fingerprint could hold on to
            break
        if all((y - cy) ** 2 + (x - cx) ** 2 >= min_d ** 2 for _, cy, cx in chosen):
            chosen.append((t, y, x))
    return bp, chosen


def capture(rgb, cy, cx, spot, rng, profile, extra_rotation=0.0):
    """Re-images the spot centred at (cy, cx) with random pose and optics; returns (uint8 HxWx3, params)."""
    p = PROFILES[profile]
    rot = rng.normal(0, p["rot"]) + extra_rotation
    sc = 1.0 + rng.normal(0, p["scale"])
    off = rng.uniform(-p["offset"], p["offset"], 2) * spot
    k = spot / (SIDE * sc)  # photo px per output px
    a = math.radians(rot)
    m = k * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    c_out = np.array([(SIDE - 1) / 2, (SIDE - 1) / 2])
    c_src = np.array([cy + off[0], cx + off[1]])
    offset = c_src - m @ c_out
    img = np.stack([ndi.affine_transform(rgb[..., ch], m, offset=offset, output_shape=(SIDE, SIDE), order=3,
                                         mode="reflect") for ch in range(3)], axis=2)
    blur = rng.uniform(*p["blur"])
    if blur > 0.05:
        img = ndi.gaussian_filter(img, (blur, blur, 0))
    motion = rng.uniform(*p["motion"])
    if motion > 0.5:
        ang = rng.uniform(0, 180)
        img = np.stack([ndi.rotate(ndi.uniform_filter1d(ndi.rotate(img[..., ch], ang, reshape=False, mode="reflect"),
                                                         max(1, int(round(2 * motion))), axis=1),
                                   -ang, reshape=False, mode="reflect") for ch in range(3)], axis=2)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / (SIDE - 1) - 0.5
    vig = rng.uniform(*p["vignette"])
    vcy, vcx = rng.uniform(-0.15, 0.15, 2)
    illum = 1.0 - vig * ((xx - vcx) ** 2 + (yy - vcy) ** 2) * 2.0
    gain = math.exp(rng.uniform(math.log(p["gain"][0]), math.log(p["gain"][1])))
    lin = np.clip(img, 0, 1) * illum[..., None] * gain
    noise = rng.uniform(*p["noise"])
    lin = lin + rng.standard_normal(lin.shape) * noise * np.sqrt(np.maximum(lin, 0.02))
    gamma = math.exp(rng.uniform(math.log(p["gamma"][0]), math.log(p["gamma"][1])))
    out = np.clip(np.clip(lin, 0, 1) ** (1 / gamma) * 255 + 0.5, 0, 255).astype(np.uint8)
    q = int(rng.integers(p["jpeg"][0], p["jpeg"][1] + 1))
    return out, dict(rot=rot, scale=sc, offset=float(np.hypot(*off)), blur=blur, motion=motion, gain=gain,
                     gamma=gamma, vignette=vig, noise=noise, jpeg=q)


def unmatchable(rgb, cy, cx, spot, rng, kind):
    """A capture of the spot that no matcher could use: the gate must refuse it (kind = why)."""
    img, pr = capture(rgb, cy, cx, spot, rng, "spec")
    x = img.astype(np.float64) / 255
    if kind == "lens_cap":  # almost no light reaches the sensor: dark noise only
        x = 0.01 + np.abs(rng.standard_normal(x.shape)) * 0.006
    elif kind == "featureless":  # a smooth glossy surface: shading, vignetting and noise, no texture
        yy, xx = np.mgrid[0:SIDE, 0:SIDE] / (SIDE - 1) - 0.5
        base = rng.uniform(0.3, 0.7) * (1 - 0.5 * (xx ** 2 + yy ** 2)) + 0.05 * xx
        x = base[..., None] + rng.standard_normal(x.shape) * 0.01
    elif kind == "motion":  # the microscope moved by 25-40 px during the exposure
        ang = rng.uniform(0, 180)
        length = int(rng.integers(25, 41))
        x = np.stack([ndi.rotate(ndi.uniform_filter1d(ndi.rotate(x[..., ch], ang, reshape=False, mode="reflect"), length,
                                                      axis=1), -ang, reshape=False, mode="reflect") for ch in range(3)], 2)
        x = x + rng.standard_normal(x.shape) * 0.01
    elif kind == "glare":  # specular highlight saturating most of the field
        yy, xx = np.mgrid[0:SIDE, 0:SIDE] / (SIDE - 1) - 0.5
        cy0, cx0 = rng.uniform(-0.2, 0.2, 2)
        r = np.hypot(yy - cy0, xx - cx0)
        x = np.clip(x + np.clip(2.5 * (0.55 - r), 0, None)[..., None] * 2, 0, 1)
    out = np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)
    return out, pr["jpeg"]


UNMATCHABLE = ["lens_cap", "featureless", "motion", "glare"]


def jpeg(img, q):
    bio = io.BytesIO()
    Image.fromarray(img).save(bio, format="JPEG", quality=q)
    return bio.getvalue()


def severities(pr, gp):
    """Distortion severities of probe params `pr` relative to the registration capture's `gp`."""
    d = dict(
        d_rotation=abs(pr["rot"] - gp["rot"]),
        d_scale=abs(pr["scale"] / gp["scale"] - 1) * 100,
        d_blur=math.hypot(pr["blur"], pr["motion"]),
        d_exposure=abs(math.log(pr["gain"])) + abs(math.log(pr["gamma"])),
        d_noise=pr["noise"] * 100,
        d_jpeg=100 - pr["jpeg"],
    )
    # "Notable" levels: about one spec-profile sigma (or the upper part of the spec range).
    notable = dict(d_rotation=6, d_scale=3.5, d_blur=1.0, d_exposure=0.4, d_noise=2.0, d_jpeg=20)
    applied = ";".join(k[2:] for k, v in d.items() if v >= notable[k])
    return {k: round(v, 3) for k, v in d.items()}, applied


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--items", type=int, default=300, help="registered spots (fewer if the photos run out)")
    ap.add_argument("--unregistered", type=int, default=60)
    ap.add_argument("--probes-per-item", type=int, default=2)
    ap.add_argument("--profile", default="spec", choices=sorted(PROFILES))
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--spot", type=int, default=72)
    ap.add_argument("--per-photo", type=int, default=60, help="most spots taken from one photograph")
    ap.add_argument("--ncc-max", type=float, default=0.5)
    ap.add_argument("--keep-self-similar", action="store_true")
    ap.add_argument("--probe-rotation", type=float, default=0.0,
                    help="degrees added to every probe's rotation (the registration capture keeps the profile's)")
    ap.add_argument("--unmatchable", action="store_true",
                    help="probes are captures the gate must refuse (lens cap, featureless, motion blur, glare), "
                         "one of each per registered item; probes.csv gets a `kind` column")
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out, "images"), exist_ok=True)
    rng0 = np.random.default_rng(a.seed)

    sources = load_sources()
    bps, spots = [], []  # candidate spots: (source index, y, x, texture)
    for si, (name, rgb) in enumerate(sources):
        bp, chosen = pick_spots(rgb, a.spot, a.per_photo)
        bps.append(bp)
        spots.extend((si, y, x, t) for t, y, x in chosen)
    # Interleave photographs so a small set still spans many of them (seeded order within each photograph).
    order = rng0.permutation(len(spots))
    by_src = {}
    for i in order:
        by_src.setdefault(spots[i][0], []).append(spots[i])
    interleaved = []
    while any(by_src.values()):
        for k in sorted(by_src):
            if by_src[k]:
                interleaved.append(by_src[k].pop())
    # The self-similarity check is the slow part (one correlation over the photo per spot): only as many as needed.
    need = a.items + a.unregistered
    chosen, dropped = [], 0
    for si, y, x, t in interleaved:
        if len(chosen) >= need:
            break
        ncc = ncc_elsewhere(bps[si], y, x, a.spot)
        if ncc > a.ncc_max and not a.keep_self_similar:
            dropped += 1
            continue
        chosen.append((si, y, x, t, ncc))
    if len(chosen) < need:
        print(f"only {len(chosen)} spots available; using all")
    n_reg = min(a.items, max(0, len(chosen) - a.unregistered))

    with open(os.path.join(a.out, "gallery.csv"), "w", newline="") as gf, \
         open(os.path.join(a.out, "probes.csv"), "w", newline="") as pf, \
         open(os.path.join(a.out, "items.csv"), "w", newline="") as itf:
        gw, pw, iw = csv.writer(gf), csv.writer(pf), csv.writer(itf)
        gw.writerow(["item_id", "image", "rotation", "scale", "blur", "gain", "gamma", "jpeg"])
        pw.writerow(["probe_id", "image", "item_id", "d_rotation", "d_scale", "d_blur", "d_exposure", "d_noise",
                     "d_jpeg", "applied", "rotation", "scale", "offset", "blur", "motion", "gain", "gamma",
                     "vignette", "noise", "jpeg"] + (["kind"] if a.unmatchable else []))
        iw.writerow(["item_id", "source", "x", "y", "texture", "ncc_max", "self_similar", "registered"])
        pid = 0
        for n, (si, y, x, t, ncc) in enumerate(chosen):
            registered = n < n_reg
            iid = f"r{n:05d}"
            rgb = sources[si][1]
            rng = np.random.default_rng([a.seed, n, 0 if a.profile == "spec" else 1])
            iw.writerow([iid, sources[si][0], x, y, round(t, 4), round(ncc, 3), int(ncc > a.ncc_max), int(registered)])
            img, gp = capture(rgb, y, x, a.spot, rng, "spec")  # registration is done with care: spec profile
            if registered:
                fn = f"images/g_{iid}.jpg"
                with open(os.path.join(a.out, fn), "wb") as f:
                    f.write(jpeg(img, gp["jpeg"]))
                gw.writerow([iid, fn, round(gp["rot"], 2), round(gp["scale"], 4), round(gp["blur"], 2),
                             round(gp["gain"], 3), round(gp["gamma"], 3), gp["jpeg"]])
            if a.unmatchable:
                if registered:
                    for kind in UNMATCHABLE:
                        img, q = unmatchable(rgb, y, x, a.spot, rng, kind)
                        fn = f"images/p{pid:06d}.jpg"
                        with open(os.path.join(a.out, fn), "wb") as f:
                            f.write(jpeg(img, q))
                        pw.writerow([f"p{pid:06d}", fn, iid] + [""] * 17 + [kind])
                        pid += 1
                continue
            for c in range(a.probes_per_item):
                img, pr = capture(rgb, y, x, a.spot, rng, a.profile, a.probe_rotation)
                sev, applied = severities(pr, gp)
                fn = f"images/p{pid:06d}.jpg"
                with open(os.path.join(a.out, fn), "wb") as f:
                    f.write(jpeg(img, pr["jpeg"]))
                pw.writerow([f"p{pid:06d}", fn, iid if registered else "", *sev.values(), applied,
                             round(pr["rot"], 2), round(pr["scale"], 4), round(pr["offset"], 2), round(pr["blur"], 2),
                             round(pr["motion"], 2), round(pr["gain"], 3), round(pr["gamma"], 3),
                             round(pr["vignette"], 3), round(pr["noise"], 4), pr["jpeg"]])
                pid += 1
    with open(os.path.join(a.out, "sources.csv"), "w", newline="") as sf:
        w = csv.writer(sf)
        w.writerow(["source", "height", "width", "spots_used"])
        for si, (name, rgb) in enumerate(sources):
            w.writerow([name, rgb.shape[0], rgb.shape[1], sum(1 for s in chosen if s[0] == si)])
    print(f"{len(sources)} photographs, {len(spots)} candidate spots, {dropped} self-similar dropped; "
          f"wrote {n_reg} registered + {len(chosen) - n_reg} unregistered items, {pid} probes ({a.profile})")


if __name__ == "__main__":
    main()
