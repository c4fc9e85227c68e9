#!/usr/bin/env python3
"""Writes a deterministic fingerprint dev set.

    /usr/bin/python3 models/fingerprint/make_dataset.py --items N --probes-per-item P --seed S --out DIR
        [--unregistered U] [--profile spec|harsh] [--gallery-per-item G]

DIR/gallery.csv  item_id,image            (G captures per registered item, capture indices 0..G-1)
DIR/probes.csv   probe_id,image,item_id   (P captures per item, capture indices 100..; item_id empty for the
                                           U never-registered items)
Images are PNG or JPEG (random quality), gray or colour, side 256..1024, all chosen per capture from the seed.
"""
import argparse
import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import surfaces  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, required=True)
    ap.add_argument("--probes-per-item", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--unregistered", type=int, default=0)
    ap.add_argument("--profile", default="spec", choices=sorted(surfaces.PROFILES))
    ap.add_argument("--gallery-per-item", type=int, default=1)
    ap.add_argument("--max-size", type=int, default=1024)
    ap.add_argument("--only-family", default=None, help="(re)write only this family's images; CSVs in full")
    a = ap.parse_args()
    img_dir = os.path.join(a.out, "images")
    os.makedirs(img_dir, exist_ok=True)

    def write(item, cap, name):
        fam = surfaces.FAMILIES[item % len(surfaces.FAMILIES)]
        if a.only_family and fam != a.only_family:
            rng = np.random.default_rng([a.seed, item, cap, 77])
            rng.choice([s for s in (256, 320, 384, 512, 640, 768, 1024) if s <= a.max_size])
            fmt = "jpg" if rng.random() < 0.5 else "png"
            return f"images/{name}.{fmt}", fam
        fam, surf = surf_of(item)
        rng = np.random.default_rng([a.seed, item, cap, 77])
        size = int(rng.choice([s for s in (256, 320, 384, 512, 640, 768, 1024) if s <= a.max_size]))
        img = surfaces.capture(surf, a.seed, item, cap, a.profile, size=size)
        fmt = "jpg" if rng.random() < 0.5 else "png"
        data = surfaces.encode(img, fmt, rng.integers(*surfaces.PROFILES[a.profile]["jpeg"]))
        fn = f"{name}.{fmt}"
        with open(os.path.join(img_dir, fn), "wb") as f:
            f.write(data)
        return "images/" + fn, fam

    cache = {}
    def surf_of(item):
        if item not in cache:
            cache.clear()
            cache[item] = surfaces.surface(a.seed, item)
        return cache[item]

    fams = {}
    with open(os.path.join(a.out, "gallery.csv"), "w", newline="") as g, \
         open(os.path.join(a.out, "probes.csv"), "w", newline="") as p:
        gw, pw = csv.writer(g), csv.writer(p)
        gw.writerow(["item_id", "image"])
        pw.writerow(["probe_id", "image", "item_id"])
        pid = 0
        for item in range(a.items + a.unregistered):
            registered = item < a.items
            iid = f"item{item:05d}"
            if registered:
                for c in range(a.gallery_per_item):
                    path, fam = write(item, c, f"g_{iid}_{c}")
                    gw.writerow([iid, path])
            for c in range(a.probes_per_item):
                path, fam = write(item, 100 + c, f"p{pid:06d}")
                pw.writerow([f"p{pid:06d}", path, iid if registered else ""])
                pid += 1
            fams[iid] = fam
    with open(os.path.join(a.out, "families.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item_id", "family"])
        for k, v in fams.items():
            w.writerow([k, v])


if __name__ == "__main__":
    main()
