"""The template without a cloud: cfn-lint clean, and IAM grants only what the code uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from infra import deploy


def test_rendered_template_passes_cfn_lint(tmp_path: Path) -> None:
    rendered = tmp_path / "template.json"
    rendered.write_text(json.dumps(deploy.render_template()))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(rendered)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
