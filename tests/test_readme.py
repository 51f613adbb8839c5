"""The README's Python example runs as written (in a temporary folder with an ``exports/`` folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sada.pipeline.store import analysis

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_the_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    (tmp_path / "exports").mkdir()
    texts = {"ar": "الفاتورة وصلت مرتين هذا الشهر", "fa": "پشتیبانی خیلی خوب جواب داد"}
    # an export with dates: the report covers the newest item's month (undated items fall in no period)
    (tmp_path / "exports" / "march.csv").write_text(
        f"id,date,text\nr1,2026-03-05,{texts['ar']}\nr2,2026-03-09,{texts['fa']}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SADA_DATABASE_URL", raising=False)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert [row["language"] for row in namespace["rows"]] == ["ar", "fa"]
    assert (namespace["summary"].rows_read, namespace["summary"].analysed) == (2, 2)
    store = namespace["store"]
    assert store.count(analysis) == 2
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    # every section of the report, with content where there is data and the empty note where there is none
    parts = re.split(r'<section id="([a-z]+)">', html)
    sections = dict(zip(parts[1::2], parts[2::2]))  # each top-level section's HTML, up to the next one
    assert {"headline", "spikes", "sentiment", "themes", "churn", "quotes"} <= set(sections)
    assert 'class="chart"' in sections["sentiment"] and 'class="chart"' in sections["themes"]
    for language, text in texts.items():  # each text quoted as written, in its language
        assert f'lang="{language}">{text}</p>' in sections["quotes"]
    assert "sada churn" in sections["churn"]  # no churn scores yet: the section says which command gives them
    # the headline counts what the store holds, one item in each language
    items = re.search(r'data-kpi="items">(.*?)</div>\s*</div>', html, re.S).group(1)
    assert re.search(r'class="value"><span class="num">(\d+)</span>', items).group(1) == "2"
    assert re.findall(r'<span>(\w+): <span class="num">(\d+)</span></span>', items) == [("Arabic", "1"), ("Persian", "1")]


def test_the_taxonomy_example_is_a_valid_taxonomy():
    """The README's example taxonomy passes `sada themes check` as printed."""
    import yaml

    from sada.pipeline.taxonomy import taxonomy_problems

    blocks = re.findall(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    assert taxonomy_problems(yaml.safe_load(blocks[0])) == []
