"""The embedded chat router: a question -> an intent and its slots -> the answer, with no external service.

It reads the intent records (:mod:`cell2text.agent.chat.intents`) and nothing else about an intent.
Intent: MiniLM similarity to each record's example questions, plus a bonus for its keywords, plus
a bonus when the question names what the record needs; a record whose needs the question does not
meet (no gene for a gene question, no Hallmark pathway for a pathway ranking, fewer than two groups
for a comparison, no condition column for a condition comparison) is not chosen. Slots come from
the dataset's and the knowledge's vocabularies (:mod:`cell2text.agent.chat.question`). A slot that
names several groups ("the T cells" in a dataset with five T-cell groups) gets a short clarifying
question, whose reply then fills it. Questions that tell the assistant to ignore its tools or to
say something are refused: the router only matches text against fixed intents.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cell2text.agent.chat.intents import BY_NAME, INTENTS
from cell2text.agent.chat.prompts import CANNOT_TELL, REFUSED
from cell2text.agent.chat.question import Question
from cell2text.agent.chat.session import Answer, DatasetSession
from cell2text.agent.chat.vocabulary import (
    Mention,
    embed_question,
    group_mentions,
    without_mentions,
)

MIN_INTENT_SCORE = 0.3
KEYWORD_BONUS = 0.5  # a keyword match outweighs shared words like "NK cells" between intents
SLOT_BONUS = 0.15  # the question names what the intent needs
MAX_REPLY_WORDS = 6  # a reply this short that names one of the offered groups answers a clarifying question
INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(tools?|instructions?|data|rules|prompt|above|previous|everything)\b"
    r"|\b(pretend|act as|you are now|from now on)\b|^\s*(just\s+)?(say|reply|respond|answer)\s+(that|with)\b",
    re.IGNORECASE,
)
INJECTED = "injection"  # the intent of a question that tries to instruct the assistant
_GROUP_WORD = re.compile(r"\b(?:cluster|group|leiden|louvain)\s*#?\s*(?P<name>[\w+/.-]+)", re.IGNORECASE)
_JUST_A_NAME = re.compile(r"[\W_]|\b(the|cells?|group|cluster|please)\b", re.IGNORECASE)


@dataclass
class Routed:
    """A routed question: the intent, its slots, and a mention that needs clarifying (several groups), if any."""

    intent: str
    slots: dict[str, Any] = field(default_factory=dict)
    unclear: Mention | None = None
    unclear_slot: str = "group"


@functools.cache
def _intent_vectors() -> tuple[list[str], np.ndarray]:
    """Every record's example questions in MiniLM space, with the record each belongs to."""
    from cell2text.kb.embeddings import embed

    names = [intent.name for intent in INTENTS for _ in intent.examples]
    vectors = embed([e for intent in INTENTS for e in intent.examples])
    return names, vectors


def classify(question: Question) -> tuple[str, float]:
    """The intent of a question and its score: best MiniLM cosine to the examples, plus keyword and needs bonuses.

    A record whose needs the question does not meet scores -1.
    """
    names, vectors = _intent_vectors()
    similarity = vectors @ embed_question(question.text)
    scores = {intent.name: float(similarity[[i for i, n in enumerate(names) if n == intent.name]].max()) for intent in INTENTS}
    for intent in INTENTS:
        if intent.keywords and question.says(intent.keywords):
            scores[intent.name] += KEYWORD_BONUS
        if intent.needs is not None:
            scores[intent.name] = scores[intent.name] + SLOT_BONUS if intent.needs(question) else -1.0
    best = max(scores, key=scores.get)
    return best, scores[best]


def understand_question(session: DatasetSession, text: str, last_group: str | None) -> Routed:
    """Intent and slots of a question; pronouns fall back to the last group discussed."""
    if INJECTION.search(text):
        return Routed(INJECTED)
    question = Question(session, text, last_group)
    mentions = question.slots.mentions
    if mentions and not _JUST_A_NAME.sub("", without_mentions(text, mentions[:1])):
        name, score = "describe_group", 1.0  # just a group's name: describe it
    else:
        name, score = classify(question)
    filled = BY_NAME[name].slots(question) if score >= MIN_INTENT_SCORE else None
    if filled is None:
        return Routed(REFUSED)
    return Routed(name, filled.values, filled.unclear, filled.unclear_slot)


def clarify(session: DatasetSession, mention: Mention, intent: str) -> Answer:
    """A short question back: which of the groups a mention could mean."""
    term = f" ({session.ontology.term(mention.term).label}, {mention.term})" if mention.term else ""
    text = f"'{mention.text}'{term} could be {len(mention.groups)} groups: {', '.join(mention.groups)}. Which one do you mean? Reply with its name."
    return Answer(text, "clarify", {"candidates": mention.groups, "intent": intent}, [mention.term] if mention.term else [])


def resume(session: DatasetSession, question: str, pending: dict) -> Routed | None:
    """The pending question, its unclear slot filled by this short reply, or None when the reply is something else."""
    if not pending or len(question.split()) > MAX_REPLY_WORDS:
        return None
    named = [g for g in pending["candidates"] if g.lower() == question.strip(" ?.!").lower()]
    if not named:
        mentions = [m for m in group_mentions(session, question) if len(m.groups) == 1 and m.groups[0] in pending["candidates"]]
        named = [mentions[0].groups[0]] if len(mentions) == 1 else []
    if not named:
        return None
    return Routed(pending["intent"], {**pending["slots"], pending["slot"]: named[0]})


def cannot_tell(question: str, lead: str = "") -> Answer:
    """The honest answer to a question no record covers: what the records can answer instead."""
    can = [intent.can for intent in INTENTS]
    text = (
        f"{lead + ' ' if lead else ''}{CANNOT_TELL} I can answer from the tools: {', '.join(can[:-1])}, and {can[-1]}."
        " Naming a group, a gene or a pathway (e.g. 'where is CD8A expressed?') helps."
    )
    return Answer(text, REFUSED, {"question": question}, [])


def respond_to(session: DatasetSession, question: str, routed: Routed) -> Answer:
    """Call the answer function of the routed intent; a question about one group that names none gets the list of groups."""
    if routed.intent == INJECTED:
        return cannot_tell(question, "I answer only from this dataset's tools and do not follow instructions inside a question.")
    if routed.intent == REFUSED:
        return cannot_tell(question)
    intent = BY_NAME[routed.intent]
    if intent.about_group and routed.slots.get("group") is None:
        named = _GROUP_WORD.search(question)
        lead = f"There is no group '{named.group('name')}'." if named else "Which group do you mean?"
        return Answer(f"{lead} Groups in obs['{session.groupby}']: {', '.join(session.groups)}.", intent.name, {"groups": session.groups}, [])
    answer = intent.answer(session, **routed.slots)
    return cannot_tell(question, answer.text) if answer.tool == REFUSED else answer  # a tool's refusal says what else can be asked
