"""Crash safety across rotated files: a writer process SIGKILLed while it starts a new
part file, and at random instants, with parts of a few records. After every kill the
ledger verifies, every request the process reported as about to be sent has its intent
on disk, and the next run continues from what is there."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from reconciler.ledger.store import RunWriter, item_key, read_ledger, run_files
from reconciler.ledger.verify import item_events, verify_ledger
from reconciler.states import DONE, UNKNOWN
from tests.kit.ledger import Proj

WRITER = textwrap.dedent(
    """
    import hashlib, sys, time
    from pathlib import Path
    from reconciler.ledger import files
    from reconciler.ledger.store import RunWriter, result_fields

    ledger_dir, run_id, pause_at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    if pause_at:
        started = files.PartFile.__init__
        made = [0]

        def paused(self, path):
            started(self, path)  # the empty file is there, its folder entry durable
            made[0] += 1
            if made[0] == pause_at:
                print("STARTING", path.name, flush=True)
                time.sleep(60)

        files.PartFile.__init__ = paused
    writer = RunWriter(ledger_dir, run_id, {"operation": "apply"}, max_file_bytes=1500)
    i = 0
    while True:
        window = [hashlib.sha256(f"{run_id}-{i + k}".encode()).hexdigest() for k in range(4)]
        writer.intents_ahead("seg", [([fp], "d" * 64) for fp in window])
        for fp in window:
            writer.claim([fp])
            print("SENT", fp, flush=True)  # the request would leave now
            writer.results([result_fields(fp, "seg", "done", 200, None, "req-" + fp[:6])])
        i += 4
    """
)


def start(ledger_dir: Path, run_id: str, pause_at: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(ledger_dir), run_id, str(pause_at)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def sent(out: str) -> set[str]:
    # only whole lines: a kill can cut the last print short
    whole = out.split("\n")[:-1]
    return {
        item_key(line.split()[1]) for line in whole if line.startswith("SENT ") and len(line) == 69
    }


def check(ledger_dir: Path, reported: set[str]) -> None:
    report = verify_ledger(ledger_dir)
    assert report.ok, report.breaks
    intents = {e["fp"] for e in item_events(ledger_dir) if e["type"] == "intent"}
    assert reported <= intents, "a request was reported sent without a durable intent"
    ledger = read_ledger(ledger_dir)
    assert {ledger.state_of(fp) for fp in reported} <= {DONE, UNKNOWN}
    # the next run continues from what is there
    nxt = RunWriter(ledger_dir, f"after-{len(run_files(ledger_dir))}", {})
    nxt.close()
    assert verify_ledger(ledger_dir).ok
    assert read_ledger(ledger_dir).heads == [nxt.head]


def test_killed_while_starting_a_rotated_file(proj: Proj) -> None:
    proj.create_ledger()
    proc = start(proj.ledger_dir, "rot", pause_at=3)  # part 1, then parts 2 and 3
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("STARTING"):
            break
    name = lines[-1].split()[1]
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    out = "".join(lines) + (proc.stdout.read() or "")
    empty = proj.ledger_dir / "runs" / name
    assert name.endswith("-rot.p0003.jsonl") and empty.stat().st_size == 0
    report = verify_ledger(proj.ledger_dir)
    assert any(name in w and "holds no complete record" in w for w in report.warnings)
    check(proj.ledger_dir, sent(out))


def test_killed_at_random_instants_with_small_parts(proj: Proj) -> None:
    proj.create_ledger()
    rng = random.Random(20261201)
    rotated = 0
    for round_ in range(8):
        proc = start(proj.ledger_dir, f"k{round_}")
        assert proc.stdout is not None
        first = proc.stdout.readline()  # writing has begun (however slow the start-up)
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
        reported = sent(first + out)
        assert reported, "the writer got nowhere before the kill"
        rotated += sum(1 for p in run_files(proj.ledger_dir) if f"-k{round_}.p" in p.name)
        check(proj.ledger_dir, reported)
        assert all(p.stat().st_size <= 1500 for p in run_files(proj.ledger_dir))
    assert rotated >= 8  # the kills fell among rotations
