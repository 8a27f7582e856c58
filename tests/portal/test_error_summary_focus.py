"""Every error summary in the templates loads the script that focuses it (tests/e2e/
test_error_focus.py shows the focus in a browser)."""

from __future__ import annotations


def test_every_error_summary_in_the_templates_brings_the_focus_script():
    """A box added later gets the same focus: each ``id="form-errors"`` is followed by the
    include that loads the script (the script is loaded only where a box is shown)."""
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "templates"
    missing = []
    for path in templates.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        boxes = html.count('id="form-errors"')
        if boxes != html.count('{% include "includes/_focus_error_summary.html" %}'):
            missing.append(str(path.relative_to(templates)))
    assert not missing, missing
