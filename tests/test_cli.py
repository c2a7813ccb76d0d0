"""The `triage` command line as an operator runs it: exit codes, output, real processes."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.clock import utc_now
from bot.services.policy import PAUSED, TARGET_PRECISION
from bot.settings import Settings
from storage.database import create_db_engine, session_factory
from storage.migrate import head_revision, history
from storage.models import ModelVersion, TrainingRun
from storage.queries.runtime_settings import set_runtime_setting
from tests.conftest import SAMPLE_HOLDOUT

REPO = Path(__file__).resolve().parents[1]
TRIAGE = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]


def settings_only(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without any deployment setting, plus `env`: no
    developer's .env or CI database leaks into a command."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRIAGE_", "SLACK_", "DATABASE_URL", "TEST_DATABASE_URL"))
    }
    return {**clean, **env}


def triage_process(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `triage ARGS` in a new interpreter, in `cwd`, with only the given settings."""
    return subprocess.run(
        [*TRIAGE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**settings_only(env), "PYTHONPATH": str(REPO)},
    )


def triage(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `triage ARGS` as the console script does (`sys.exit(main())`), in this process:
    in `cwd`, with only the given settings, its own standard streams, and its exit status.

    A new interpreter per command spent about 5 s importing the service each time; the
    tests of the version and of a bad setting still start real processes."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(settings_only(env))
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(list(args))
            except SystemExit as exit_:  # argparse's --help and --version
                status = exit_.code if isinstance(exit_.code, int) else 0
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        root.handlers[:], root.level = saved_handlers, saved_level
    return subprocess.CompletedProcess([*TRIAGE, *args], status, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where `triage demo` ran once with no configuration at all."""
    directory = tmp_path_factory.mktemp("demo")
    result = triage("demo", cwd=directory)
    assert result.returncode == 0, result.stderr
    (directory / "demo.out").write_text(result.stdout)
    return directory


def test_demo_runs_the_whole_job_on_a_fresh_directory(demo_dir: Path) -> None:
    out = (demo_dir / "demo.out").read_text()
    assert (demo_dir / "triage.db").exists()
    assert "Imported 1,848 labelled tickets from the Banking77 sample" in out
    assert "Promoted: v1 is now active" in out
    assert "308 held-out sample tickets through the decision" in out
    assert "handled automatically" in out and "sent to people for review" in out
    assert "Automatic labels were right for" in out


def classify_json(cwd: Path, first: str, listing: Path) -> list[dict]:
    result = triage("classify", first, "--file", str(listing), "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_classify_json_keeps_input_order(demo_dir: Path, tmp_path: Path) -> None:
    texts = ["I want to change my PIN", "How long does a transfer to Germany take?", "hello"]
    forward, backward = tmp_path / "forward.txt", tmp_path / "backward.txt"
    forward.write_text("\n".join(texts[1:]) + "\n\n")
    backward.write_text("\n".join(reversed(texts[:-1])) + "\n")
    rows = classify_json(demo_dir, texts[0], forward)
    assert len(rows) == 3 and rows[0]["label"] == "change_pin"
    assert {"label", "confidence", "decision"} <= set(rows[0])
    assert all(r["decision"] in {"auto", "audit", "review"} for r in rows)
    reordered = classify_json(demo_dir, texts[-1], backward)
    labels = [(r["label"], r["confidence"]) for r in rows]
    assert [(r["label"], r["confidence"]) for r in reordered] == labels[::-1]


def test_eval_json_reports_the_agreed_keys(demo_dir: Path) -> None:
    result = triage("eval", str(SAMPLE_HOLDOUT), "--json", cwd=demo_dir)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert {"accuracy", "macro_f1", "calibration_error", "coverage", "auto_precision"} <= set(
        metrics
    )
    assert 0.5 < metrics["accuracy"] <= 1 and 0 <= metrics["coverage"] <= 1
    # The gate in force: the average guarantee's bar, the per-ticket floor, novelty.
    assert metrics["floor"] == Settings().confidence_floor and 0 <= metrics["novel_rate"] < 0.2


def test_eval_names_the_floor_and_what_novelty_sent_to_people(demo_dir: Path) -> None:
    result = triage("eval", str(SAMPLE_HOLDOUT), cwd=demo_dir)
    assert result.returncode == 0, result.stderr
    assert f"floor {Settings().confidence_floor:.2f} per ticket" in result.stdout
    assert "unlike anything learned" in result.stdout


def test_malformed_import_is_one_line_and_changes_nothing(demo_dir: Path, tmp_path: Path) -> None:
    with sqlite3.connect(demo_dir / "triage.db") as db:
        before = db.execute("select count(*) from tickets").fetchone()[0]
    bad = tmp_path / "bad.csv"
    bad.write_text("body,category\nhello,card_arrival\n")
    result = triage("import", str(bad), cwd=demo_dir)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"triage: error: {bad} has no column 'text' or 'label' (found 'body', 'category'); "
        "name them with --text-column / --label-column"
    ]
    with sqlite3.connect(demo_dir / "triage.db") as db:
        assert db.execute("select count(*) from tickets").fetchone()[0] == before


def test_unmigrated_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    result = triage("train", cwd=tmp_path)
    assert result.returncode == 2
    assert "Run `triage db upgrade`" in result.stderr and "Traceback" not in result.stderr
    upgrade = triage("db", "upgrade", cwd=tmp_path)
    assert upgrade.returncode == 0 and "upgraded from empty to migration" in upgrade.stdout
    again = triage("train", cwd=tmp_path)
    assert again.returncode == 2 and "Not enough labelled tickets to train" in again.stderr


def test_bad_setting_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    result = triage_process("classify", "hi", cwd=tmp_path, TRIAGE_TARGET_PRECISION="1.7")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "triage: error: TRIAGE_TARGET_PRECISION=1.7 is invalid: must be a number in (0.5, 0.999]"
    ]


def test_classify_decides_as_the_service_would_now(demo_dir: Path, tmp_path: Path) -> None:
    text = "I want to change my PIN"
    shutil.copy(demo_dir / "triage.db", tmp_path / "triage.db")
    before = triage("classify", text, "--json", "--seed", "1", cwd=tmp_path)
    engine = create_db_engine(f"sqlite:///{tmp_path / 'triage.db'}")
    with session_factory(engine).begin() as session:  # what `/triage pause` stores
        set_runtime_setting(PAUSED, True, session=session, actor="UADMIN", now=utc_now())
    engine.dispose()
    paused = triage("classify", text, "--json", "--seed", "1", cwd=tmp_path)
    assert json.loads(before.stdout)["decision"] == "auto"
    assert json.loads(paused.stdout)["decision"] == "review"
    assert json.loads(paused.stdout)["label"] == json.loads(before.stdout)["label"]


def test_train_is_recorded_like_the_workers_and_uses_the_admins_target(
    demo_dir: Path, tmp_path: Path
) -> None:
    shutil.copy(demo_dir / "triage.db", tmp_path / "triage.db")
    engine = create_db_engine(f"sqlite:///{tmp_path / 'triage.db'}")
    with session_factory(engine).begin() as session:  # what `/triage target 0.99` stores
        set_runtime_setting(TARGET_PRECISION, 0.99, session=session, actor="UADMIN", now=utc_now())
    result = triage("train", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Trained model v2" in result.stdout
    with session_factory(engine)() as session:
        run = session.scalars(select(TrainingRun).order_by(TrainingRun.id.desc())).first()
        assert run is not None and run.status == "succeeded" and run.model_version_id == 2
        assert run.trigger == "`triage train` (command line)"
        version = session.get(ModelVersion, 2)
        assert version is not None and version.metrics["target_precision"] == 0.99
    engine.dispose()


def test_train_without_labelled_tickets_fails_in_one_line(tmp_path: Path) -> None:
    assert triage("db", "upgrade", cwd=tmp_path).returncode == 0
    result = triage("train", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("triage: error: Training #1 failed: Not enough labelled tickets")


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    result = triage_process("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"triage-loop {version('triage-loop')}"


def test_db_current_history_and_downgrade(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    head = head_revision()
    assert "has no schema yet" in triage("db", "current", cwd=tmp_path, **env).stdout
    assert triage("db", "upgrade", cwd=tmp_path, **env).returncode == 0
    current = triage("db", "current", cwd=tmp_path, **env)
    assert current.stdout.strip().endswith(f"is at migration {head}, the newest this code knows.")

    listed = triage("db", "history", cwd=tmp_path, **env).stdout.splitlines()
    assert [line.split()[0] for line in listed] == [rev for rev, _, _ in history()]
    assert listed[0].endswith("<- the database") and listed[-1].startswith("0001  initial")

    previous = history()[1][0]
    down = triage("db", "downgrade", "-1", cwd=tmp_path, **env)
    assert down.returncode == 0, down.stderr
    assert f"downgraded from migration {head} to {previous}." in down.stdout
    behind = triage("db", "current", cwd=tmp_path, **env).stdout
    assert f"is at migration {previous}; this code needs {head}" in behind
    refused = triage("serve", cwd=tmp_path, **env)
    assert refused.returncode == 2 and "Run `triage db upgrade`" in refused.stderr

    unknown = triage("db", "downgrade", "0099", cwd=tmp_path, **env)
    assert unknown.returncode == 2
    assert (
        unknown.stderr.strip()
        == "triage: error: No migration 0099; `triage db history` lists them."
    )
    assert triage("db", "upgrade", cwd=tmp_path, **env).returncode == 0


def test_admin_commands_need_no_slack_and_record_the_os_user(tmp_path: Path) -> None:
    """No Slack setting at all: the change is stored and audited as the shell's user."""
    assert triage("db", "upgrade", cwd=tmp_path).returncode == 0
    paused = triage("pause", cwd=tmp_path, LOGNAME="ops-olga")
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout == (
        "Automatic labelling paused: every ticket now goes to review. "
        "(No alerts channel is set, so it was not announced.)\n"
    )
    bad = triage("quorum", "two", cwd=tmp_path)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == "triage: error: The quorum `two` must be a whole number.\n"
    with sqlite3.connect(tmp_path / "triage.db") as db:
        logged = db.execute("select actor, action from audit_log").fetchall()
    assert logged == [("cli:ops-olga", "set paused")]
