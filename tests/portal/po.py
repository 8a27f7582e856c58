"""A small reader of gettext .po files for the catalog tests (no gettext tools needed)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    references: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        """The key GNUTranslations gives the entry (context joined by EOT)."""
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"

    @property
    def translated(self) -> bool:
        return "fuzzy" not in self.flags and bool(self.msgstr) and all(self.msgstr.values())

    @property
    def files(self) -> list[str]:
        return [ref.rsplit(":", 1)[0] for ref in self.references]


def read(path) -> list[Entry]:
    """Every entry but the header and obsolete ones."""
    entries: list[Entry] = []
    entry, target = Entry(), None
    started = False

    def finish() -> None:
        nonlocal entry, started
        if started and entry.msgid:
            entries.append(entry)
        entry, started = Entry(), False

    with open(path, encoding="utf-8") as lines:
        for raw in lines:
            line = raw.strip()
            if not line:
                finish()
                continue
            if line.startswith("#~"):
                continue
            if line.startswith("#:"):
                if started:
                    finish()
                entry.references.extend(line[2:].split())
                continue
            if line.startswith("#,"):
                if started:
                    finish()
                entry.flags.update(flag.strip() for flag in line[2:].split(","))
                continue
            if line.startswith("#"):
                continue
            keyword, _, rest = line.partition(" ")
            if line.startswith('"'):
                text = ast.literal_eval(line)
            else:
                text = ast.literal_eval(rest)
                if keyword == "msgctxt" or (keyword == "msgid" and entry.msgctxt is None):
                    if started and keyword == "msgctxt":
                        finish()
                started = True
                target = keyword
            if target == "msgid":
                entry.msgid = (entry.msgid if line.startswith('"') else "") + text
            elif target == "msgid_plural":
                entry.msgid_plural = (entry.msgid_plural or "") + text
            elif target == "msgctxt":
                entry.msgctxt = (entry.msgctxt or "") + text
            elif target == "msgstr":
                entry.msgstr[0] = entry.msgstr.get(0, "") + text
            elif target and target.startswith("msgstr["):
                number = int(target[7:-1])
                entry.msgstr[number] = entry.msgstr.get(number, "") + text
    finish()
    return entries
