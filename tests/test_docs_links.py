"""Every link and image in README.md and docs/*.md resolves, and the README stays a front page.

Relative paths must exist (relative to the file that holds the link); a ``#anchor`` must match a heading
of the target markdown file under GitHub's slug rules. External links (http, https, mailto) are skipped:
the test needs no network. Links inside fenced code blocks and inline code are not links.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README_MAX_LINES = 200

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target); the text may hold one level of brackets (e.g. an image in a link).
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)"
                         r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_ATTR = re.compile(r"<(?:a|img|source)\b[^>]*?\s(?:href|src)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = ("http://", "https://", "mailto:", "ftp://")


def _prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            continue
        if fence is None:
            yield number, line


def links(path: Path) -> list[tuple[int, str]]:
    """Every link and image target in a markdown file, with its line number."""
    found = []
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        line = INLINE_CODE.sub("", line)
        for match in INLINE_LINK.finditer(line):
            found.append((number, match.group(1).strip("<>")))
        match = REFERENCE_DEF.match(line)
        if match:
            found.append((number, match.group(1).strip("<>")))
        found.extend((number, target) for target in HTML_ATTR.findall(line))
    return found


def _heading_text(raw: str) -> str:
    """A heading as GitHub renders it to text: links become their text, inline markup goes."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    text = re.sub(r"<[^>]+>", "", text)
    return text.replace("`", "").replace("*", "").replace("~~", "")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen."""
    text = unicodedata.normalize("NFC", _heading_text(heading)).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a markdown file's headings (a repeated slug gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    result = set()
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    result.update(re.findall(r"<a\s+(?:name|id)=[\"']([^\"']+)[\"']", path.read_text(encoding="utf-8")))
    return result


def problems(path: Path) -> list[str]:
    """What is wrong with the links of one markdown file, one line each."""
    errors = []
    for number, target in links(path):
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        if not target or target.startswith(EXTERNAL):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not destination.exists():
            errors.append(f"{where}: no such file {destination.relative_to(ROOT) if destination.is_relative_to(ROOT) else destination}")
            continue
        if anchor and destination.suffix.lower() == ".md":
            if unquote(anchor).lower() not in anchors(destination):
                errors.append(f"{where}: no heading with the anchor #{anchor} in {destination.relative_to(ROOT)}")
    return errors


def test_the_docs_exist():
    assert README.is_file()
    assert DOCS, "docs/ holds no markdown files"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(path):
    errors = problems(path)
    assert not errors, "\n".join(errors)


def test_readme_is_a_front_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; keep it to {README_MAX_LINES}"


def test_readme_shows_a_picture_before_the_first_command():
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines()
    first_fence = next((i for i, line in enumerate(lines) if FENCE.match(line)), len(lines))
    first_image = next((i for i, line in enumerate(lines)
                        if re.search(r"!\[[^\]]*\]\(|<img\b", INLINE_CODE.sub("", line), re.IGNORECASE)), None)
    assert first_image is not None, "README.md has no image"
    assert first_image < first_fence, (f"README.md's first image (line {first_image + 1}) comes after its first "
                                       f"code block (line {first_fence + 1})")


def _readme_commands() -> list[str]:
    """The commands of the README's fenced bash blocks under "Set-up", one per block."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL)]


# Flags .ci/run may add to the README's commands: they only make the output quieter.
CI_QUIET_WORDS = {"-q", "--quiet", "-p", "no:cacheprovider"}


def _runs(line: str, command: list[str]) -> bool:
    """Whether a shell line runs ``command``, give or take flags that only quieten it."""
    try:
        words = shlex.split(line)
    except ValueError:
        return False
    if words[:1] != command[:1]:
        return False
    rest = iter(words)
    extra = []
    for word in command:  # command must be a subsequence of words; what it skips is kept in extra
        for candidate in rest:
            if candidate == word:
                break
            extra.append(candidate)
        else:
            return False
    extra.extend(rest)
    return all(word in CI_QUIET_WORDS for word in extra)


def test_ci_runs_the_readme_test_command():
    """.ci/run installs as the README says and runs the README's test command."""
    test_command = next(c for c in _readme_commands() if "pytest" in c)
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    for step in (part.strip() for part in test_command.split("&&")):
        assert any(_runs(line, shlex.split(step)) for line in ci_lines), f".ci/run does not run the README's {step!r}"


def test_slugs_follow_github():
    assert slug("Bad input and faults") == "bad-input-and-faults"
    assert slug("A budget of model calls: `--max-calls`") == "a-budget-of-model-calls---max-calls"
    assert slug("mnist-test-digits.npz — real digits for the playground, offline") == (
        "mnist-test-digitsnpz--real-digits-for-the-playground-offline")
    assert slug("Quality of the fast path: bf16 + channels-last against fp32") == (
        "quality-of-the-fast-path-bf16--channels-last-against-fp32")
    assert slug("σ loss") == "σ-loss"
