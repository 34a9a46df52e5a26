"""Every Python block of the README runs as written, with nothing undefined."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_its_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("k", range(len(BLOCKS)))
def test_readme_block_runs(k, tmp_path, monkeypatch):
    code = BLOCKS[k]
    if "pfda_quantum" in code:
        pytest.importorskip("qiskit")
        pytest.importorskip("qiskit_aer")
    monkeypatch.chdir(tmp_path)  # blocks that save files write here
    exec(compile(code, f"README.md block {k}", "exec"), {"__name__": "readme"})
