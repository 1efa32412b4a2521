"""JUnit XML of a run: one testcase per scenario and arch (pure render, thin write).

Outcomes map in one table (STYLE 10): FAIL is a <failure>; CRASH, HANG, INCOMPLETE and INFRA
are <error>s (the test could not finish); SKIP is <skipped>. The failure text carries the
difference, system-out the serial lines the scenario printed. Serial output is untrusted: XML
1.0 cannot hold most control characters, so they are written as `\\xNN` text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path, PurePath

from rig.reports.collect import RunInfo, crash_excerpt, scenario_excerpt, scenario_failure_text

# outcome -> JUnit element (None: a passing testcase)
JUNIT_ELEMENT: dict[str, str | None] = {
    "PASS": None, "FAIL": "failure", "SKIP": "skipped", "CRASH": "error", "HANG": "error",
    "INCOMPLETE": "error", "INFRA": "error",
}
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Text XML 1.0 can hold: every other character becomes `\\xNN` (`\\uNNNN`)."""
    return _NOT_XML.sub(lambda m: (f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                                   else f"\\u{ord(m.group()):04x}"), text)


def render_junit(run: RunInfo) -> str:
    """The JUnit XML document of ``run``."""
    root = ET.Element("testsuites", name="rig")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for info in run.arches:
        a = info.data
        suite = ET.SubElement(root, "testsuite", name=f"rig.{info.arch}")
        props = ET.SubElement(suite, "properties")
        kernel = a.get("kernel") or {}
        for key, value in (("arch", info.arch), ("target", a.get("target")),
                           ("simulated", a.get("simulated")), ("abi", a.get("abi")),
                           ("abi_reason", a.get("abi_reason")), ("accel", a.get("accel")),
                           ("kernel.version", kernel.get("version")),
                           ("kernel.build_id", kernel.get("build_id")),
                           ("rig_version", run.result.get("rig_version"))):
            ET.SubElement(props, "property", name=key, value=xml_text(str(value)))
        counts = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
        for s in a.get("scenarios", []):
            outcome = str(s.get("outcome"))
            file = PurePath(str(s.get("file", ""))).stem
            name = str(s.get("name"))
            if a.get("simulated"):
                name += " [SIMULATED]"
            case = ET.SubElement(suite, "testcase", name=xml_text(name),
                                 classname=xml_text(f"rig.{info.arch}.{file}"),
                                 file=xml_text(str(s.get("where") or s.get("file") or "")))
            counts["tests"] += 1
            element = JUNIT_ELEMENT.get(outcome, "error")
            index = int(s.get("index", -1))
            if element is not None:
                counts[{"failure": "failures", "error": "errors",
                        "skipped": "skipped"}[element]] += 1
                el = ET.SubElement(case, element, message=xml_text(
                    f"{outcome}: {s.get('reason') or ''}"[:1000]), type=outcome)
                text = scenario_failure_text(s)
                bundle = run.bundles.get((info.arch, index))
                if bundle is not None:
                    text += f"\nreproducer bundle: {bundle} (run {bundle}/repro.sh)"
                if outcome in ("CRASH", "HANG"):
                    text += "\nconsole around the crash:\n" + "\n".join(
                        crash_excerpt(info, index, s.get("part")))
                el.text = xml_text(text)
            out = scenario_excerpt(info, index, s.get("part"))
            if out:
                ET.SubElement(case, "system-out").text = xml_text("\n".join(out) + "\n")
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def write_junit(run: RunInfo, path: Path) -> None:
    """Write :func:`render_junit` to ``path``."""
    path.write_text(render_junit(run), encoding="utf-8")
