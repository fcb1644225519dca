"""Chat about the demo dataset: every answer comes from the tools, memory persists per thread."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

from cell2text.agent.chat import Chat, DatasetSession
from cell2text.agent.chat.graph import MAX_STEPS, tool_calling_graph
from cell2text.agent.chat.prompts import STEP_LIMIT
from cell2text.errors import InputError


@pytest.fixture(scope="module")
def session():
    session = DatasetSession.open(None)
    session.result()
    return session


@pytest.fixture()
def chat(session, tmp_path):
    chat = Chat(session, memory=tmp_path / "threads.sqlite")
    yield chat
    chat.close()


def test_follow_ups_resolve_within_a_thread_only(chat):
    assert chat.ask("describe CD56+ NK", "one").group == "CD56+ NK"
    assert chat.ask("what markers does it have?", "one").group == "CD56+ NK"
    other = chat.ask("what markers does it have?", "two")
    assert other.group is None and "Which group do you mean?" in other.text
    assert [role for role, _ in chat.history("one")] == ["user", "assistant"] * 2


def test_an_unknown_group_gets_the_valid_ones(chat, session):
    answer = chat.ask("describe cluster 42")
    assert "There is no group '42'" in answer.text
    assert all(group in answer.text for group in session.groups)


def test_a_claim_the_data_contradicts_is_said_to_be_contradicted(chat):
    answer = chat.ask("why do you call CD19+ B hepatocytes?")
    assert answer.tool == "explain" and "contradicted" in answer.text
    assert {"CL:0000182", "CL:0000236"} <= set(answer.ids)


def test_a_list_of_genes_is_shown_across_the_groups_in_one_dot_plot(session, tmp_path):
    chat = Chat(session, memory=tmp_path / "threads.sqlite", plot_dir=tmp_path / "figures")
    answer = chat.ask("show CD3E, MS4A1, GNLY and LYZ across the groups")
    assert answer.tool == "gene_panel" and answer.data["genes"] == answer.ids == ["CD3E", "MS4A1", "GNLY", "LYZ"]
    assert answer.data["top"] == {"CD3E": "CD4+/CD25 T Reg", "MS4A1": "CD19+ B", "GNLY": "CD56+ NK", "LYZ": "Dendritic"}
    assert "- GNLY: highest in CD56+ NK" in answer.text and "up there against the other cells" in answer.text
    figure = tmp_path / "figures" / "dotplot-CD3E-MS4A1-GNLY-LYZ.png"
    assert answer.plots == [str(figure)] and figure.read_bytes()[:4] == b"\x89PNG"
    unmeasured = chat.ask("show CD3E, MS4A1, CD14 and PPBP across the groups")  # the demo's 765 genes lack CD14 and PPBP
    assert unmeasured.tool == "gene_panel" and unmeasured.ids == ["CD3E", "MS4A1"]
    assert unmeasured.data["not_measured"] == ["CD14", "PPBP"] and "Not measured here: CD14, PPBP." in unmeasured.text
    chat.close()


def test_bad_questions_are_refused(chat):
    with pytest.raises(InputError, match="empty question"):
        chat.ask("   ")
    with pytest.raises(InputError, match="limit is 2000"):
        chat.ask("why " * 600)


class ScriptedChatModel(GenericFakeChatModel):
    """A chat model that replays fixed messages (tool calls, then an answer) and accepts tools."""

    def bind_tools(self, tools, **kwargs):
        return self


def test_an_external_chat_model_runs_the_same_tools(session, tmp_path):
    script = iter(
        [
            AIMessage("", tool_calls=[{"name": "markers", "args": {"group": "CD19+ B"}, "id": "call-1"}]),
            AIMessage("CD19+ B is a B cell (CL:0000236); CD79A separates it from the rest."),
        ]
    )
    chat = Chat(session, chat_model=ScriptedChatModel(messages=script), memory=tmp_path / "threads.sqlite")
    answer = chat.ask("which markers separate the B cells?", "ext")
    assert answer.tool == "chat-model" and answer.data["tools"] == ["markers"] and answer.ids == ["CL:0000236"]
    state = chat.graph.get_state({"configurable": {"thread_id": f"{session.name}:ext"}}).values
    tool_output = next(m for m in state["messages"] if m.type == "tool").content
    assert "CD79A: log2FC" in tool_output  # the real Wilcoxon result reached the model
    chat.close()


def _forever() -> ScriptedChatModel:
    """A real chat model object (LangChain's fake chat model replaying messages) that calls a tool in every reply."""
    calls = (AIMessage("", tool_calls=[{"name": "markers", "args": {"group": "CD19+ B"}, "id": f"call-{i}"}]) for i in itertools.count())
    return ScriptedChatModel(messages=calls)


def test_a_chat_model_that_never_stops_calling_tools_gets_a_plain_answer(session, tmp_path):
    """At the step limit the turn ends with "can't tell" (the react-agent template's guard), not a GraphRecursionError."""
    assert MAX_STEPS < 100  # the turn is bounded by the chat's own step limit, not LangGraph's default of thousands
    chat = Chat(session, chat_model=_forever(), memory=tmp_path / "threads.sqlite")
    answer = chat.ask("which markers separate the B cells?", "loop")
    assert answer.tool == "chat-model" and answer.text == STEP_LIMIT and len(answer.data["tools"]) >= 5
    assert chat.ask("and the NK cells?", "loop").text == STEP_LIMIT  # the thread goes on after a turn that hit the limit
    chat.close()


@pytest.mark.parametrize("limit", [3, 4, 5, 6, 7, MAX_STEPS])
def test_the_last_step_guard_holds_at_any_recursion_limit(session, limit):
    """Whether the limit falls on the model's step or the tools' step, the turn ends with the plain message."""
    graph = tool_calling_graph(_forever(), session)
    state = graph.invoke({"messages": [HumanMessage("which markers separate the B cells?")]}, config={"recursion_limit": limit})
    assert state["messages"][-1].content == STEP_LIMIT and not state["messages"][-1].tool_calls


ASK = """
import json, sys
from cell2text.agent.chat import Chat, DatasetSession
chat = Chat(DatasetSession.open(None), memory=sys.argv[1])
print(json.dumps(chat.ask(sys.argv[2], "persisted").to_dict()))
"""


def test_memory_persists_across_processes(session, tmp_path):
    memory = str(tmp_path / "threads.sqlite")

    def ask(question: str) -> dict:
        done = subprocess.run([sys.executable, "-c", ASK, memory, question], capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert ask("describe CD14+ Monocyte")["group"] == "CD14+ Monocyte"
    follow_up = ask("and which pathways are active in it?")
    assert follow_up["tool"] == "pathways" and follow_up["group"] == "CD14+ Monocyte"
    assert "HALLMARK_COMPLEMENT" in follow_up["ids"]
