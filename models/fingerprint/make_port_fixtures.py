#!/usr/bin/env python3
"""Writes the parity fixtures of the C# port (tests/Entrupy.Fingerprinting.Tests/TestData/parity/).

    /usr/bin/python3 models/fingerprint/make_port_fixtures.py [--out DIR] [--items N] [--seed S] [--profile spec|harsh]

A larger set for a one-off parity run (not committed), then point the C# tests at it:
    /usr/bin/python3 models/fingerprint/make_port_fixtures.py --items 30 --seed 5 --profile harsh --out /tmp/fp-parity
    FINGERPRINT_PARITY_DIR=/tmp/fp-parity dotnet test tests/Entrupy.Fingerprinting.Tests --filter ParityTests

Captures: items 0..5 of seed 7 (one per surface family), gallery capture 0 and probe capture 100 of each, spec
profile, sides 256..448 (small files), PNG or JPEG as the capture's rng decides - the same simulator as
make_dataset.py. Expected values come from fpcore.py (numpy twin of fingerprint.onnx):
  * per image: quality figures, keypoint positions (x,y px at 256), the first descriptor rows of each steered set,
    the global VLAD vector, and the smallest relative gap between the response values that decide the keypoint
    selection (a near-tie there may legitimately flip between numpy and ONNX Runtime);
  * scores of every probe vs every gallery capture (6 genuine + 30 impostor pairs), upright-only and steered.
Deterministic: rerunning gives identical files.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fpcore  # noqa: E402
import surfaces  # noqa: E402
from eval import load  # noqa: E402

SIDES = (256, 320, 384, 448)
DESC_ROWS = 4  # descriptor rows per set written to the JSON (full records would bloat the fixtures)


def _round(a: np.ndarray) -> list:
    """float32 values to 8 significant digits (the C# side compares with a tolerance; keeps the JSON small)."""
    return np.vectorize(lambda v: float(f"{v:.8g}"))(np.asarray(a, np.float64)).tolist()


def selection_gap(resp: np.ndarray, cfg=fpcore.CONFIG) -> float:
    """Smallest relative difference between response values that decide which peaks are kept (or are peaks)."""
    r = cfg["nms_radius"]
    from scipy import ndimage as ndi
    mx = ndi.maximum_filter(resp, size=2 * r + 1, mode="constant", cval=-1)
    # Peak decisions: values just below their window max are near-ties with a neighbour.
    nonpeak = resp < mx
    rel = (mx[nonpeak] - resp[nonpeak]) / np.maximum(mx[nonpeak], 1e-30)
    return float(rel.min())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "Entrupy.Fingerprinting.Tests",
                                                  "TestData", "parity"))
    ap.add_argument("--items", type=int, default=6)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", default="spec", choices=sorted(surfaces.PROFILES))
    a = ap.parse_args()
    SEED, ITEMS = a.seed, range(a.items)
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    codebook = np.fromfile(os.path.join(HERE, "fingerprint.codebook.f32"), np.float32).reshape(16, 128)
    vmean = np.fromfile(os.path.join(HERE, "fingerprint.vladmean.f32"), np.float32)

    images, records = [], {}
    for item in ITEMS:
        fam, surf = surfaces.surface(SEED, item)
        for cap in (0, 100):
            rng = np.random.default_rng([SEED, item, cap, 77])
            size = int(rng.choice(SIDES))
            fmt = "jpg" if rng.random() < 0.5 else "png"
            img = surfaces.capture(surf, SEED, item, cap, a.profile, size=size)
            data = surfaces.encode(img, fmt, rng.integers(*surfaces.PROFILES[a.profile]["jpeg"]))
            name = f"{'g' if cap == 0 else 'p'}{item}.{fmt}"
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
            img256 = load(os.path.join(out, name))
            cells, resp = fpcore.embed(img256[None])
            rec = fpcore.fingerprint(img256, cells[0], resp[0])
            records[name] = rec
            q = fpcore.quality(img256)
            images.append(dict(
                file=name, item=item, family=fam, role="gallery" if cap == 0 else "probe",
                width=int(img.shape[1]), height=int(img.shape[0]), colour=bool(img.ndim == 3),
                quality=q, passes_gate=fpcore.passes_gate(q),
                pixel_sum=float(img256.astype(np.float64).sum()),
                keypoints=rec["pts"].tolist(),
                descriptor_head={str(int(r)): _round(d[:DESC_ROWS])
                                 for r, d in zip(fpcore.CONFIG["enrol_rotations"], rec["desc_rot"])},
                global_vector=_round(fpcore.vlad(rec["desc"], codebook, vmean)),
                peak_gap=selection_gap(resp[0]),
            ))
    pairs = []
    for pi in ITEMS:
        for gi in ITEMS:
            p, g = records[next(n for n in records if n.startswith(f"p{pi}."))], \
                records[next(n for n in records if n.startswith(f"g{gi}."))]
            pairs.append(dict(
                probe=next(n for n in records if n.startswith(f"p{pi}.")),
                enrolled=next(n for n in records if n.startswith(f"g{gi}.")),
                genuine=pi == gi,
                score=fpcore.compare(p, g),
                score_upright=fpcore.compare_one(p, g),
            ))
    doc = dict(
        generator="models/fingerprint/make_port_fixtures.py", seed=SEED, profile=a.profile, config=fpcore.CONFIG,
        images=images, pairs=pairs,
    )
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
    gen = [x["score"] for x in pairs if x["genuine"]]
    imp = [x["score"] for x in pairs if not x["genuine"]]
    print(f"wrote {len(images)} images + expected.json to {out}; genuine {gen}; impostor max {max(imp)}")


if __name__ == "__main__":
    main()
