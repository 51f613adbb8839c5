"""Run ``sada analyze`` on every hostile input of issue 12 and print what happened as a table.

Usage: ``python -m benchmarks.hostile_inputs [--db-url postgresql://...]``. Each case
runs in a fresh folder and store; the table shows the exit code, whether a
traceback was printed, the records in the input (counted when the input was
built) and the run's counts. ``lost`` is records the run did not account for; ``store_kb`` the SQLite store's size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from tests.hostile_cases import CASES

SADA = [sys.executable, "-m", "sada.cli"]


def run_case(case, db_url: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = case.build(folder)
        url = db_url or f"sqlite:///{folder / 'store.sqlite'}"
        if db_url and db_url.startswith("postgresql"):
            url = _fresh_pg_database(db_url)
        cmd = [*SADA, "analyze", "--json", "--no-classify", "--db", url, *case.args]
        for path in inputs:
            cmd += ["--input", str(path)]
        done = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        store_file = folder / "store.sqlite"
        size_kb = store_file.stat().st_size // 1024 if store_file.exists() else ""
        for path in folder.rglob("*"):  # let TemporaryDirectory remove locked folders
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
    row = {"case": case.name, "rc": done.returncode, "traceback": "Traceback" in done.stderr,
           "records": case.records, "store_kb": size_kb}
    try:
        summary = json.loads(done.stdout)
    except json.JSONDecodeError:
        row["error"] = done.stderr.strip().splitlines()[-1][:90] if done.stderr.strip() else ""
        return row
    row.update({k: summary[k] for k in ("rows_read", "analysed", "quarantined", "duplicates")})
    row["lost"] = case.records - summary["rows_read"]
    row["reasons"] = ", ".join(f"{k} {v}" for k, v in summary["quarantine_reasons"].items())
    return row


def _fresh_pg_database(server_db_url: str) -> str:
    import psycopg

    base = server_db_url.rsplit("/", 1)[0]
    name = "h_" + uuid.uuid4().hex[:10]
    with psycopg.connect(server_db_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{base}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db-url", help="A PostgreSQL database URL on a server where new databases can be made.")
    args = parser.parse_args()
    columns = ["case", "rc", "traceback", "records", "rows_read", "analysed", "quarantined", "duplicates", "lost",
               "store_kb", "reasons"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for case in CASES:
        row = run_case(case, args.db_url)
        if "error" in row:
            row["reasons"] = "error: " + row["error"]
        print("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |", flush=True)


if __name__ == "__main__":
    main()
