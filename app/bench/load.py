"""Load generation: wrk with wrk.lua on loopback, its exact figures parsed and cross-checked."""

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ERROR_KINDS = ("connect_errors", "read_errors", "write_errors", "timeouts", "non_2xx")


class BenchError(RuntimeError):
    pass


@dataclass
class WrkRun:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    raw: str  # wrk's whole output, kept for the report

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def run_wrk(
    url: str, method: str, path: str, seconds: int, connections: int, threads: int, post_content: int
) -> WrkRun:
    """One wrk run against url + path: GET it, or POST comments on content `post_content`."""
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(BENCH_DIR / "wrk.lua"),
        url + path,
    ]
    env = dict(os.environ, BENCH_METHOD=method, BENCH_PATH=path, BENCH_POST_CONTENT=str(post_content))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        # Seen once on a loaded machine, with no output to say why: one more try, said aloud.
        print(f"  wrk exited with {done.returncode} ({(done.stdout + done.stderr).strip()[:300]!r}); again", flush=True)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"wrk {method} {url + path} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    out = done.stdout
    match = re.search(r"^WRK_JSON (\{.*\})$", out, re.M)
    if not match:
        raise BenchError(f"could not parse wrk's output:\n{out}")
    stats = json.loads(match.group(1))
    run = WrkRun(
        requests=stats["requests"],
        seconds=stats["duration_us"] / 1e6,
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        errors=sum(stats[k] for k in ERROR_KINDS),
        raw=out,
    )
    # Cross-check the Lua figures with wrk's own summary line.
    printed = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if printed and abs(float(printed.group(1)) - run.rps) > 0.01 * run.rps + 1:
        raise BenchError(f"wrk's Requests/sec {printed.group(1)} disagrees with {run.rps:.1f}")
    return run
