"""The chat's graphs: nodes and edges only (the router, the answers and the tools live in their own modules).

* ``embedded_graph`` (default, no external service): START -> understand -> (ask_back | respond)
  -> END. ``understand`` routes the question to an intent record and fills its slots
  (:mod:`cell2text.agent.chat.router`); ``respond`` calls the record's answer function, or
  ``ask_back`` asks which group a slot means (the reply resumes the question).
* ``tool_calling_graph`` (an external LangChain chat model): START -> agent <-> tools -> END, the
  records' answer functions as tools (:mod:`cell2text.agent.chat.tools`). A turn has at most
  ``MAX_STEPS`` graph steps; a model still calling tools when too few are left for the tools and
  another answer ends the turn with a plain "can't tell" message instead of LangGraph's
  ``GraphRecursionError`` (the last-step guard of LangGraph's react-agent template, on
  ``RemainingSteps``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, SystemMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.runtime import Runtime

from cell2text.agent.chat.context import ChatContext
from cell2text.agent.chat.prompts import STEP_LIMIT, SYSTEM_PROMPT
from cell2text.agent.chat.router import (
    Routed,
    clarify,
    respond_to,
    resume,
    understand_question,
)
from cell2text.agent.chat.session import Answer, DatasetSession
from cell2text.agent.chat.state import ChatState, InputState
from cell2text.agent.chat.tools import session_tools
from cell2text.agent.chat.vocabulary import Mention
from cell2text.errors import InputError

MAX_STEPS = 25  # graph steps per turn: an external chat model gets about a dozen tool rounds, then a plain answer
MIN_STEPS_TO_CALL_TOOLS = 3  # a tool call needs this step, the tools' step and the model's next answer (RemainingSteps counts this one)


# --------------------------------------------------------------------------- embedded: router -> answer
def understand(state: ChatState, runtime: Runtime[ChatContext]) -> dict:
    """Route the latest question to an intent and fill its slots; a short reply to a clarifying question resumes it."""
    session, question = runtime.context.session, state.messages[-1].content
    routed = resume(session, question, state.pending) or understand_question(session, question, state.last_group)
    unclear = asdict(routed.unclear) | {"slot": routed.unclear_slot} if routed.unclear is not None else {}
    return {"intent": routed.intent, "slots": routed.slots, "unclear": unclear, "pending": {}}


def needs_clarifying(state: ChatState) -> Literal["ask_back", "respond"]:
    """Ask back when a slot names several groups; otherwise answer."""
    return "ask_back" if state.unclear else "respond"


def ask_back(state: ChatState, runtime: Runtime[ChatContext]) -> dict:
    """A short question: which of the groups is meant; the question waits for the reply."""
    unclear = dict(state.unclear)
    slot = unclear.pop("slot")
    answer = clarify(runtime.context.session, Mention(**unclear), state.intent)
    pending = {"intent": state.intent, "slots": state.slots, "slot": slot, "candidates": answer.data["candidates"]}
    return {"messages": [AIMessage(answer.text)], "answer": answer.to_dict(), "pending": pending}


def respond(state: ChatState, runtime: Runtime[ChatContext]) -> dict:
    """Answer from the intent's answer function; bad input (an unknown group) is said, not raised."""
    try:
        answer = respond_to(runtime.context.session, state.messages[-1].content, Routed(state.intent, state.slots))
    except InputError as exc:
        answer = Answer(str(exc)[0].upper() + str(exc)[1:], state.intent, {}, [])
    update = {"messages": [AIMessage(answer.text)], "answer": answer.to_dict()}
    return update | ({"last_group": answer.group} if answer.group else {})


def embedded_graph(checkpointer: BaseCheckpointSaver | None = None):
    """START -> understand -> (ask_back | respond) -> END."""
    builder = StateGraph(ChatState, input_schema=InputState, context_schema=ChatContext)
    builder.add_node("understand", understand)
    builder.add_node("ask_back", ask_back)
    builder.add_node("respond", respond)
    builder.add_edge(START, "understand")  # intent and slots from the question
    builder.add_conditional_edges("understand", needs_clarifying)  # a slot naming several groups: ask which
    builder.add_edge("ask_back", END)  # the reply resumes the question (understand reads state.pending)
    builder.add_edge("respond", END)  # the answer function's answer
    return builder.compile(checkpointer=checkpointer, name="chat")


# --------------------------------------------------------------------------- external chat model: agent <-> tools
def tool_calling_graph(chat_model: BaseChatModel, session: DatasetSession, checkpointer: BaseCheckpointSaver | None = None):
    """START -> agent <-> tools -> END, for an external chat model that supports tool calling."""
    tools = session_tools(session)
    bound = chat_model.bind_tools(tools)

    def agent(state: ChatState) -> dict:
        """The chat model answers or calls tools; with too few steps left for another tool round, a plain message ends the turn."""
        reply = bound.invoke([SystemMessage(SYSTEM_PROMPT), *state.messages])
        if getattr(reply, "tool_calls", None) and state.remaining_steps < MIN_STEPS_TO_CALL_TOOLS:
            return {"messages": [AIMessage(id=reply.id, content=STEP_LIMIT)]}
        return {"messages": [reply]}

    builder = StateGraph(ChatState, input_schema=InputState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "agent")  # the model reads the conversation
    builder.add_conditional_edges("agent", tools_condition)  # tool calls go to the tools, a plain answer ends the turn
    builder.add_edge("tools", "agent")  # tool results go back to the model
    return builder.compile(checkpointer=checkpointer, name="chat-tools")
