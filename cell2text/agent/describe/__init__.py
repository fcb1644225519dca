"""describe: one verified text per group of cells, written back into the AnnData.

The pipeline (``run.describe``) prepares the data, drafts with the model where it fits the data
(or from the marker evidence where it does not), and runs the LangGraph in ``graph.py``: draft ->
extract claims (``claims.py``) -> verify them with the hard checks (``checks.py``) -> retrieve
definitions -> revise (``revise.py``) until every claim is supported or marked. ``state.py`` holds
the graph's state, ``context.py`` what every node reads. The chat (``cell2text.agent.chat``) reads
describe's results; describe never imports the chat.
"""

from cell2text.agent.describe.run import CLUSTER_KEY, MAX_GROUPS, Progress, check_groups, describe, read_result

__all__ = ["CLUSTER_KEY", "MAX_GROUPS", "Progress", "check_groups", "describe", "read_result"]
