"""Errors a user sees: one line on stderr, a non-zero exit, never a traceback.

`KitError` is an `invoke.exceptions.Exit`, so Invoke's program prints the message
and exits with the code without a traceback, however deep the raise.
"""

from invoke.exceptions import Exit


class KitError(Exit):
    """A failure the user can act on; `str()` is the one-line message."""

    def __init__(self, message: str, code: int = 1) -> None:
        first_line = message.strip().splitlines()[0] if message.strip() else "failed"
        super().__init__(f"error: {first_line}", code)
        self.reason = first_line

    def __str__(self) -> str:
        return self.message
