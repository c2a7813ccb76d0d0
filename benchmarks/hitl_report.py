"""What a simulated stream measured: windows, totals, target checks, the plot and the table.

Reads the log `benchmarks.hitl_simulation` kept; computes nothing about the loop itself.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.hitl_simulation import Simulation, StreamLog, read_split
from bot.services.models import load_active
from classifier import evaluate, wilson_interval
from storage.database import unit_of_work


def segment(log: StreamLog, start: int, stop: int) -> dict[str, Any]:
    """Automation, precision of automated (with Wilson 95%) and answers over [start, stop)."""
    automated = log.automated[start:stop]
    n, n_auto = len(automated), sum(automated)
    n_correct = sum(log.correct[start:stop])
    interval = wilson_interval(n_correct, n_auto) if n_auto else None
    return {
        "start": start,
        "stop": stop,
        "tickets": n,
        "automated": n_auto,
        "automation_rate": n_auto / n if n else None,
        "auto_correct": n_correct,
        "auto_precision": n_correct / n_auto if n_auto else None,
        "auto_precision_wilson95": None if interval is None else list(interval),
        "answers": sum(log.answered[start:stop]),
    }


def windows(log: StreamLog, size: int) -> list[dict[str, Any]]:
    """Consecutive windows of `size` tickets (the last may be shorter)."""
    total = len(log.automated)
    return [segment(log, start, min(start + size, total)) for start in range(0, total, size)]


def target_checks(
    totals: dict[str, Any], per_window: list[dict[str, Any]], target: float
) -> dict[str, Any]:
    """The issue's targets, each with the measured value next to the boolean."""
    precisions = [w["auto_precision"] for w in per_window if w["auto_precision"] is not None]
    worst = min(precisions) if precisions else None
    whole = totals["whole"]["auto_precision"]
    last = totals["last_2000"]["automation_rate"]
    return {
        "precision_whole_stream": {
            "value": whole,
            "target": target,
            "met": whole is not None and whole >= target,
        },
        "precision_every_window": {
            "worst_window": worst,
            "target": target,
            "met": worst is not None and worst >= target,
        },
        "automation_last_2000": {"value": last, "target": 0.75, "met": last >= 0.75},
        "human_answers": {
            "value": totals["human_answers"],
            "target": "< 4500",
            "met": totals["human_answers"] < 4500,
        },
    }


def test_metrics(factory: sessionmaker[Session], data_dir: Path) -> dict[str, Any] | None:
    """The final active model with its own thresholds on test.csv."""
    with unit_of_work(factory) as session:
        model = load_active(session=session)
    if model is None:
        return None
    texts, labels = read_split(data_dir / "test.csv")
    metrics = evaluate(model.model, texts, labels, model.thresholds)
    return {"model_version": model.version_id, "n": len(texts), **metrics.to_dict()}


# --------------------------------------------------------------------------- plot


