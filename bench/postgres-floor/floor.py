#!/usr/bin/env python3
"""The PostgreSQL floor of `scripts/bench --verify`: what PostgreSQL alone spends on one
second-factor verification, on this machine, in the same run.

Seeds accounts with an enabled TOTP factor (seed.sql) in a database that `twofa migrate`
created, then runs pgbench with verify.sql (one verification's statements as twofa runs them)
and worker.sql (the worker's claim and completion, once per 16 verifications) while twofa sits
idle. The CPU time of every PostgreSQL process is read from /proc before and after (a backend
that ended is in its postmaster's cutime). Adds `postgresFloor` to the report: verifications
per second, PostgreSQL CPU per verification, and the most verifications per second the machine
could do if PostgreSQL had every core to itself, beside what twofa's run cost PostgreSQL.
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name: (pgbench script, verifications per transaction, its weight, whether worker.sql runs
# once per 16 verifications beside it). `as-run` is what scripts/bench reports; the others
# (variants/) answer "what would a different shape of the same work cost PostgreSQL?".
VARIANTS = {
    "as-run": ("verify.sql", 1, 16, True),
    "two-statements": ("variants/two-statements.sql", 1, 16, True),
    "batch16": ("variants/batch16.sql", 16, 1, True),
    "no-events": ("variants/no-events.sql", 1, 16, False),
}


def postgres_seconds(postmaster: int) -> float:
    """CPU seconds used so far by the postmaster, its live children and its reaped ones."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # After "(comm) ": state is field 0, ppid 1, utime 11, stime 12, cutime 13, cstime 14.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(entry.name) == postmaster or int(fields[1]) == postmaster:
            ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def seconds_of(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s?", duration)
    if not match or int(match.group(1)) == 0:
        sys.exit(f"floor.py: the duration must be whole seconds such as 10s, not {duration!r}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("pg-bin", "host", "port", "database", "report", "duration"):
        parser.add_argument(f"--{name}", required=True)
    for name in ("postmaster-pid", "clients", "accounts"):
        parser.add_argument(f"--{name}", required=True, type=int)
    parser.add_argument("--variant", choices=VARIANTS, default="as-run")
    args = parser.parse_args()
    script, per_transaction, weight, with_worker = VARIANTS[args.variant]
    scripts = ["-f", f"{HERE / script}@{weight}"]
    if with_worker:
        scripts += ["-f", f"{HERE / 'worker.sql'}@1"]
    seconds = seconds_of(args.duration)
    connect = ["-h", args.host, "-p", args.port, "-U", "postgres"]

    subprocess.run(
        [f"{args.pg_bin}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"accounts={args.accounts}",
         *connect, "-d", args.database, "-f", str(HERE / "seed.sql")],
        check=True, stdout=subprocess.DEVNULL)

    before = postgres_seconds(args.postmaster_pid)
    run = subprocess.run(
        [f"{args.pg_bin}/pgbench", "-n", "-M", "prepared", *connect,
         "-c", str(args.clients), "-j", str(os.cpu_count() or 1), "-T", str(seconds),
         "-D", f"accounts={args.accounts}", *scripts, args.database],
        capture_output=True, text=True)
    after = postgres_seconds(args.postmaster_pid)
    if run.returncode != 0:
        sys.exit(f"floor.py: pgbench failed:\n{run.stdout}{run.stderr}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)

    # With several scripts pgbench counts each under "SQL script N"; with one, only the total.
    found = re.search(r"SQL script 1: .*?\n - weight: .*?\n - (\d+) transactions", run.stdout, re.S)
    if not with_worker:
        found = re.search(r"number of transactions actually processed: (\d+)", run.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
    if not found:
        sys.exit(f"floor.py: pgbench's report has no count for {script}:\n{run.stdout}")
    verifications = int(found.group(1)) * per_transaction
    postgres_cpu = after - before
    per_verification = 1000 * postgres_cpu / max(verifications, 1)
    floor = {
        "what": "pgbench replaying one verification's statements as twofa runs them, with the "
                "worker's claim and completion per 16, on PostgreSQL alone (bench/postgres-floor)"
                if args.variant == "as-run" else f"pgbench running bench/postgres-floor/{script}",
        "variant": args.variant,
        "clients": args.clients,
        "seconds": seconds,
        "verifications": verifications,
        "failed": int(failed.group(1)) if failed else None,
        "verificationsPerSecond": round(verifications / seconds, 1),
        "postgresCpuSeconds": round(postgres_cpu, 2),
        "pgbenchCpuSeconds": round(usage.ru_utime + usage.ru_stime, 2),
        "postgresCpuMsPerVerification": round(per_verification, 3),
        # If PostgreSQL had every core to itself, with no twofa, Redis or load generator.
        "ceilingPerSecondWithAllCores": round((os.cpu_count() or 1) * 1000 / max(per_verification, 1e-9), 1),
    }
    report = json.loads(Path(args.report).read_text())
    verify = report.get("verify") or {}
    if verify.get("succeeded"):
        floor["twofaRunPostgresCpuMsPerVerification"] = round(
            1000 * verify["postgresCpuSeconds"] / verify["succeeded"], 3)
    report["postgresFloor"] = floor
    Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    print(f"postgres floor: {floor['verificationsPerSecond']}/s by pgbench, "
          f"{floor['postgresCpuMsPerVerification']} ms of PostgreSQL CPU per verification; "
          f"{floor['ceilingPerSecondWithAllCores']}/s if PostgreSQL had every core",
          file=sys.stderr)


if __name__ == "__main__":
    main()
