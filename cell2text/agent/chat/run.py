"""Chat about a dataset: questions answered only from the tools, with memory per thread.

:class:`Chat` runs one of the two graphs of :mod:`cell2text.agent.chat.graph` over the same answer
functions (the intent records of :mod:`cell2text.agent.chat.intents`): the embedded router
(default, no external service), or a tool-calling loop with an external LangChain chat model
(``CELL2TEXT_CHAT_MODEL`` or ``Chat(chat_model=...)``).

Memory is LangGraph's SQLite checkpointer, one thread per conversation, so "it" and "that
cluster" resolve across turns and across processes. Dataset values and questions are data,
never instructions: the embedded router only matches them against fixed intents.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.sqlite import SqliteSaver

from cell2text.agent.chat.context import ChatContext
from cell2text.agent.chat.graph import MAX_STEPS, embedded_graph, tool_calling_graph
from cell2text.agent.chat.session import Answer, DatasetSession
from cell2text.agent.describe.claims import CURIE_IN_TEXT
from cell2text.config import get_settings
from cell2text.errors import InputError

MAX_QUESTION_CHARS = 2000


def external_chat_model() -> BaseChatModel | None:
    """The chat model named by ``CELL2TEXT_CHAT_MODEL`` ("provider:model"), or None for the embedded router."""
    settings = get_settings()
    if not settings.chat_model:
        return None
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        raise InputError("CELL2TEXT_CHAT_MODEL needs langchain and the provider's package (e.g. pip install langchain langchain-ollama).") from exc
    kwargs = {"base_url": settings.chat_base_url} if settings.chat_base_url else {}
    return init_chat_model(settings.chat_model, **kwargs)


class Chat:
    """A conversation about one dataset, remembered per thread id in a SQLite file.

    ``chat_model``: any LangChain chat model with tool calling; default ``CELL2TEXT_CHAT_MODEL``,
    else the embedded router (no external service). ``plot_dir``: answers about genes and pathway
    scores also draw a figure there (``Answer.plots``).
    """

    def __init__(
        self,
        session: DatasetSession,
        *,
        chat_model: BaseChatModel | None = None,
        memory: str | Path | None = None,
        plot_dir: str | Path | None = None,
    ) -> None:
        self.session = session
        if plot_dir is not None:
            session.plot_dir = Path(plot_dir)
        path = Path(memory) if memory else get_settings().cache_path("chat", "threads.sqlite")
        self._connection = sqlite3.connect(str(path), check_same_thread=False)
        self.checkpointer = SqliteSaver(self._connection)
        self.chat_model = chat_model if chat_model is not None else external_chat_model()
        self.graph = (
            tool_calling_graph(self.chat_model, session, self.checkpointer) if self.chat_model is not None else embedded_graph(self.checkpointer)
        )

    def _config(self, thread_id: str) -> dict:
        """LangGraph's run config for a thread; the dataset's name keeps threads of different datasets apart."""
        return {"configurable": {"thread_id": f"{self.session.name}:{thread_id}"}, "recursion_limit": MAX_STEPS}

    def ask(self, question: str, thread_id: str = "default") -> Answer:
        """Answer one question in a thread; earlier turns of the thread are remembered."""
        question = (question or "").strip()
        if not question:
            raise InputError("empty question. Ask e.g. 'what cell types are here?'.")
        if len(question) > MAX_QUESTION_CHARS:
            raise InputError(f"the question has {len(question)} characters; the limit is {MAX_QUESTION_CHARS}. Ask a shorter question.")
        config = self._config(thread_id)
        state = self.graph.invoke({"messages": [HumanMessage(question)]}, config=config, context=ChatContext(session=self.session))
        if self.chat_model is None:
            return Answer(**state["answer"])
        reply = state["messages"][-1]
        tools = [m.name for m in state["messages"] if isinstance(m, ToolMessage)]
        return Answer(str(reply.content), "chat-model", {"tools": tools}, CURIE_IN_TEXT.findall(str(reply.content)))

    def history(self, thread_id: str = "default") -> list[tuple[str, str]]:
        """(role, text) of every message in a thread."""
        messages = self.graph.get_state(self._config(thread_id)).values.get("messages", [])
        return [
            ("user" if isinstance(m, HumanMessage) else "assistant", str(m.content))
            for m in messages
            if isinstance(m, HumanMessage) or (isinstance(m, AIMessage) and m.content)
        ]

    def close(self) -> None:
        self._connection.close()
