"""chat: questions about a described dataset, answered only from the tools, with memory per thread.

``run.Chat`` is the front. Questions go through the graph in ``graph.py`` (state in ``state.py``,
run-time context in ``context.py``): the embedded router (``router.py``) reads one record per kind
of question (``intents.py``: examples, keywords, needs, slots, answer function) and what a question
names (``question.py``, from the vocabularies in ``vocabulary.py``); an external chat model calls
the same answer functions as tools (``tools.py``, prompts in ``prompts.py``). The answers:
``about_group.py`` (one group), ``across_groups.py`` (all groups), ``genes.py``, ``dataset.py``
(metadata), ``terms.py`` (ontology terms), ``conditions.py`` (a small graph comparing two levels
of a condition within each group); figures in ``plots.py``. ``session.py`` holds the dataset, its
cached describe result and what answers share. Evidence is judged by the rulebook
(:mod:`cell2text.tools.evidence`) at the thresholds the describe run stored. The chat reads
describe's results; describe never imports the chat.
"""

from cell2text.agent.chat.run import Chat
from cell2text.agent.chat.session import Answer, DatasetSession

__all__ = ["Answer", "Chat", "DatasetSession"]