def rolling(values: Sequence[bool], mask: Sequence[bool] | None, width: int) -> np.ndarray:
    """Trailing mean over `width` tickets (of the masked ones when a mask is given)."""
    x = np.asarray(values, dtype=float)
    m = np.ones_like(x) if mask is None else np.asarray(mask, dtype=float)
    num = np.convolve(x * m, np.ones(width), mode="full")[: len(x)]
    den = np.convolve(m, np.ones(width), mode="full")[: len(x)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def plot(sim: Simulation, result: dict[str, Any], out: Path, width: int) -> None:
    """Automation and precision of automated along the stream; cumulative answers below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = sim.log
    x = np.arange(1, len(log.automated) + 1)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    top.plot(x, rolling(log.automated, None, width), label=f"automation rate ({width} rolling)")
    precision = rolling(log.correct, log.automated, width)
    top.plot(x, precision, label=f"precision of automated ({width} rolling)")
    top.axhline(sim.args.target, color="black", linestyle=":", label="target precision")
    top.axhline(0.75, color="grey", linestyle="--", linewidth=0.8, label="75% automation")
    for run in sim.runs:
        colour = "tab:green" if run.promoted else "tab:red"
        top.axvline(run.ticket_index + 1, color=colour, alpha=0.35, linewidth=0.8)
    top.plot([], [], color="tab:green", alpha=0.5, label="retraining: promoted")
    top.plot([], [], color="tab:red", alpha=0.5, label="retraining: rejected / failed")
    top.set_ylim(0, 1.02)
    top.set_ylabel("share")
    top.legend(loc="lower right", fontsize=8)
    top.set_title(result["title"], fontsize=10)
    bottom.plot(x, np.cumsum(log.answered), color="tab:purple")
    bottom.set_ylabel("human answers (cumulative)")
    bottom.set_xlabel("tickets in arrival order")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- markdown


def markdown(result: dict[str, Any], variants: list[dict[str, Any]]) -> str:
    """A BENCHMARKS.md section: config, targets, windows and the variants tried."""
    cfg, totals, checks = result["config"], result["totals"], result["targets"]
    test = result["test"] or {}
    lines = [
        "## Human-in-the-loop stream (`python -m benchmarks.hitl_stream`)",
        "",
        f"Command: `{result['command']}`  ",
        f"Schedule: {cfg['schedule']}; target precision {cfg['target_precision']}; "
        f"reviewer error {cfg['reviewer_error']}; audit rate {cfg['audit_rate']}; "
        f"seed {cfg['seed']}; wall time {result['wall_seconds'] / 60:.1f} min.",
        "",
        "| Target | Measured | Met |",
        "|---|---|---|",
        f"| precision of automated, whole stream >= {cfg['target_precision']} | "
        f"{_pct(checks['precision_whole_stream']['value'])} | "
        f"{_yes(checks['precision_whole_stream']['met'])} |",
        f"| precision of automated, every 1,000 window >= {cfg['target_precision']} | worst "
        f"{_pct(checks['precision_every_window']['worst_window'])} | "
        f"{_yes(checks['precision_every_window']['met'])} |",
        f"| automation over the last 2,000 >= 75% | "
        f"{_pct(checks['automation_last_2000']['value'])} | "
        f"{_yes(checks['automation_last_2000']['met'])} |",
        f"| human answers < 4,500 | {totals['human_answers']:,} | "
        f"{_yes(checks['human_answers']['met'])} |",
        "",
        f"Final model on test.csv: accuracy {_pct(test.get('accuracy'))}, macro-F1 "
        f"{_pct(test.get('macro_f1'))}, coverage at its thresholds {_pct(test.get('coverage'))}"
        f", precision of automated {_pct(test.get('auto_precision'))}. Retrainings: "
        f"{result['retraining']['runs']} ({result['retraining']['promoted']} promoted, "
        f"{result['retraining']['rejected']} rejected, {result['retraining']['failed']} failed).",
        "",
        "| Tickets | Automation | Precision of automated (Wilson 95%) | Answers |",
        "|---|---|---|---|",
    ]
    for w in result["windows"]:
        interval = w["auto_precision_wilson95"]
        shown = "-" if interval is None else f"{_pct(interval[0])}-{_pct(interval[1])}"
        lines.append(
            f"| {w['start'] + 1:,}-{w['stop']:,} | {_pct(w['automation_rate'])} | "
            f"{_pct(w['auto_precision'])} ({shown}) | {w['answers']:,} |"
        )
    lines += [
        "",
        "Retraining runs (answers when the job ran -> global threshold of the new model):",
        ", ".join(
            f"{run['answers']:,} -> "
            + (run["status"] if run["n_examples"] is None else _threshold(run))
            for run in result["retraining"]["log"]
        ),
    ]
    if variants:
        lines += [
            "",
            "Variants measured (seed-0 stream, exact reviewer, no audits unless stated):",
            "",
            "| Variant | Answers | Automation last 2,000 | Precision whole | Worst window "
            "| Test accuracy | Retrainings | Wall |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for v in variants:
            vt, vc = v["totals"], v["targets"]
            lines.append(
                f"| {v['config']['label']} | {vt['human_answers']:,} | "
                f"{_pct(vt['last_2000']['automation_rate'])} | "
                f"{_pct(vt['whole']['auto_precision'])} | "
                f"{_pct(vc['precision_every_window']['worst_window'])} | "
                f"{_pct((v['test'] or {}).get('accuracy'))} | {v['retraining']['runs']} | "
                f"{v['wall_seconds'] / 60:.1f} min |"
            )
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _threshold(run: dict[str, Any]) -> str:
    value = run["threshold_default"]
    shown = "never" if value is None else f"{value:.3f}"
    return shown if run["promoted"] else f"{shown} (rejected)"


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


NEW_TOPIC_WINDOW = 300


def new_topic_figures(sim: Simulation, args: argparse.Namespace) -> dict[str, Any] | None:
    """How the withheld intents fared once they arrived: wrong automatic labels among their
    first tickets, when the first new-topic alert fired, and how automation recovered."""
    if not sim.withheld:
        return None
    log = sim.log
    positions = [i for i, gold in enumerate(log.gold) if gold in sim.withheld]

    def share(indices: list[int]) -> dict[str, Any]:
        automated = [i for i in indices if log.automated[i]]
        right = sum(1 for i in automated if log.correct[i])
        return {
            "tickets": len(indices),
            "automated": len(automated),
            "automated_wrongly": len(automated) - right,
            "automated_wrongly_share": (len(automated) - right) / len(indices) if indices else None,
            "automation_rate": len(automated) / len(indices) if indices else None,
            "auto_precision": right / len(automated) if automated else None,
            "novel_share": sum(log.novel[i] for i in indices) / len(indices) if indices else None,
        }

    found = [t for t in sim.topics if t.action == "found" and t.majority_gold in sim.withheld]
    first = found[0].ticket_index if found else None
    early = set(positions[:NEW_TOPIC_WINDOW])
    wrong = [
        row for row in log.withheld_automated if row["ticket_index"] in early and not row["correct"]
    ]
    return {
        "intents": sorted(sim.withheld),
        "arrive_at": args.new_topic_at,
        "first_300": share(positions[:NEW_TOPIC_WINDOW]),
        "first_300_wrong": {
            "before_first_alert": sum(1 for row in wrong if not row["after_first_alert"]),
            "by_stage": dict(Counter(row["stage"] for row in wrong).most_common()),
            "by_decision": dict(Counter(row["decision"] for row in wrong).most_common()),
            "tickets": wrong,
        },
        "first_alert_at_ticket": first,
        "withheld_tickets_before_first_alert": sum(
            1 for i in positions if first is None or i < first
        ),
        "topics": [asdict(t) for t in sim.topics],
        "recovery": [
            {"from": n, **share(positions[n : n + NEW_TOPIC_WINDOW])}
            for n in range(0, len(positions), NEW_TOPIC_WINDOW)
        ],
    }


def summarise(
    sim: Simulation, args: argparse.Namespace, wall: float, test: dict[str, Any] | None
) -> dict[str, Any]:
    """Everything the JSON holds: config, windows, totals, retraining and target checks."""
    log = sim.log
    total = len(log.automated)
    totals = {
        "tickets": total,
        "skipped_invalid": log.skipped_invalid,
        "human_answers": sim.answers,
        "whole": segment(log, 0, total),
        "last_2000": segment(log, max(0, total - 2000), total),
    }
    per_window = windows(log, args.window)
    statuses = [run.status for run in sim.runs]
    label = args.label or (
        f"{sim.schedule.describe()}, target {args.target}"
        + (f", reviewer error {args.reviewer_error}" if args.reviewer_error else "")
        + (f", audit {args.audit_rate}" if args.audit_rate else "")
    )
    return {
        "title": f"HITL stream on Banking77 train ({label})",
        "command": " ".join(["python -m benchmarks.hitl_stream", *sys.argv[1:]]),
        "config": {
            "label": label,
            "seed": args.seed,
            "target_precision": args.target,
            "schedule": sim.schedule.describe(),
            "retrain_every": args.retrain_every,
            "warmup": list(args.warmup),
            "reviewer_error": args.reviewer_error,
            "audit_rate": args.audit_rate,
            "limit": args.limit,
            "window": args.window,
            "labels": "all 77 created up front with ensure_labels"
            if not sim.withheld
            else f"{77 - len(sim.withheld)} up front; withheld intents' once an admin creates them",
            "new_topic_intents": args.new_topic_intents,
            "new_topic_at": args.new_topic_at if args.new_topic_intents else None,
            "unlabelled_bank": not getattr(args, "no_unlabelled_bank", False),
            "clock": "1 simulated minute per ticket; frozen while the job trains",
            "model_switch": "immediately after a promotion (web: within model_refresh_seconds)",
        },
        "windows": per_window,
        "totals": totals,
        "retraining": {
            "runs": len(sim.runs),
            "promoted": sum(1 for run in sim.runs if run.promoted),
            "rejected": sum(1 for run in sim.runs if run.promoted is False),
            "failed": statuses.count("failed"),
            "seconds": round(sum(run.seconds for run in sim.runs), 1),
            "log": [asdict(run) for run in sim.runs],
        },
        "wall_seconds": round(wall, 1),
        "test": test,
        "targets": target_checks(totals, per_window, args.target),
        "new_topic": new_topic_figures(sim, args),
    }
