#!/usr/bin/env python3
"""Held-out synthetic captures for the authenticator grain's verdict-rate test (not used for training).

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/Entrupy.Inference.Tests/TestData/authentication/make_captures.py

Items 5300.. of each model (just past the model card's test split 5000..5299, so never seen in training or threshold
selection), one genuine and one counterfeit capture each, made exactly like build_models.py's dataset
(synth.item_capture: spec profile, 256-512 px, colour or gray, half JPEG round-tripped), then stored as JPEG q92 so
the files stay small. truth.json lists file, model and truth; the expected rates come from MODEL_CARD.md.
"""
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models", "authentication"))
import synth  # noqa: E402
from PIL import Image  # noqa: E402

SEED = 20261122  # build_models.SEED
FIRST_ITEM, ITEMS = 5300, int(os.environ.get("ITEMS", "15"))
rows = []
for model_id in ("acme-leather", "acme-canvas"):
    for item in range(FIRST_ITEM, FIRST_ITEM + ITEMS):
        for authentic in (True, False):
            img, cues = synth.item_capture(SEED, model_id, item, authentic)
            name = f"{model_id}-{'genuine' if authentic else 'counterfeit'}-{item}.jpg"
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=92)
            with open(os.path.join(HERE, name), "wb") as fh:
                fh.write(buf.getvalue())
            rows.append({"file": name, "model_id": model_id, "truth": "authentic" if authentic else "not_authentic",
                         "cues": cues, "width": int(img.shape[1]), "height": int(img.shape[0])})
with open(os.path.join(HERE, "truth.json"), "w") as fh:
    json.dump({"note": "held-out synthetic captures (items %d..%d), see make_captures.py" % (FIRST_ITEM, FIRST_ITEM + ITEMS - 1),
               "captures": rows}, fh, indent=1)
print(len(rows), "captures")
