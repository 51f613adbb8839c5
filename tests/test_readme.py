"""The README's Python example runs as written (in a temporary folder with an ``exports/`` folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_the_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "march.csv").write_text(
        "id,text\nr1,الفاتورة وصلت مرتين هذا الشهر\nr2,پشتیبانی خیلی خوب جواب داد\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SADA_DATABASE_URL", raising=False)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert [row["language"] for row in namespace["rows"]] == ["ar", "fa"]
    assert (namespace["summary"].rows_read, namespace["summary"].analysed) == (2, 2)
    assert (tmp_path / "out" / "report.html").stat().st_size > 10_000


def test_the_taxonomy_example_is_a_valid_taxonomy():
    """The README's example taxonomy passes `sada themes check` as printed."""
    import yaml

    from sada.pipeline.taxonomy import taxonomy_problems

    blocks = re.findall(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    assert taxonomy_problems(yaml.safe_load(blocks[0])) == []
