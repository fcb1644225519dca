"""What every chat node reads at run time: the dataset the conversation is about."""

from __future__ import annotations

from dataclasses import dataclass

from cell2text.agent.chat.session import DatasetSession


@dataclass(kw_only=True)
class ChatContext:
    """Run-time context of the chat graphs."""

    session: DatasetSession  # the dataset, its verified description and what answers share
