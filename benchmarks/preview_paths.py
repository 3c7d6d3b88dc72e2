"""A vendor's own JSON preview (`RequestBuilder.fast_preview`) against the general path.

    .venv/bin/python benchmarks/preview_paths.py                 # 200,000 items, 4 pairs
    .venv/bin/python benchmarks/preview_paths.py --items 50000 --repeat 2 --vendors segment

plan_scale's rows repeat on purpose (one domain, sequential ids), so there the general
path's preview cache, keyed by the masked item, answers almost every action. Real
cleanups are more varied; here every row is random: emails on 20,000 made-up domains
(gmail.com for 30%), 12-character random ids. For each vendor the same project is planned
with `plan --format json` twice in turn, once as shipped and once with the vendor's
fast_preview switched off in the child (the kit's, which declines everything), --repeat
times; the report is the child's CPU seconds (median) and the median of the pairs'
ratios general/own. The two JSON outputs must be byte-identical, or the run fails.

A vendor with no fast_preview of its own (Braze, Twilio Memory, any plugin) takes the
general path both times: its ratio is about 1 by construction and says only how noisy the
machine is.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import plan_scale  # noqa: E402  (the benchmark next to this one: its projects and shapes)

ALNUM = string.ascii_lowercase + string.digits
# Twilio Memory ids: mem_profile_ + 26 characters of Crockford base 32
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_domains = random.Random(7)
DOMAINS = [
    "".join(_domains.choices(string.ascii_lowercase, k=_domains.randint(5, 12)))
    + _domains.choice([".com", ".de", ".co.uk", ".io"])
    for _ in range(20_000)
]


def _email(r: random.Random) -> str:
    domain = "gmail.com" if r.random() < 0.3 else r.choice(DOMAINS)
    return "".join(r.choices(ALNUM, k=r.randint(4, 14))) + "@" + domain


def _segment(i: int) -> list[str]:
    r = random.Random(i)
    return ["u_" + "".join(r.choices(ALNUM, k=12)), "email", _email(r)]


def _braze(i: int) -> list[str]:
    return ["ext-" + "".join(random.Random(i).choices(ALNUM, k=12))]


def _twilio(i: int) -> list[str]:
    return ["mem_profile_01" + "".join(random.Random(i).choices(CROCKFORD, k=24)), "phone"]


def _insider(i: int) -> list[str]:
    return [_email(random.Random(i)), "name"]


ROWS: dict[str, Callable[[int], list[str]]] = {
    "segment": _segment,
    "braze": _braze,
    "twilio_memory": _twilio,
    "insider": _insider,
}

# The child: optionally switch one vendor's fast_preview off, then run the CLI.
CHILD = """
import sys
off = sys.argv[1]
if off:
    from reconciler.vendors.kit import Defaults
    from reconciler.vendors.registry import vendor
    type(vendor(off).requests).fast_preview = Defaults.fast_preview
sys.argv = ["reconcile", *sys.argv[2:]]
from reconciler.cli.main import main
main()
"""


def plan_cpu(root: Path, off: str) -> tuple[float, bytes]:
    """(child CPU seconds, the JSON plan) of `plan --format json`, `off`'s own preview
    switched off (none when empty)."""
    out = root / "plan.json"
    env = {**os.environ, plan_scale.KEY_ENV: plan_scale.KEY}
    cmd = [sys.executable, "-c", CHILD, off, "plan", "--format", "json", "--out", str(out)]
    child = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"plan failed in {root}")
    return usage.ru_utime + usage.ru_stime, out.read_bytes()


def run_vendor(name: str, items: int, repeat: int) -> str:
    plan_scale.SHAPES[name] = replace(plan_scale.SHAPES[name], row=ROWS[name])
    with tempfile.TemporaryDirectory(prefix="preview-paths-") as tmp:
        root = Path(tmp)
        plan_scale.write_project(root, name, items)
        own, general, ratios = [], [], []
        for _ in range(repeat):
            a, a_out = plan_cpu(root, "")
            b, b_out = plan_cpu(root, name)
            if a_out != b_out:
                raise SystemExit(f"{name}: the two paths' JSON plans differ")
            own.append(a)
            general.append(b)
            ratios.append(b / a)
    pairs = ", ".join(f"{r:.2f}" for r in ratios)
    return (
        f"{name:14} own {statistics.median(own):6.2f} s CPU   general "
        f"{statistics.median(general):6.2f} s   general/own {statistics.median(ratios):.2f}"
        f"   (pairs {pairs})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--vendors", default="segment,insider,twilio_memory,braze")
    args = parser.parse_args()
    names = [v for v in args.vendors.split(",") if v]
    unknown = [v for v in names if v not in ROWS]
    if unknown:
        parser.error(f"--vendors: unknown {', '.join(unknown)} (one of {', '.join(ROWS)})")
    print(f"{args.items:,} random items a vendor, {args.repeat} pairs each", flush=True)
    for name in names:
        print(run_vendor(name, args.items, args.repeat), flush=True)


if __name__ == "__main__":
    main()
