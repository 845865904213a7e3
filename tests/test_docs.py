"""Docs stay in step with the code."""

from pathlib import Path

from disaster_ai.config import DefaultConfig

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_setting_is_documented():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [name for name in vars(DefaultConfig) if name.isupper() and f"`{name}`" not in text]
    assert missing == []


def test_the_readme_gives_the_two_commands_and_ci_runs_the_same_one():
    root = DOCS.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert "\nmake test\n" in (root / ".ci" / "run").read_text(encoding="utf-8")


def test_every_linked_doc_exists():
    import re

    root = DOCS.parent
    for page in [root / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(
            r"\]\(((?:docs/)?[\w./-]+\.md)\)", page.read_text(encoding="utf-8")
        ):
            base = root if target.startswith("docs/") or page.parent == root else page.parent
            assert (base / target).exists(), f"{page.name} links to missing {target}"
