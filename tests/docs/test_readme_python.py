"""The README's "Python" section is run as written, block after block in one namespace, against
a live server, so that its examples of gonk.Client cannot go stale.

The section is read from README.md; `GONK_README_PYTHON=<file>` reads it from another Markdown
file instead (a draft of the section, before it is pasted into the README)."""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.storage import running_site

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "## Python"


def _section() -> str:
    source = Path(os.environ.get("GONK_README_PYTHON") or README)
    text = source.read_text()
    assert f"\n{HEADING}\n" in f"\n{text}", f"{source} has no '{HEADING}' section"
    section = f"\n{text}".split(f"\n{HEADING}\n", 1)[1]
    return section.split("\n## ", 1)[0]


def _blocks(section: str) -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "the Python section has no python code block"
    return blocks


@pytest.fixture
def site(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    with running_site(tmp_path / "data", "sqlite-files", request, ["alice"]) as running:
        yield running


def test_the_python_section_runs_as_written(site: SimpleNamespace, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    (work / "photos" / "2024").mkdir(parents=True)
    (work / "photos" / "2024" / "heron.jpg").write_bytes(b"\xff\xd8\xff a heron")
    (work / "photos" / "2024" / "gull.jpg").write_bytes(b"\xff\xd8\xff a gull")
    (work / "photos" / ".DS_Store").write_bytes(b"left out")
    (work / "owl.jpg").write_bytes(b"\xff\xd8\xff an owl")
    monkeypatch.chdir(work)
    monkeypatch.setenv("GONK_URL", site.base)
    monkeypatch.setenv("GONK_API_KEY", site.key)
    monkeypatch.setenv("GONK_CACHE", str(tmp_path / "cache"))

    namespace: dict[str, object] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in _blocks(_section()):
            exec(compile(block, "README.md (Python section)", "exec"), namespace)
    output = printed.getvalue()

    assert "Imported 2 files" in output and "skipped 0 already in the dataset" in output
    assert re.search(r"^create object 2024/heron\.jpg 11$", output, re.M), output
    assert "create annotation" in output
    assert re.search(r"^[0-9a-f-]{36} 1 2024/gull\.jpg$", output, re.M), output
    assert "10 bytes in version 0" in output
    assert (work / "owl-v0.jpg").read_bytes() == b"\xff\xd8\xff an owl"
    assert "'accepted': 4" in output and "pending: " in output
    assert "5 files written, 6 downloaded" in output  # 4 objects, the schema; + 1 annotation
    assert "0 downloaded, 6 from the cache" in output
    assert (work / "birds-v1.0" / "manifest.jsonl").is_file()
    assert ((work / "birds-v1.0-copy" / "objects" / "owl.jpg").read_bytes()
            == b"\xff\xd8\xff an owl")
    assert "[{'label': 'owl'}]" in output
    assert re.search(r"^\d+ events verified$", output, re.M), output
    assert "409 An object with the same bytes already exists" in output
    assert "422 [{" in output
