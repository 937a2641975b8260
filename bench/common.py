"""Helpers shared by the benchmarks: realistic payloads, percentiles, the machine description."""

from __future__ import annotations

import json
import os
import platform
import random
import re
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from deploy.stack import Ports
from uncops_contracts import CloudEvent, encode_kafka
from uncops_contracts.pledges import PledgeKind, PledgeSubmitted, PledgeTerms

REPO = Path(__file__).resolve().parent.parent
# The benchmark stack's own ports, apart from `make run`'s and the test suite's.
# The partner gateway's too (issue 18): 8004 + the offset would run into `make run`'s.
BENCH_PORTS = Ports(20432, 20092, 20093, 20233, 20234, 20001, 20002, 20003, 20000, 20004, 21025, 20900)
PLEDGES_TOPIC = "uncops.pledges.v1"

_STATES = ("SEN", "RWA", "BGD", "NPL", "IND", "PAK", "EGY", "IDN", "GHA", "JOR", "CHN", "FRA", "NOR", "BRA")
_KINDS = (
    PledgeKind.GENDER_PARITY,
    PledgeKind.EQUIPMENT_TRAINING,
    PledgeKind.PREDEPLOYMENT_SEA_TRAINING,
    PledgeKind.CONTINGENT_STANDARDS,
    PledgeKind.FRENCH_SPEAKING_OFFICERS,
)


def pledge_event(pledge_id: str, rng: random.Random) -> CloudEvent:
    """A PledgeSubmitted event like the API records (its JSON data is about 600 bytes)."""
    state = rng.choice(_STATES)
    payload = PledgeSubmitted(
        pledge_id=pledge_id,
        member_state=state,
        co_sponsors=rng.sample([s for s in _STATES if s != state], 2),
        summit="UNCOPS-2018",
        kind=rng.choice(_KINDS),
        title="Reach 30 per cent women among individual police officers deployed to missions",
        terms=PledgeTerms(
            indicator="share of women among deployed individual police officers",
            baseline=Decimal("17.5"),
            target=Decimal("30"),
            unit="percent",
            target_date=date(2028, 12, 31),
            resources="national police academy pre-deployment course; "
            "two female mobile training teams a year; assessment visits",
        ),
        submitted_at=datetime.now(UTC),
    )
    traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    return CloudEvent.of(payload, subject=pledge_id, traceparent=traceparent)


def make_events(count: int, distinct_keys: int, seed: int = 2018) -> list[CloudEvent]:
    rng = random.Random(seed)
    keys = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(distinct_keys)]
    return [pledge_event(keys[i % distinct_keys], rng) for i in range(count)]


def encoded(event: CloudEvent) -> tuple[list[tuple[str, bytes]], bytes]:
    return encode_kafka(event)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict[str, float | None]:
    ms = [s * 1000 for s in seconds]

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 2)

    return {
        "p50_ms": r(percentile(ms, 50)),
        "p90_ms": r(percentile(ms, 90)),
        "p99_ms": r(percentile(ms, 99)),
        "max_ms": r(max(ms) if ms else None),
        "min_ms": r(min(ms) if ms else None),
        "mean_ms": r(sum(ms) / len(ms) if ms else None),
    }


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, Any]:
    """CPU, cores, RAM, OS, Python and the versions of the client libraries and servers' tools."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        match = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        if match:
            ram_gib = round(int(match.group(1)) / 1024 / 1024, 1)
    except OSError:
        pass
    os_name = platform.platform()
    try:
        release = dict(
            line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
        )
        os_name = release.get("PRETTY_NAME", os_name).strip('"')
    except OSError:
        pass
    import aiokafka

    kafka_version = "unknown"
    pom = (REPO / "deploy" / "kafka" / "pom.xml").read_text()
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    if match:
        kafka_version = match.group(1)
    temporal = _run([str(Path(sys.executable).parent / "temporal"), "--version"])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "os": os_name,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kafka": kafka_version,
        "temporal_cli": temporal,
        "aiokafka": aiokafka.__version__,
    }


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_cpu_seconds(pid: int, with_children: bool = False) -> float:
    """CPU time (user + system) of ``pid``; with its live and reaped children when ``with_children``."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])  # children already reaped
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                child = _stat(int(entry.name))
                if child is not None and int(child[1]) == pid:
                    ticks += int(child[11]) + int(child[12])
    return ticks / _TICK


_MACHINE = "machine (/proc/stat)"


def _machine_ticks() -> dict[str, int]:
    """The machine's CPU time so far, by state (first line of /proc/stat)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return {}
    user, nice, system, idle, iowait, irq, softirq, steal = values
    return {"busy": user + nice + system + irq + softirq, "idle": idle + iowait, "steal": steal}


def cpu_snapshot(pids: dict[str, tuple[int, bool]]) -> dict[str, Any]:
    """CPU seconds so far of each named process (pid, with_children), of this process and of the machine."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    snapshot: dict[str, Any] = {name: process_cpu_seconds(pid, kids) for name, (pid, kids) in pids.items()}
    snapshot["this process (bench.run: load generator, producer, relay)"] = usage.ru_utime + usage.ru_stime
    snapshot[_MACHINE] = _machine_ticks()
    return snapshot


def cpu_usage(before: dict[str, Any], after: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Cores used by each process over ``seconds``, and how the whole machine's CPU time was spent
    (busy, idle, and stolen by the hypervisor: a virtual machine's cores may not be all its own)."""
    used = {
        name: round((after[name] - before[name]) / seconds, 2)
        for name in after
        if name in before and name != _MACHINE
    }
    ticks = {k: after[_MACHINE].get(k, 0) - before[_MACHINE].get(k, 0) for k in after[_MACHINE]}
    total_ticks = sum(ticks.values()) or 1
    return {
        "cores_used": used,
        "total_cores_used": round(sum(used.values()), 2),
        "machine_cores": os.cpu_count(),
        "machine_share": {k: round(v / total_ticks, 3) for k, v in ticks.items()},
    }
