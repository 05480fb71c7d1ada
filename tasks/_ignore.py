"""Build-context hygiene: Docker's .dockerignore rules, and the paths that must never
reach a build context (logs, env files, chain data, secrets)."""

from __future__ import annotations

import os
import re

# Paths a build context must never carry (logs, env files, chain data, secrets).
SENSITIVE = {
    "logs": ["op-node.log", "logs/nethermind.log"],
    "env files": [".env", ".env.sepolia", "deploy/.env", "mainnet.env"],
    "data": ["data/nethermind_db/mainnet/state/000001.sst", "op-node-data/opnode_p2p_priv.txt"],
    "secrets": ["jwt.hex", "jwtsecret", "secrets/jwt.hex", "tls/node.key", "tls/node.pem"],
}
SENSITIVE_PATTERNS = "\n".join([
    "**/.env", "**/.env.*", "**/*.env", "**/*.log", "**/logs", "**/data", "**/*-data",
    "**/jwt.hex", "**/jwtsecret*", "**/*.jwt", "**/*.hex", "**/*.key", "**/*.pem"])


def _pattern_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern as a regex (Go filepath.Match plus `**`)."""
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = pattern.find("]", i)
            if end == -1:
                out += re.escape(ch)
            else:
                cls = pattern[i + 1:end].replace("\\", "\\\\")
                out += "[" + ("^" + cls[1:] if cls.startswith("^") else cls) + "]"
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1])
            i += 1
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + r"\Z")


def read_ignore(text: str) -> list[tuple[bool, re.Pattern]]:
    """Parsed .dockerignore lines: (negated, regex), in order."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        line = os.path.normpath(line[1:].strip() if negated else line).lstrip("/")
        rules.append((negated, _pattern_regex(line)))
    return rules


def is_ignored(rules: list[tuple[bool, re.Pattern]], path: str) -> bool:
    """Whether PATH (relative to the context) stays out of the build context.

    A pattern that matches a parent directory excludes everything below it; the last
    matching pattern decides, as in Docker's own matcher.
    """
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    ignored = False
    for negated, regex in rules:
        if any(regex.match(p) for p in prefixes):
            ignored = not negated
    return ignored


def leaks(rules: list[tuple[bool, re.Pattern]],
          samples: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Sensitive sample paths the rules would let into a build context, by kind."""
    found = {}
    for kind, paths in (samples or SENSITIVE).items():
        bad = [p for p in paths if not is_ignored(rules, p)]
        if bad:
            found[kind] = bad
    return found
