"""A client file can never take the process down: whatever its bytes, ``ConfigError`` with ``FILE:LINE``.

``serve`` re-reads its files on SIGHUP and keeps the running configuration when the re-read raises
``ConfigError``; anything else (``RecursionError``, ``UnicodeDecodeError``, running out of memory) would
end it. Each case below is a file a hostile or careless user could write.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from campaign_bridge.config.document import MAX_DEPTH, MAX_FILE_BYTES
from campaign_bridge.config.loader import load_config
from campaign_bridge.errors import ConfigError

HEAD = "client: x\nconnections:\n  crm: {type: memory-crm}\n  ma: {type: memory-ma}\n"  # 4 lines


def _bomb(levels: int, width: int) -> str:
    """A "billion laughs": each anchor is a list of ``width`` aliases of the one before."""
    lines = [HEAD, "l0: &l0 [" + ", ".join(["lol"] * width) + "]\n"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]\n" for i in range(1, levels)]
    return "".join(lines)


def _alias_chain(length: int) -> str:
    """Each anchor holds the one before: shallow as written, ``length`` deep once the aliases are expanded."""
    return HEAD + "c0: &c0 [x]\n" + "".join(f"c{i}: &c{i} [*c{i - 1}]\n" for i in range(1, length))


# name → (the file's bytes, the line refused, what the message says)
HOSTILE: dict[str, tuple[bytes, int, str]] = {
    # 22**4 = 234,256 values once expanded (just past MAX_NODES, so the old loader built it in under a
    # second); the same file with more levels is the 4 KB one that took gigabytes.
    "alias bomb": (_bomb(4, 22).encode(), 8, "expands to more than 200,000 values through aliases"),
    "recursive anchor": ((HEAD + "rules: &r [*r]\n").encode(), 5, "the alias *r is inside its own anchor &r"),
    "5,000-deep nesting": (
        (HEAD + "rules: " + "[" * 5000 + "]" * 5000 + "\n").encode(),
        5,
        f"nested more than {MAX_DEPTH} levels deep",
    ),
    # c48, on line 53, is the first too deep: the file's mapping, c48's list, then c47's 49 levels.
    "deep through aliases": (_alias_chain(MAX_DEPTH + 5).encode(), 5 + MAX_DEPTH - 2, "nested more than"),
    "Latin-1": ((HEAD + "# café\n").encode("latin-1"), 5, "the file is not UTF-8: byte 0xe9"),
    "UTF-16 with a byte-order mark": (HEAD.encode("utf-16"), 1, "the file is UTF-16-encoded"),
    "UTF-16 without a byte-order mark": (HEAD.encode("utf-16-le"), 1, "the character U+0000"),
    "a control character": ((HEAD + "rules: [\x07]\n").encode(), 5, "the character U+0007"),
    "duplicate top-level key": (
        (HEAD + "client: y\n").encode(),
        5,
        "the key 'client' is given twice in one mapping (first on line 1)",
    ),
    "duplicate key in a rule": (
        (
            HEAD + "rules:\n  - name: a\n    from: {connection: crm, campaign: C}\n"
            "    to: {connection: ma, list: L}\n    to: {connection: ma, list: M}\n"
        ).encode(),
        9,
        "the key 'to' is given twice in one mapping (first on line 8)",
    ),
    "a list as a key": ((HEAD + "? [a, b]\n: x\n").encode(), 5, "a key must be a single word or value"),
    "too large": (
        # A syntax error first, so the old loader refused it at once (without the size as the reason).
        b"client: [\n" + (b"#" * 99 + b"\n") * (MAX_FILE_BYTES // 100 + 1),
        MAX_FILE_BYTES // 100 + 2,  # the line the limit falls in: 10 bytes on line 1, then 100 a line
        f"larger than {MAX_FILE_BYTES:,} bytes",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_file_is_refused_with_its_line(case: str, tmp_path: Path) -> None:
    content, line, message = HOSTILE[case]
    path = tmp_path / "client.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    [problem] = refused.value.problems
    assert (problem.file, problem.line) == (str(path), line), problem
    assert message in problem.message


def test_validate_refuses_a_hostile_file_with_exit_2(tmp_path: Path) -> None:
    """Through the real command, in its own process: a clean refusal, not a traceback."""
    path = tmp_path / "client.yaml"
    path.write_text(HEAD + "rules: &r [*r]\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "campaign_bridge.cli", "validate", str(path), "--offline"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"{path}:5: the alias *r is inside its own anchor &r" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_utf8_byte_order_mark_is_read_as_utf8(tmp_path: Path) -> None:
    # Windows editors write one; it names the encoding we read, so it is no reason to refuse.
    path = tmp_path / "client.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (HEAD + "rules: []\n").encode())
    assert load_config(path).client == "x"


def test_anchors_and_aliases_within_the_limits_still_work(tmp_path: Path) -> None:
    path = tmp_path / "client.yaml"
    path.write_text(
        HEAD
        + "rules:\n"
        + "  - {name: a, from: {connection: crm, campaign: A}, to: &nurture {connection: ma, list: Nurture}}\n"
        + "  - {name: b, from: {connection: crm, campaign: B}, to: *nurture}\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert [r.target.container_name for r in config.rules] == ["Nurture", "Nurture"]
