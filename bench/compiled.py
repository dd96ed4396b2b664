"""The relay's hot modules compiled with mypyc, in a scratch copy of ``proxy/``.

``python -m bench --mypyc`` runs ``skewguard run`` from that copy (target
``skewguard-mypyc``), interleaved with the pure-Python proxy: what compilation
buys per transaction, measured rather than guessed. The copy keeps every
``.py`` beside its extension module; Python imports the extension first.
``python -m bench.compiled DIR`` builds one for tests or ``bench.relay_path``
(``PYTHONPATH=DIR/proxy``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

#: What the relay runs per message (py-spy under pgbench -S, bench.relay_path): the
#: framing and reply walk, the message decoders, the prepared-statement map, the
#: statement sniff, the session itself and the traffic counters it bumps.
HOT_MODULES = (
    "skewguard/wire/errors.py",
    "skewguard/wire/framing.py",
    "skewguard/wire/messages.py",
    "skewguard/wire/prepared.py",
    "skewguard/wire/replies.py",
    "skewguard/sql_start.py",
    "skewguard/statements.py",
    "skewguard/relay/recent.py",
    "skewguard/relay/session.py",
    "skewguard/relay/upstream.py",
    "skewguard/observe/traffic.py",
)


def build(workdir: Path, modules: tuple[str, ...] = HOT_MODULES) -> Path:
    """Copy this checkout's ``proxy/`` into ``workdir`` and compile ``modules`` there.

    Returns the copy's ``proxy`` directory (for ``PYTHONPATH``). Raises
    CalledProcessError with mypyc's output when the build fails.
    """
    source = Path(__file__).resolve().parent.parent / "proxy"
    target = workdir / "proxy"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    subprocess.run(
        [sys.executable, "-m", "mypyc", *modules],
        cwd=target,
        check=True,
        capture_output=True,
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compiled", description=__doc__)
    parser.add_argument("workdir", type=Path)
    args = parser.parse_args(argv)
    started = time.monotonic()
    built = build(args.workdir)
    print(f"{built} ({len(HOT_MODULES)} modules compiled in {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
