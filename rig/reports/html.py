"""A one-page HTML report of a run (no server, no scripts): per arch the provenance, the
outcome table, the differences, crash excerpts and links to reproducer bundles; pure render."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from rig.reports.collect import RunInfo, crash_excerpt, step_difference
from rig.reports.crossarch import cross_arch

_COLOR = {"PASS": "#d7f5d7", "SKIP": "#eeeeee", "FAIL": "#ffd0d0", "CRASH": "#ff9d9d",
          "HANG": "#ffb870", "INCOMPLETE": "#fff0a0", "INFRA": "#d0d8ff"}
_STYLE = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #bbb;padding:2px 6px;text-align:left;vertical-align:top;font-size:90%}
pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:85%}.sim{color:#a00;font-weight:bold}"""


def _o(outcome: object) -> str:
    text = escape(str(outcome))
    return f'<td style="background:{_COLOR.get(str(outcome), "#fff")}">{text}</td>'


def _link(target: Path | str, text: str, base: Path | None) -> str:
    path = str(target)
    if base is not None:
        try:
            path = os.path.relpath(path, base)
        except ValueError:
            pass
    return f'<a href="{escape(path)}">{escape(text)}</a>'


def render_html(run: RunInfo, *, base: Path | None = None) -> str:
    """The page; links are relative to ``base`` (the directory the page is written to)."""
    r = run.result
    h = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8">',
         f"<title>rig run: {escape(str(r.get('outcome')))}</title>",
         f"<style>{_STYLE}</style></head><body>",
         f"<h1>rig run: {escape(str(r.get('outcome')))}</h1>",
         f"<p>rig {escape(str(r.get('rig_version')))}, exit status "
         f"{escape(str(r.get('exit_status')))}, {escape(str(r.get('wall_s')))} s"
         f"{', interrupted' if r.get('interrupted') else ''}; result: "
         f"{_link(run.path, str(run.path), base)}</p>"]
    h.append("<table><tr><th>arch</th><th>outcome</th><th>target</th><th>profile</th>"
             "<th>kernel</th><th>accel</th><th>counts</th></tr>")
    for info in run.arches:
        a = info.data
        kernel = a.get("kernel") or {}
        counts = ", ".join(f"{v} {k}" for k, v in (a.get("counts") or {}).items() if v)
        sim = ' <span class="sim">SIMULATED</span>' if a.get("simulated") else ""
        h.append(f"<tr><td><a href=\"#{escape(info.arch)}\">{escape(info.arch)}</a></td>"
                 f"{_o(a.get('outcome'))}<td>{escape(str(a.get('target')))}{sim}</td>"
                 f"<td>{escape(str(a.get('abi')))}: {escape(str(a.get('abi_reason')))}</td>"
                 f"<td>{escape(str(kernel.get('version')))}<br>build ID "
                 f"{escape(str(kernel.get('build_id')))}</td><td>{escape(str(a.get('accel')))}"
                 f"</td><td>{escape(counts)}</td></tr>")
    h.append("</table>")
    for c in cross_arch(r):
        h.append(f"<h2>Cross-arch: {escape(c.left)} against {escape(c.right)}: "
                 f"{len(c.between)} difference(s)</h2>")
        if c.between:
            h.append(f"<table><tr><th>step</th><th>{escape(c.left)}</th>"
                     f"<th>{escape(c.right)}</th></tr>")
            h += [f"<tr><td>{escape(row.where())}</td><td>{escape(row.left)}</td>"
                  f"<td>{escape(row.right)}</td></tr>" for row in c.between]
            h.append("</table>")
    for info in run.arches:
        a, m = info.data, info.manifest
        sim = ' <span class="sim">SIMULATED: not kernel results</span>' \
            if a.get("simulated") else ""
        h.append(f'<h2 id="{escape(info.arch)}">{escape(info.arch)}: '
                 f"{escape(str(a.get('outcome')))}{sim}</h2>")
        tools = "; ".join(f"{k}: {v}" for k, v in (m.get("tools") or {}).items())
        h.append(f"<p>board {escape(str(m.get('board')))}, boot {escape(str(m.get('boot_mode')))}"
                 f", tools: {escape(tools)}<br>command line: <code>"
                 f"{escape(str(m.get('cmdline')))}</code></p>")
        boots = ", ".join(_link(b.dir / "serial.log", f"boot {b.index} ({b.end}"
                                + (f": {b.crash}" if b.crash else "") + ")", base)
                          for b in info.boots)
        h.append(f"<p>serial logs: {boots}</p>")
        h.append("<table><tr><th>#</th><th>scenario</th><th>outcome</th><th>detail</th>"
                 "<th>bundle</th></tr>")
        for s in a.get("scenarios", []):
            index = int(s.get("index", -1))
            bundle = run.bundles.get((info.arch, index))
            detail = [escape(str(s.get("reason") or ""))]
            detail += [escape(step_difference(st)) for st in s.get("steps", [])
                       if st.get("outcome") not in ("PASS", "SKIP")]
            h.append(f"<tr><td>{index}</td><td>{escape(str(s.get('name')))}</td>"
                     f"{_o(s.get('outcome'))}<td>{'<br>'.join(d for d in detail if d)}</td>"
                     f"<td>{_link(bundle / 'repro.sh', 'repro.sh', base) if bundle else ''}"
                     "</td></tr>")
        h.append("</table>")
        for s in a.get("scenarios", []):
            if s.get("outcome") in ("CRASH", "HANG"):
                excerpt = crash_excerpt(info, int(s.get("index", -1)), s.get("part"))
                h.append(f"<h3>{escape(str(s.get('outcome')))} in {escape(str(s.get('name')))}"
                         f"</h3><pre>{escape(chr(10).join(excerpt))}</pre>")
    h.append("</body></html>")
    return "\n".join(h) + "\n"


def write_html(run: RunInfo, path: Path) -> None:
    """Write :func:`render_html` to ``path``, links relative to its directory."""
    path.write_text(render_html(run, base=path.resolve().parent), encoding="utf-8")
