"""`triage serve` under cProfile in every thread: where a web process's CPU goes under load.

    python -m benchmarks.profile_serve OUT_PREFIX serve --host 127.0.0.1

runs `bot.cli` with the arguments after OUT_PREFIX, with a profiler in the main thread (the
event loop) and in each thread started after it (intake batches, outbox delivery), and on
exit writes OUT_PREFIX-main.prof, OUT_PREFIX-threads.prof (all other threads together) and
OUT_PREFIX-thread-N.prof for each. `benchmarks.ingest --profile DIR` starts the server this
way. cProfile slows pure-Python code more than native code, so read shares, not speeds.
"""

from __future__ import annotations

import cProfile
import pstats
import signal
import sys
import threading
from types import FrameType
from typing import Any

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def _start_in_thread(_frame: FrameType, _event: str, _arg: Any) -> None:
    """The first profile event of a new thread: give it a profiler of its own."""
    profile = cProfile.Profile()
    with _lock:
        _profiles.append(profile)
    profile.enable()  # replaces this hook for this thread


def main() -> int:
    prefix, arguments = sys.argv[1], sys.argv[2:]
    from bot.cli import main as cli_main

    # uvicorn stops gracefully on SIGTERM and then raises it again with the handler it found
    # in place: this one, so the profiles below are written before the process ends.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.setprofile(_start_in_thread)
    main_profile = cProfile.Profile()
    main_profile.enable()
    try:
        code = cli_main(arguments)
    finally:
        main_profile.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
        main_profile.dump_stats(f"{prefix}-main.prof")
        with _lock:
            threads = list(_profiles)
        combined: pstats.Stats | None = None
        for number, profile in enumerate(threads):
            try:
                profile.dump_stats(f"{prefix}-thread-{number}.prof")
                stats = pstats.Stats(f"{prefix}-thread-{number}.prof")
            except (TypeError, ValueError):  # a thread that never returned a frame
                continue
            if combined is None:
                combined = stats
            else:
                combined.add(stats)
        if combined is not None:
            combined.dump_stats(f"{prefix}-threads.prof")
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
