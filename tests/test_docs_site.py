"""The documentation site builds with `mkdocs build --strict`, and holds what README promises."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def site_url() -> str:
    match = re.search(r"^site_url: (\S+)$", (ROOT / "mkdocs.yml").read_text(), flags=re.M)
    assert match is not None, "mkdocs.yml names no site_url"
    return match[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the site as CI does, into a temporary folder; return that folder."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr
    return out


def test_the_api_reference_is_generated_from_the_docstrings(site: Path) -> None:
    page = (site / "reference" / "verifying" / "index.html").read_text()
    assert 'id="accesstoken.TokenVerifier"' in page
    assert 'id="accesstoken.TokenVerifier.verify_async"' in page
    # A sentence of TokenVerifier.verify's docstring, so the page is more than headings.
    assert "Raises" in page
    testing = (site / "reference" / "testing" / "index.html").read_text()
    assert "token_issuer_factory" in testing


def test_the_changelog_is_a_page_of_the_site(site: Path) -> None:
    page = (site / "changelog" / "index.html").read_text()
    assert 'id="unreleased"' in page
    assert "Keep a Changelog" in page
    assert "--8&lt;--" not in page


def test_readme_links_to_pages_the_site_has(site: Path) -> None:
    url = site_url()
    links = re.findall(re.escape(url) + r"([^\s)>\]]*)", (ROOT / "README.md").read_text())
    assert "" in links, "README links to the site's home"
    assert "reference/verifying/" in links
    for path in links:
        assert (site / path / "index.html").is_file(), f"README links to {url}{path}"


def test_the_documentation_url_is_the_site(site: Path) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()  # tomllib is Python 3.11+
    assert f'Documentation = "{site_url()}"' in pyproject
    assert site_url().startswith("https://")
    assert (site / "index.html").is_file()
