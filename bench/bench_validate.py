"""Time and memory of `rig validate` on a large file (run on demand:
`.venv/bin/python bench/bench_validate.py [SCENARIOS]`).

Writes SCENARIOS (default 10,000) scenarios of six steps each (about 2.9 MB of YAML for 10k)
and runs `rig validate` on it in a fresh process, printing the wall time and the peak memory.
Issue 13 measured 34 s and 509 MB for 10k scenarios before the loader was reworked; the goal
was at least 5 times faster, with memory that does not outlive the call.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("      - supply: [0, 8]\n      - write: [1, 2]\n      - op_zero: [3, 1]\n"
         "      - query: {offset: 0, length: 8, buffer_entries: 4}\n"
         "        expect: {status: ZX_OK}\n      - query_all: {buffer_entries: 2}\n"
         "      - stats: {reset: true}\n")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text("scenarios:\n" + "".join(
            f"  - name: s{i}\n    vmo: {{pages: 8, trap_dirty: false}}\n    steps:\n{STEPS}"
            for i in range(count)))
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "rig", "validate", str(path)],
                              capture_output=True, text=True, cwd=ROOT, check=False,
                              stdin=subprocess.DEVNULL)
        took = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"{count} scenarios, {path.stat().st_size / 1e6:.1f} MB of YAML: exit "
              f"{proc.returncode}, {took:.1f} s, peak memory {peak_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
