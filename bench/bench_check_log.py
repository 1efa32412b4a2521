"""Memory and time of parsing a huge serial log (run on demand:
`.venv/bin/python bench/bench_check_log.py [MB]`).

Writes a log of MB megabytes (default 200) of noise: printable lines of random length, a few
very long lines without a newline, garbled `@RIG1` records, and a handful of valid records at
the start and the end, one of them numbered 10^9. Then parses it in a fresh process with
rig.api.parse_log_file (streamed, as `rig check-log` does) and prints the wall time, the peak
memory of that process and the records and anomalies found. The goal (issue 13): memory well
below the log's size, whatever is in it.
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rig.judge.protocol import encode_record  # noqa: E402

NONCE = "0123456789abcdef"
CHILD = """
import sys, time
from pathlib import Path
from rig.api import parse_log_file
start = time.perf_counter()
parsed = parse_log_file(Path(sys.argv[1]), ["0123456789abcdef"])
took = time.perf_counter() - start
print(f"{took:.1f} {len(parsed.records)} {len(parsed.anomalies)} {parsed.dropped} "
      f"{len(parsed.other_lines)} {parsed.line_count}")
"""


def write_noise(path: Path, megabytes: int, seed: int = 13) -> None:
    rng = random.Random(seed)
    alphabet = bytes(range(32, 127))
    block = bytes(rng.choice(alphabet) for _ in range(1 << 16))
    target = megabytes << 20
    with path.open("wb") as f:
        f.write((encode_record(NONCE, 0, "hello", [("prog", NONCE)]) + "\n").encode())
        written = 0
        while written < target:
            r = rng.random()
            if r < 0.00002:  # now and then a 1-4 MiB line without a newline
                n = rng.randint(1 << 20, 4 << 20)
                piece = (block * (n // len(block) + 1))[:n]
            elif r < 0.01:
                piece = b"@RIG1 " + block[:rng.randint(0, 300)] + b"\n"
            else:
                start = rng.randrange(len(block) - 200)
                piece = block[start:start + rng.randint(0, 200)] + b"\n"
            f.write(piece)
            written += len(piece)
        f.write(("\n" + encode_record(NONCE, 10**9, "bye", [("scenarios", 0)]) + "\n").encode())


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "noise.log"
        t0 = time.perf_counter()
        write_noise(log, megabytes)
        size = log.stat().st_size
        print(f"wrote {size / 2**20:.0f} MiB of noise in {time.perf_counter() - t0:.1f} s")
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        proc = subprocess.run([sys.executable, "-c", CHILD, str(log)], capture_output=True,
                              text=True, env=env, check=True, stdin=subprocess.DEVNULL)
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        took, records, anomalies, dropped, kept, lines = proc.stdout.split()
        print(f"parse: {float(took):.1f} s, peak memory {peak_kib / 1024:.0f} MiB "
              f"({peak_kib * 1024 / size:.2f} x the log), {lines} lines, {records} records, "
              f"{anomalies} anomalies listed, {dropped} sequence numbers dropped, "
              f"{kept} lines kept")


if __name__ == "__main__":
    main()
