"""Reference preprocessing for the build pipeline (runs in the processing container, stdlib only).

Reads every CSV file under /opt/ml/processing/input/data (label in the first column, no header: the
SageMaker XGBoost CSV convention; a header row is dropped when its first cell is not a number), drops
rows with empty cells, shuffles with a fixed seed and writes train / validation / test splits.
With ``TRAIN_SHARDS`` > 1 the train split is written as that many files (``train-0000.csv``, ...), so a
multi-instance training job whose train channel is ``ShardedByS3Key`` gives every instance a share.
"""

from __future__ import annotations

import csv
import os
import random
import sys
from pathlib import Path

INPUT = Path("/opt/ml/processing/input/data")
OUTPUT = Path("/opt/ml/processing")
SPLITS = (("train", 0.7), ("validation", 0.15), ("test", 0.15))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_rows(folder: Path) -> list[list[str]]:
    rows: list[list[str]] = []
    for path in sorted(folder.rglob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            for i, row in enumerate(csv.reader(f)):
                if i == 0 and row and not _is_number(row[0]):
                    continue  # header
                if row and all(cell.strip() for cell in row):
                    rows.append(row)
    return rows


def split(rows: list[list[str]], seed: int = 42) -> dict[str, list[list[str]]]:
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    out: dict[str, list[list[str]]] = {}
    start = 0
    for i, (name, share) in enumerate(SPLITS):
        end = len(shuffled) if i == len(SPLITS) - 1 else start + round(share * len(shuffled))
        out[name] = shuffled[start:end]
        start = end
    return out


def main(input_dir: Path = INPUT, output_dir: Path = OUTPUT) -> dict[str, int]:
    rows = read_rows(input_dir)
    if len(rows) < 20:
        sys.exit(f"preprocess: found {len(rows)} usable rows under {input_dir}; need at least 20")
    shards = int(os.environ.get("TRAIN_SHARDS", "1"))
    if shards < 1:
        sys.exit(f"preprocess: TRAIN_SHARDS must be at least 1, got {shards}")
    counts = {}
    for name, part in split(rows, int(os.environ.get("SPLIT_SEED", "42"))).items():
        folder = output_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        files = {f"{name}.csv": part} if name != "train" or shards == 1 else {
            f"train-{i:04d}.csv": part[i::shards] for i in range(shards)
        }
        for file_name, rows_of_file in files.items():
            with (folder / file_name).open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows(rows_of_file)
        counts[name] = len(part)
    print(f"preprocess: {counts}")
    return counts


if __name__ == "__main__":
    main()
