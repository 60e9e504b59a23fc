"""What one ingest did: the articles added, updated, unchanged, removed or given new metadata, the files skipped
with a warning each, and the sentences embedded (`citechat ingest` prints its summary; the Library shows it)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)  # unchanged text, new metadata (only the record rewritten)
    skipped: list[str] = field(default_factory=list)  # warnings, one per unreadable file
    sentences_embedded: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.refreshed)

    def summary(self) -> str:
        refreshed = f" ({len(self.refreshed)} with new metadata)" if self.refreshed else ""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged{refreshed}, {len(self.skipped)} skipped "
            f"({self.sentences_embedded} sentences embedded in {self.seconds:.1f} s)"
        )
