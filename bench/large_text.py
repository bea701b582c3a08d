"""Time to index a large text without article structure, against the sample corpus, one run.

    .venv/bin/python bench/large_text.py [--mb 2]

Both are indexed into fresh temp data dirs (no embedding cache) in the same process: first the
sample corpus (data/contracts and data/extra-contracts), then a text of `--mb` MB built from the
corpus's own sentences in plain paragraphs (no headings, no numbers: paragraph chunking). Prints
JSON: seconds, characters and passages of each, seconds per passage and their ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from pathlib import Path

from contractqa.service import ContractQA
from contractqa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = [ROOT / "data" / "contracts", ROOT / "data" / "extra-contracts"]


def sentences() -> list[str]:
    """Sentences of the sample contracts with no digits (so no line reads as a heading)."""
    found: list[str] = []
    for folder in CORPUS:
        for path in sorted(folder.glob("*.txt")):
            text = " ".join(path.read_text(encoding="utf-8").split())
            found.extend(s for s in re.split(r"(?<=[.;])\s+", text)
                         if 40 <= len(s) <= 400 and not re.search(r"\d", s))
    return found


def unstructured_text(megabytes: float, seed: int = 16) -> str:
    rng = random.Random(seed)
    pool = sentences()
    paragraphs: list[str] = []
    size = 0
    while size < megabytes * 1024 * 1024:
        paragraph = " ".join(rng.choice(pool) for _ in range(rng.randint(3, 8))).lower()
        paragraphs.append(paragraph)
        size += len(paragraph.encode("utf-8")) + 2
    return "\n\n".join(paragraphs) + "\n"


def timed_ingest(paths: list[Path], data_dir: Path) -> tuple[float, int]:
    settings = Settings(data_dir=data_dir, max_file_mb=50, _env_file=None)  # type: ignore[call-arg]
    service = ContractQA(settings)
    started = time.perf_counter()
    report = service.ingest(paths)
    seconds = time.perf_counter() - started
    assert report.ok, [r.message for r in report.results if r.status == "error"]
    return seconds, sum(r.chunks for r in report.results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        corpus_chars = sum(len(p.read_text(encoding="utf-8"))
                           for folder in CORPUS for p in folder.glob("*.txt"))
        corpus_s, corpus_chunks = timed_ingest(list(CORPUS), base / "corpus")
        large = base / "sans_articles.txt"
        large.write_text(unstructured_text(args.mb), encoding="utf-8")
        large_s, large_chunks = timed_ingest([large], base / "large")
        corpus_per = corpus_s / corpus_chunks
        large_per = large_s / large_chunks
        print(json.dumps({
            "corpus": {"seconds": round(corpus_s, 1), "chars": corpus_chars,
                       "passages": corpus_chunks, "ms_per_passage": round(1000 * corpus_per, 1)},
            "large": {"seconds": round(large_s, 1), "bytes": large.stat().st_size,
                      "chars": len(large.read_text(encoding="utf-8")), "passages": large_chunks,
                      "ms_per_passage": round(1000 * large_per, 1)},
            "ratio_seconds": round(large_s / corpus_s, 2),
            "ratio_per_passage": round(large_per / corpus_per, 2),
        }, indent=2))


if __name__ == "__main__":
    main()
