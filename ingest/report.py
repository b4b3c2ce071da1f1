"""What an import says back to staff: per-row errors and a one-line summary per sheet.

Memory stays flat whatever the file: `errors` keeps the first MAX_KEPT_ERRORS errors (what
the command line and the upload page show), `error_count` and `bad_lines` count all of
them. Add errors with `add_error` (it keeps the counts)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RowError:
    line: int
    column: str
    reason: str

    def __str__(self):
        return f"第 {self.line} 行「{self.column}」：{self.reason}"


MAX_KEPT_ERRORS = 1000  # errors kept for the report; the rest are counted (and go to .rejects.csv)


@dataclass
class Report:
    path: Path
    sheet: str | None = None
    title: str | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    refused: str | None = None  # whole file refused before any row was read
    already_loaded_at: str | None = None
    ignored_headers: list[str] = field(default_factory=list)
    rejects_path: Path | None = None
    written: bool = False
    # dry run: nothing is ever written; would_write says the sheet passed and would be
    dry_run: bool = False
    would_write: bool = False
    # every error, kept or not (errors beyond MAX_KEPT_ERRORS are only counted)
    error_count: int = 0
    bad_line_count: int = 0
    _last_error_line: int | None = field(default=None, repr=False, compare=False)
    # the errors of the chunk being loaded (the loader takes them for the rejects file)
    recent_errors: list[RowError] = field(default_factory=list, repr=False, compare=False)
    seconds: float | None = None  # how long loading the sheet took

    def add_error(self, line, column, reason) -> None:
        error = RowError(line, column, reason)
        self.error_count += 1
        if line != self._last_error_line:  # a row's errors come together
            self.bad_line_count += 1
            self._last_error_line = line
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(error)
        self.recent_errors.append(error)

    @property
    def ok(self) -> bool:
        """The import succeeded (for a dry run: would succeed)."""
        return self.refused is None and (self.written or self.would_write
                                         or self.already_loaded_at is not None)

    @property
    def bad_lines(self) -> int:
        if self.error_count:
            return self.bad_line_count
        return len({e.line for e in self.errors})  # errors appended directly

    @property
    def label(self) -> str:
        name = self.path.name + (f"［{self.sheet}］" if self.sheet else "")
        return f"{self.title} {name}" if self.title else name

    def summary(self) -> str:
        if self.dry_run:
            return self._dry_run_summary()
        if self.refused:
            return f"{self.label}：拒绝导入。{self.refused}"
        if self.already_loaded_at:
            return f"{self.label}：已于 {self.already_loaded_at} 导入过，本次未做任何修改"
        if not self.written:
            return f"{self.label}：有 {self.bad_lines} 行错误，整个文件未写入任何数据"
        text = f"{self.label}：新增 {self.added} 行，更新 {self.updated} 行，未变 {self.unchanged} 行"
        if self.errors:
            text += f"，跳过错误行 {self.bad_lines} 行（见 {self.rejects_path.name}）"
        return text

    def _dry_run_summary(self) -> str:
        if self.refused:
            return f"{self.label}：拒绝导入。{self.refused}"
        if self.already_loaded_at:
            return f"{self.label}：已于 {self.already_loaded_at} 导入过，再次导入不会做任何修改"
        if not self.would_write:
            return f"{self.label}：有 {self.bad_lines} 行错误，整个文件不能导入"
        text = f"{self.label}：将新增 {self.added} 行，更新 {self.updated} 行，未变 {self.unchanged} 行"
        if self.errors:
            text += f"，将跳过错误行 {self.bad_lines} 行"
        return text
