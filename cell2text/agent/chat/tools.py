"""The intent records' answer functions as LangChain tools bound to one dataset, for an external chat model.

Each tool is the record's answer function with the session filled in: its name is the record's,
its description the function's docstring (first paragraph), and its argument schema langchain_core's
own, inferred from the function's signature without ``session``
(:func:`langchain_core.tools.create_schema_from_function`). A tool returns the answer's text;
bad input (an unknown group, say) comes back as ``error: ...`` for the model to read.
"""

from __future__ import annotations

import inspect

from langchain_core.tools import StructuredTool
from langchain_core.tools.base import create_schema_from_function

from cell2text.agent.chat.intents import INTENTS, Intent
from cell2text.agent.chat.session import DatasetSession
from cell2text.errors import InputError


def _tool(intent: Intent, session: DatasetSession) -> StructuredTool:
    """One record's answer function as a tool on ``session``."""

    def run(**arguments) -> str:
        try:
            return intent.answer(session, **arguments).text
        except InputError as exc:
            return f"error: {exc}"

    summary = " ".join(inspect.getdoc(intent.answer).split("\n\n")[0].split())  # the docstring's first paragraph
    schema = create_schema_from_function(intent.name, intent.answer, filter_args=["session"])
    return StructuredTool.from_function(run, name=intent.name, description=summary, args_schema=schema, infer_schema=False)


def session_tools(session: DatasetSession) -> list[StructuredTool]:
    """Every intent record's answer function as a tool bound to one dataset."""
    return [_tool(intent, session) for intent in INTENTS]
