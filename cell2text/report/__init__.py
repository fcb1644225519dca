"""Annotated reports (HTML, JSON, Markdown) of a described dataset."""

from cell2text.report.writer import write_report

__all__ = ["write_report"]
