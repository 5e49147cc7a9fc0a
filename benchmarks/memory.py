"""Memory benchmark: `python -m benchmarks.memory` (part of `make bench`).

Peak resident memory of a real `assistant serve` (fresh data dir, loopback, default embedded settings) with
both models loaded and one job running: a 3-minute recording (the ASR benchmark's two-voice dialogue, or
`--audio FILE`) is uploaded, transcribed by Whisper and drafted by the embedded LLM (its llama.cpp server
is a child process, so the whole process tree counts).
The tree's RSS is sampled every 0.2 s until the job finishes; each process's own high-water mark (VmHWM)
is read as well, and their sum is reported as an upper bound. Target (issue 9): <= 3 GB.
The same run times the whole flow a worker waits for (upload accepted -> record drafted), per stage from
the job's own stage changes. The `memory` section of bench/results.json is replaced (stable key
`memory.serve_peak_rss_mb`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.asr import DEFAULT_OUT, machine_info, merge_results, versions
from benchmarks.load import start_server, stop_server

TARGET_MB = 3072.0
DEFAULT_SECONDS = 180.0


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (from /proc's parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


class TreeSampler:
    """Samples the summed RSS of a process tree in a background thread."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        self.root, self.interval = root, interval
        self.peak_kb, self.samples = 0, 0
        self.hwm_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = process_tree(self.root)
            self.peak_kb = max(self.peak_kb, sum(_status_kb(p, "VmRSS") for p in pids))
            for p in pids:
                self.hwm_kb[p] = max(self.hwm_kb.get(p, 0), _status_kb(p, "VmHWM"))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(audio: Path, timeout_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp_name:
        tmp = Path(tmp_name)
        proc, base = start_server(tmp / "data", tmp / "server.log")
        try:
            idle_kb = sum(_status_kb(p, "VmRSS") for p in process_tree(proc.pid))
            with TreeSampler(proc.pid) as sampler:
                started = time.monotonic()
                r = httpx.post(f"{base}/api/recordings", files={"file": (audio.name, audio.read_bytes())},
                               timeout=120, trust_env=False)
                r.raise_for_status()
                job_id = r.json()["job_id"]
                job: dict[str, Any] = {}
                stages: dict[str, float] = {}  # stage -> seconds since upload when first seen
                while time.monotonic() - started < timeout_s:
                    job = httpx.get(f"{base}/api/jobs/{job_id}", timeout=30, trust_env=False).json()
                    stages.setdefault(str(job.get("stage")), round(time.monotonic() - started, 1))
                    if job["state"] in ("done", "failed"):
                        break
                    time.sleep(0.5)
                job_s = time.monotonic() - started
            processes = {p: kb for p, kb in sampler.hwm_kb.items() if kb}
        finally:
            stop_server(proc)
    peak_mb = round(sampler.peak_kb / 1024, 1)
    return {
        "description": "peak RSS of the `assistant serve` process tree (service + embedded LLM server) while one "
                       "uploaded sample visit is transcribed and drafted",
        "serve_peak_rss_mb": peak_mb,
        "sum_of_process_peaks_mb": round(sum(processes.values()) / 1024, 1),
        "per_process_peak_mb": sorted((round(kb / 1024, 1) for kb in processes.values()), reverse=True),
        "idle_after_start_mb": round(idle_kb / 1024, 1),
        "target_mb": TARGET_MB,
        "meets_target": peak_mb <= TARGET_MB,
        "audio": audio.name,
        "audio_seconds": _duration(audio),
        "stages_first_seen_s": stages,
        "job_state": job.get("state"),
        "job_error": job.get("error"),
        "job_s": round(job_s, 1),
        "samples_taken": sampler.samples,
        "machine": machine_info(),
        "versions": versions(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _duration(path: Path) -> float | None:
    import av

    try:
        with av.open(str(path)) as c:
            return round(float(c.duration or 0) / 1e6, 1) or None
    except (OSError, av.error.FFmpegError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", type=Path, default=None,
                        help="recording to upload (default: the ASR benchmark's 3-minute dialogue)")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds to wait for the job")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results file (section `memory`)")
    args = parser.parse_args(argv)
    if args.audio is None:
        from benchmarks.asr import bench_audio

        args.audio = bench_audio(DEFAULT_SECONDS).path
    data = measure(args.audio, args.timeout)
    merge_results(args.out, "memory", data)
    print(f"memory: serve peak RSS {data['serve_peak_rss_mb']:.0f} MB (target <= {TARGET_MB:.0f}; idle "
          f"{data['idle_after_start_mb']:.0f} MB); {data['audio_seconds']} s recording: job {data['job_state']} "
          f"{data['job_s']:.0f} s after upload; stages first seen {data['stages_first_seen_s']} -> {args.out}",
          file=sys.stderr if data["job_state"] != "done" else sys.stdout)
    return 0 if data["job_state"] == "done" else 1


if __name__ == "__main__":
    raise SystemExit(main())
