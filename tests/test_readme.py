"""README.md's Python examples run as written, section by section."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

import _checkout

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _sections():
    text = README.read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    out = []
    for sec in sections:
        title = sec.splitlines()[0].strip()
        blocks = re.findall(r"```python\n(.*?)```", sec, re.S)
        if blocks:
            out.append(pytest.param("\n".join(blocks), id=title[:40]))
    return out


@pytest.mark.parametrize("code", _sections())
def test_readme_section_runs(code, tmp_path):
    # each section's blocks build on each other, so they run as one script,
    # in a fresh interpreter and an empty directory (files it saves go there)
    script = tmp_path / "example.py"
    script.write_text("import matplotlib\nmatplotlib.use('Agg')\n" + code)
    env = dict(os.environ)
    env["PYTHONPATH"] = _checkout.pythonpath(env)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
