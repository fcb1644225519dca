"""Writing a report folder: ``report.json`` always, ``report.html`` and ``report.md`` as asked; atomically."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anndata as ad
import jinja2
from markupsafe import Markup, escape

from cell2text.data.io import check_output_path, write_text_atomic
from cell2text.errors import InputError
from cell2text.knowledge.ontology import term_url
from cell2text.report.content import report_data

FORMATS = ("html", "md")


def _escape_md(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _highlight(text: str, claims: list[dict]) -> Markup:
    """The text, HTML-escaped, with each claim's id (or gene) as a badge coloured by its status, linked where it can be."""
    badges = {}
    for claim in claims:
        if claim["id"]:
            title = escape(f"{claim['status']}: {claim['reason']}")
            inner = f'class="claim-id {claim["status"]}" title="{title}"'
            url = claim.get("url")
            badges[claim["id"]] = f'<a {inner} href="{url}">{escape(claim["id"])}</a>' if url else f"<span {inner}>{escape(claim['id'])}</span>"
    escaped = str(escape(text))
    if not badges:
        return Markup(escaped)
    pattern = re.compile(r"(?<![\w:.-])(" + "|".join(re.escape(str(escape(i))) for i in sorted(badges, key=len, reverse=True)) + r")(?![\w-])")
    return Markup(pattern.sub(lambda m: badges[m.group(1)], escaped))


def _value(value: object) -> str:
    if isinstance(value, list):
        if value and isinstance(value[0], dict) and "label" in value[0]:
            return "; ".join(f"{v['label']} ({', '.join(str(v[k]) for k in ('id', 'similarity', 'score') if k in v)})" for v in value)
        return ", ".join(map(str, value)) or "none"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _evidence(record: dict) -> Markup:
    """One evidence record as a line: its source in bold, then its numbers."""
    fields = "; ".join(f"{escape(k.replace('_', ' '))} {escape(_value(v))}" for k, v in record.items() if k != "source")
    return Markup(f"<div><strong>{escape(record.get('source', 'evidence'))}</strong>: {fields}</div>")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cell2text.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=False,
        lstrip_blocks=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(md=_escape_md, highlight=_highlight, term_url=term_url)
    env.globals["evidence"] = _evidence
    return env


def check_formats(formats: tuple[str, ...]) -> None:
    """Raise for a report format that does not exist."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown report format '{unknown[0]}'. Use one of: {', '.join(FORMATS)}.")


def render(data: dict, fmt: str) -> str:
    """The report in one format ("html" or "md") from :func:`report_data`'s dict."""
    check_formats((fmt,))
    return _environment().get_template(f"report.{fmt}.j2").render(**data)


def render_group_card(group: dict) -> str:
    """One group's HTML card (as in the report) from an entry of :func:`report_data`'s ``groups``."""
    return _environment().get_template("group_card.html.j2").render(g=group)


def report_css() -> str:
    """The report's stylesheet, for pages that show its cards (the UI)."""
    return _environment().loader.get_source(_environment(), "report.css")[0]


def write_report(
    adata: ad.AnnData, out_dir: str | Path, *, name: str, formats: tuple[str, ...] = ("html",), inputs: tuple[str | Path, ...] = ()
) -> dict[str, Path]:
    """Write ``report.json`` and ``report.<fmt>`` for each format into ``out_dir`` (created if missing).

    Returns the written paths by format ("json", "html", "md").
    """
    check_formats(formats)
    figures = {}
    if "html" in formats:
        from cell2text.report.figures import embedding_png

        figures["embedding"] = embedding_png(adata)
    return write_report_files(report_data(adata, name=name, figures=figures), out_dir, formats=formats, inputs=inputs)


def write_report_files(
    data: dict, out_dir: str | Path, *, formats: tuple[str, ...] = ("html",), inputs: tuple[str | Path, ...] = ()
) -> dict[str, Path]:
    """Write the files of a report already built by :func:`report_data` (the HTML needs its ``embedding`` figure)."""
    check_formats(formats)
    out_dir = Path(out_dir).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"'{out_dir}' is a file, not a folder. Pass a folder for the report.")
    out_dir.mkdir(parents=True, exist_ok=True)
    for file_name in ("report.json", *(f"report.{fmt}" for fmt in formats)):
        check_output_path(out_dir / file_name, inputs)  # all refused before any is written
    written = {
        "json": write_text_atomic(
            out_dir / "report.json", json.dumps({k: v for k, v in data.items() if k != "figures"}, indent=2, ensure_ascii=False) + "\n", inputs=inputs
        )
    }
    for fmt in formats:
        written[fmt] = write_text_atomic(out_dir / f"report.{fmt}", render(data, fmt), inputs=inputs)
    return written
