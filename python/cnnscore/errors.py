"""The one exception type that reaches the user.

Every failure caused by the user's input (files, records, flags) is raised as ``InputError`` with a
message that names the file and, where there is one, the record. The CLI prints it as a single line
and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class InputError(Exception):
    """A problem with the user's input, reported as one line."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        record: str | None = None,
        setting: str | None = None,
    ):
        self.path = path
        self.record = record
        self.message = message
        #: the stage's setting at fault (``threads``), named in the stage's own terms; the command
        #: line shows it as its flag (cli.parser), other callers see the setting's name
        self.setting = setting
        where = path or (setting and setting.replace("_", "-"))
        parts = [p for p in (where, f"record {record}" if record else None) if p]
        super().__init__(": ".join([*parts, message]))

    def shown_with(self, flag: str) -> str:
        """The one line, with the setting named by the flag the user typed."""
        parts = [p for p in (flag, f"record {self.record}" if self.record else None) if p]
        return ": ".join([*parts, self.message])

    def __reduce__(self):
        # Raised in encoder worker processes and re-raised in the parent: keep it picklable.
        return (_rebuild, (self.message, self.path, self.record, self.setting))


def _rebuild(
    message: str, path: str | None, record: str | None, setting: str | None = None
) -> InputError:
    return InputError(message, path=path, record=record, setting=setting)
