"""A question as the router sees it: what it names, read once from the dataset's vocabularies, and the slots every
intent's record fills from it (:mod:`cell2text.agent.chat.intents`).

:class:`Question` holds the question's text, its :class:`Slots` (groups, genes, pathways, obs
columns and values it names) and the group last discussed, and derives what several intents share:
the first group mention, the one group it names (or the last one, for "it"), the condition column
and levels, the obs column to rank by. An intent's slot function turns a Question into a
:class:`Filled`: the answer function's arguments, and a mention that names several groups (the
chat then asks which one is meant).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from cell2text.agent.chat.genes import reference_level
from cell2text.agent.chat.session import DatasetSession
from cell2text.agent.chat.vocabulary import (
    Mention,
    find_columns,
    find_genes,
    find_levels,
    find_pathways,
    gene_like_words,
    group_mentions,
    without_mentions,
)

_FOLLOW_UP = re.compile(r"\b(it|its|that (cluster|group|one)|this (cluster|group|one)|them|those cells|these cells|there)\b", re.IGNORECASE)


@dataclass
class Slots:
    """What a question names, read once and shared by every intent's requirements."""

    mentions: list[Mention]
    genes: list[str]
    pathways: list[str]
    columns: list[str]
    levels: list[tuple[str, str]]
    conditions: list[str] = field(default_factory=list)  # the dataset's condition columns
    symbols: list[str] = field(default_factory=list)  # every gene the question names, measured here or not, in order


def read_slots(session: DatasetSession, question: str) -> Slots:
    """Everything the question names from the dataset's vocabularies."""
    mentions = group_mentions(session, question)
    rest = without_mentions(question, mentions)
    measured, written = find_genes(session, rest), gene_like_words(rest)
    symbols = sorted(set(measured) | set(written), key=lambda g: rest.upper().find(g.upper()))  # in the order written
    return Slots(
        mentions,
        measured or written,
        find_pathways(question),
        find_columns(session, question),
        find_levels(session, question),
        session.condition_columns(),
        symbols,
    )


@dataclass
class Filled:
    """An intent's slots filled from a question: the answer function's arguments, and a mention naming several groups."""

    values: dict[str, Any]
    unclear: Mention | None = None  # a mention that could be several groups: the chat asks which one is meant
    unclear_slot: str = "group"  # the argument the reply to that question fills


class Question:
    """One question with what it names (:class:`Slots`) and the group last discussed in its thread."""

    def __init__(self, session: DatasetSession, text: str, last_group: str | None = None) -> None:
        self.session, self.text, self.last_group = session, text, last_group
        self.slots = read_slots(session, text)

    def says(self, pattern: str) -> bool:
        """Does the question match a regular expression (case-insensitive)?"""
        return re.search(pattern, self.text, re.IGNORECASE) is not None

    @functools.cached_property
    def first(self) -> Mention | None:
        """The first mention that names groups, else the first mention of a cell type no group has."""
        mentions = self.slots.mentions
        return next((m for m in mentions if m.groups), mentions[0] if mentions else None)

    @functools.cached_property
    def group(self) -> str | None:
        """The one group the question names, or the last group discussed when it says "it" / "that cluster"."""
        if self.first is not None and len(self.first.groups) == 1:
            return self.first.groups[0]
        if self.last_group in self.session.groups and _FOLLOW_UP.search(self.text):
            return self.last_group
        return None

    @property
    def unclear(self) -> Mention | None:
        """The first mention, when it names several groups."""
        return self.first if self.first is not None and len(self.first.groups) > 1 else None

    @functools.cached_property
    def condition(self) -> tuple[str | None, str | None, str | None]:
        """(column, level, reference) the question names: its levels, the control-like one as reference."""
        slots = self.slots
        column = next((c for c, _ in slots.levels), None) or next((c for c in slots.columns if c in slots.conditions), None)
        named = [v for c, v in slots.levels if c == column]
        if not named:
            return column, None, None
        reference = reference_level(self.session, column)
        level = next((v for v in named if v != reference), None)
        return column, level, reference if (reference in named or level is not None) else None

    def by(self) -> str | None:
        """The obs column a ranking or an expression question is about, when it is not the groups."""
        column = self.condition[0]
        if column is not None:
            return column
        conditions = self.slots.conditions
        if self.says(r"\b(conditions?|donors?|samples?)\b") and conditions:
            return next((c for c in conditions if self.says(c.split("_")[0][:5])), conditions[0])
        return None
