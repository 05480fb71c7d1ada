"""`inv status`: is the running node healthy, in sync, and wired right?

Reads the stack's settings from compose (`docker compose config`: the one settings
reader), finds the running containers through the engine, and runs the probes of
tasks/_status.py: sync (op-node's heads, their lag, the rate and ETA), the execution
client (head, peers), the wiring (the engine API with op-node's JWT, the L1 chain, the
beacon's blobs, the L2 chain id, the running versions against the pins) and the next
fork. Prints a table (colour on a terminal only), or --json; --watch redraws; --textfile
writes Prometheus text for node-exporter's textfile collector. Exit 0 healthy,
1 degraded, 2 down (docs/status.md).
"""

from __future__ import annotations

import json as jsonlib
import os
import sys
import tempfile
import time

from invoke import task

from ._errors import KitError

COLOURS = {"ok": "32", "warn": "33", "fail": "31", "skip": "2"}
HEADLINE = {"healthy": "32", "degraded": "33", "down": "31"}


# ------------------------------------------------------------------ output
def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def table(report, colour: bool = False) -> str:
    """The report as people read it: a headline, one line per probe, the fixes."""
    t = report.target
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report.time))
    lines = [f"{t.network or 'NETWORK not set'} ({t.client or '?'}; project {t.project or '?'}), "
             f"{stamp}"]
    width = max([len(p.name) for p in report.probes] + [5])
    for p in report.probes:
        word = _paint(f"{p.status:<4}", COLOURS.get(p.status, ""), colour)
        lines.append(f"{word}  {p.name:<{width}}  {p.detail}")
        if p.fix and p.status in ("warn", "fail"):
            lines.append(f"{'':<4}  {'':<{width}}  fix: {p.fix}")
    overall = _paint(report.overall, HEADLINE[report.overall], colour)
    lines.append(f"{overall} (exit {report.level}; {report.seconds:.2f} s)")
    return "\n".join(lines)


def _label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def prometheus(report) -> str:
    """The report in Prometheus text format (node-exporter's textfile collector)."""
    t = report.target
    base = f'network="{_label(t.network or "")}",client="{_label(t.client or "")}"'
    out: list[str] = []

    def metric(name: str, kind: str, helptext: str, samples: list[tuple[str, float]]) -> None:
        if not samples:
            return
        out.append(f"# HELP {name} {helptext}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            extra = f",{labels}" if labels else ""
            out.append(f"{name}{{{base}{extra}}} {value:g}")

    level = {"ok": 0, "warn": 1, "fail": 2, "skip": -1}
    metric("opkit_status", "gauge", "Overall: 0 healthy, 1 degraded, 2 down.",
           [("", report.level)])
    metric("opkit_status_probe", "gauge", "Per probe: 0 ok, 1 warn, 2 fail, -1 skip.",
           [(f'probe="{_label(p.name)}"', level[p.status]) for p in report.probes])
    metric("opkit_status_probe_seconds", "gauge", "Seconds each probe took.",
           [(f'probe="{_label(p.name)}"', round(p.seconds, 4)) for p in report.probes])
    sync = report.probe("sync")
    data = sync.data if sync else {}
    metric("opkit_l2_head", "gauge", "L2 head block number (op-node).",
           [(f'head="{k}"', v["number"]) for k, v in (data.get("heads") or {}).items()])
    metric("opkit_l2_head_lag_seconds", "gauge", "Wall clock minus the head's timestamp.",
           [(f'head="{k}"', v) for k, v in (data.get("lag_seconds") or {}).items()
            if v is not None])
    metric("opkit_l1_block", "gauge", "L1 block (op-node's current_l1, head_l1).",
           [(f'head="{k}"', v["number"]) for k, v in (data.get("l1") or {}).items()])
    metric("opkit_el_sync", "gauge", "1 while the execution layer syncs (expected).",
           [("", 1 if data.get("el_sync") else 0)] if data else [])
    progress = report.probe("progress")
    pdata = progress.data if progress else {}
    metric("opkit_sync_rate_blocks_per_second", "gauge", "Unsafe head rate, last minute.",
           [("", pdata["rate_blocks_per_second"])] if "rate_blocks_per_second" in pdata else [])
    metric("opkit_sync_eta_seconds", "gauge", "Estimated seconds to the tip.",
           [("", pdata["eta_seconds"])] if pdata.get("eta_seconds") is not None else [])
    execution = report.probe("execution")
    edata = execution.data if execution else {}
    metric("opkit_execution_head", "gauge", "Execution client head (eth_blockNumber).",
           [("", edata["head"])] if edata.get("head") is not None else [])
    metric("opkit_execution_peers", "gauge", "Execution client peers (net_peerCount).",
           [("", edata["peers"])] if edata.get("peers") is not None else [])
    metric("opkit_status_timestamp_seconds", "gauge", "When this was written.",
           [("", int(report.time))])
    return "\n".join(out) + "\n"


def write_textfile(path: str, text: str) -> None:
    """TEXT into PATH atomically (a temporary file beside it, then a rename), so the
    collector never reads half a file; a path that cannot be written: one line."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".opkit-status-", suffix=".prom.tmp")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        raise KitError(f"--textfile {path!r}: cannot write it ({exc.strerror or exc}); give a "
                       "file in a folder you can write, e.g. node-exporter's "
                       "--collector.textfile.directory") from None


def show(report, json: bool, textfile: str | None, watching: bool = False) -> None:
    """Print REPORT (and write the textfile). WATCHING: JSON is one object per line, and
    on a terminal the table redraws in place."""
    if textfile:
        write_textfile(textfile, prometheus(report))
    if json:
        print(jsonlib.dumps(report.as_json(), indent=None if watching else 2), flush=True)
        return
    tty = sys.stdout.isatty()
    text = table(report, colour=tty and not os.environ.get("NO_COLOR"))
    if watching and tty:
        text = "\x1b[H\x1b[2J" + text  # home, clear: redraw in place
    print(text, flush=True)


# -------------------------------------------------------------------- task
@task(help={
    "json": "print one JSON object (shape in docs/status.md) instead of the table",
    "watch": "run again every this many seconds, redrawing in place (Ctrl-C stops; "
             "the exit code is the last run's); 0: once",
    "textfile": "also write the result in Prometheus text format to this file, atomically "
                "(for node-exporter's --collector.textfile.directory)",
})
def status(c, json=False, watch=0, textfile=None):
    """Is the running node healthy, in sync and wired right? Exit 0 healthy, 1 degraded,
    2 down."""
    if watch < 0:
        raise KitError(f"--watch {watch} is negative: give seconds between runs, e.g. "
                       "--watch 10 (0: once)")
    from ._live import take

    report = take(c)
    show(report, json, textfile, watching=bool(watch))
    try:
        while watch:
            time.sleep(watch)
            report = take(c)
            show(report, json, textfile, watching=True)
    except KeyboardInterrupt:
        pass
    if report.level:
        raise KitError(f"status: {report.overall}", code=report.level)
