"""The wheel installs one namespace, ``sada``, and works with no checkout beside it.

The test builds the wheel from this checkout, installs it with ``--no-deps`` into
a fresh virtual environment in a temporary folder, and runs ``sada analyze`` and
``import sada`` from a folder outside the checkout. The dependencies come from the
test environment's site-packages through a path file; that folder's own ``.pth``
files (the editable install of the checkout among them) are not processed, so the
code that runs is the wheel's.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # build from a copy: setuptools keeps a build/ folder, and stale files there would end up in the wheel
    source = tmp_path_factory.mktemp("source") / "sada"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "out",
        "*.sqlite"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(source)], check=True, cwd=out, capture_output=True)
    (path,) = out.glob("sada-*.whl")
    return path


@pytest.fixture(scope="module")
def fresh_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("wheel-env")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], *site.getsitepackages(),
            *(p for p in sys.path if p.endswith("site-packages"))}
    (purelib / "zz_sada_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n", encoding="utf-8")
    return env_dir, purelib


def _run(env_dir: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SADA_"))}
    environ["HOME"] = os.environ.get("HOME", str(cwd))
    return subprocess.run(args, cwd=cwd, env=environ, capture_output=True, text=True, timeout=900)


def test_wheel_holds_only_the_sada_namespace_and_its_data(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"sada", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    for data in ("sada/models/default/weights.safetensors", "sada/models/default/config.json",
                 "sada/pipeline/language_id/config.json", "sada/pipeline/report/templates/report.html.j2",
                 "sada/pipeline/migrations/env.py", "sada/pipeline/migrations/versions/0003_churn_drivers.py",
                 "sada/pipeline/taxonomies/default.yaml", "sada/corpus/feedback.csv"):
        assert data in names, f"{data} is missing from {wheel.name}"
    assert not any(name.startswith("sada/") and "/tests/" in name for name in names)


def test_site_packages_has_no_generic_top_level_packages(fresh_env):
    _, purelib = fresh_env
    installed = {p.name for p in purelib.iterdir()}
    assert "sada" in installed
    assert not installed & {"pipeline", "models", "flows", "corpus"}


def test_cli_analyses_a_csv_outside_the_checkout(fresh_env, tmp_path: Path):
    env_dir, purelib = fresh_env
    csv = tmp_path / "feedback.csv"
    csv.write_text("id,text,customer_id\n"
                   "a1,التطبيق يعلق كل مرة أفتح الفاتورة,c1\n"
                   "f1,پیک خیلی دیر رسید و غذا سرد بود,c2\n"
                   "x1,,c3\n", encoding="utf-8")
    result = _run(env_dir, [str(env_dir / "bin" / "sada"), "analyze", "-i", str(csv), "--db",
                            f"sqlite:///{tmp_path / 'store.sqlite'}", "--json"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert (summary["rows_read"], summary["analysed"], summary["quarantined"]) == (3, 2, 1)
    assert summary["model_version"].startswith("sada-")


def test_import_sada_uses_the_wheel(fresh_env, tmp_path: Path):
    env_dir, purelib = fresh_env
    code = ("import json, sada, sada.pipeline.store as store\n"
            "rows = sada.analyze_texts(['الخدمة سيئة والموظف لم يرد', 'کیفیت غذا عالی بود'])\n"
            "print(json.dumps({'file': sada.__file__, 'store': store.__file__, 'version': sada.__version__,\n"
            "                  'rows': [[r['language'], r['sentiment']] for r in rows]}))\n"
            "try:\n    import pipeline\nexcept ImportError:\n    print('no-pipeline')\n")
    result = _run(env_dir, [str(env_dir / "bin" / "python"), "-c", code], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout.strip().splitlines()
    info = json.loads(out[-2])
    assert Path(info["file"]).is_relative_to(purelib) and Path(info["store"]).is_relative_to(purelib)
    assert info["version"] == "0.1.0"
    assert [lang for lang, _ in info["rows"]] == ["ar", "fa"]
    assert all(sentiment in {"negative", "neutral", "positive"} for _, sentiment in info["rows"])
    assert out[-1] == "no-pipeline"
