"""Write heart.csv: 80 made-up patients in the shape of the keras.io structured-data example's
heart-disease table (numbers, integer-coded categories, one text column `thal`, a 0/1 `target`).

Deterministic (a fixed seed): `python specs/data/make_heart_csv.py` writes the same file again.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

COLUMNS = ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak", "slope", "ca",
           "thal", "target"]


def rows(n: int = 80, seed: int = 16) -> list[list[object]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        age = int(rng.integers(29, 78))
        sex, fbs, exang = (int(v) for v in rng.integers(0, 2, 3))
        cp, restecg = int(rng.integers(0, 5)), int(rng.integers(0, 3))
        trestbps, chol = int(np.clip(rng.normal(132, 17), 94, 200)), int(np.clip(rng.normal(246, 50), 126, 564))
        thalach = int(np.clip(rng.normal(150 - (age - 54) * 0.8, 20), 71, 202))
        oldpeak = round(float(np.clip(rng.exponential(1.0), 0, 6.2)), 1)
        slope, ca = int(rng.integers(1, 4)), int(rng.choice(4, p=[0.6, 0.2, 0.13, 0.07]))
        thal = str(rng.choice(["normal", "fixed", "reversible"], p=[0.55, 0.1, 0.35]))
        risk = (0.04 * (age - 54) + 0.8 * sex + 0.5 * (cp == 4) + 1.0 * exang + 0.6 * oldpeak + 0.7 * ca
                - 0.02 * (thalach - 150) + 1.2 * (thal == "reversible") - 1.6)
        target = int(rng.random() < 1 / (1 + np.exp(-risk)))
        out.append([age, sex, cp, trestbps, chol, fbs, restecg, thalach, exang, oldpeak, slope, ca, thal, target])
    return out


if __name__ == "__main__":
    with open(Path(__file__).with_name("heart.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows())
