"""The chat graph's state: a conversation's messages, and what the embedded router keeps between its steps and turns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from langgraph.managed import RemainingSteps


@dataclass
class InputState:
    """What a turn brings in: the new message (earlier ones come from the thread's checkpoint)."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)


@dataclass
class ChatState(InputState):
    """A conversation: its messages, the group last discussed, the routed question and the last answer's data."""

    last_group: str | None = None  # resolves "it" / "that cluster"
    intent: str = ""  # the intent record the question was routed to
    slots: dict = field(default_factory=dict)  # its answer function's arguments
    unclear: dict = field(default_factory=dict)  # a slot naming several groups: its text, groups and term
    pending: dict = field(default_factory=dict)  # the question a clarifying question is waiting on: intent, slots, slot, candidates
    answer: dict = field(default_factory=dict)  # the last Answer as a dict (text, tool, data, ids, plots)
    remaining_steps: RemainingSteps = 0  # managed by LangGraph: steps left before the turn's recursion limit (tool-calling graph)
