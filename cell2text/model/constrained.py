"""Constrained decoding: after a trigger ("consists of a", "Tissue:"), only a name from that field's list may follow.

One prefix trie per field over the tokenised names, flattened into tensors: node ``n``'s children are
``tokens[start[n]:start[n + 1]]`` (sorted) leading to ``child[...]``; a complete name also has edges
for its ending tokens ("." or ",") that lead out of the trie (``FREE``). The ``LogitsProcessor``
keeps every row's node on the logits' device and follows the token just generated, so decoding
never copies the sequences to the host (one sync per token stalls a GPU). While a row is inside a
name, every token without an edge is masked. Every description then names a real term, and reading
the term back is an exact lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch
from transformers import LogitsProcessor

from cell2text.model.lm import token_ids

FREE = -1  # a row outside every name: no constraint
_END = -1  # key marking a complete name in the nested trie


@dataclass(frozen=True)
class Span:
    """One constrained span: the text after ``trigger`` is one of ``names``, then one of ``enders``."""

    trigger: str
    names: list[str]
    enders: tuple[str, ...] = (".", ",")


class NameTrie:
    """The tries of several spans, flattened into one numbering of nodes (the root of span ``k`` is ``roots[k]``)."""

    def __init__(self, tokenizer, spans: list[Span]) -> None:
        self.triggers = [token_ids(tokenizer, span.trigger) for span in spans]
        starts, tokens, children, self.roots = [0], [], [], []
        for span in spans:
            nested: dict = {}
            for name in dict.fromkeys(span.names):
                node = nested
                for token in token_ids(tokenizer, " " + name):
                    node = node.setdefault(token, {})
                node[_END] = {}
            enders = [token_ids(tokenizer, e)[0] for e in span.enders]
            root = len(starts) - 1
            self.roots.append(root)
            queue = [nested]  # breadth first: the node at queue position i is node root + i
            for node in queue:
                edges = {t: root + len(queue) + i for i, t in enumerate(t for t in node if t != _END)}
                queue += [node[t] for t in edges]
                if _END in node:
                    edges |= {e: FREE for e in enders if e not in edges}
                for token in sorted(edges):
                    tokens.append(token)
                    children.append(edges[token])
                starts.append(len(tokens))
        cpu = torch.device("cpu")  # built on the host once; ``on`` copies it to where decoding runs
        self.start = torch.tensor(starts, device=cpu)  # (nodes + 1,)
        self.tokens = torch.tensor(tokens, dtype=torch.long, device=cpu)  # (edges,)
        self.child = torch.tensor(children, dtype=torch.long, device=cpu)  # (edges,)
        self.width = max(b - a for a, b in pairwise(starts))
        self._on: dict[torch.device, tuple[torch.Tensor, ...]] = {}

    def on(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        """``(start, tokens, child, triggers...)`` on ``device`` (copied once per device)."""
        if device not in self._on:
            tensors = (self.start, self.tokens, self.child, *(torch.tensor(t, device="cpu") for t in self.triggers))
            self._on[device] = tuple(t.to(device) for t in tensors)
        return self._on[device]


class OntologyConstraint(LogitsProcessor):
    """Masks the logits so constrained spans spell a name of their list; one instance per ``generate`` call.

    It follows the growing batch a step at a time; when called on anything else (a new batch, a
    longer jump), it replays the sequences from their first token, still on the device.
    """

    def __init__(self, trie: NameTrie) -> None:
        self.trie = trie
        self.state: torch.Tensor | None = None  # (B,) node of each row, FREE outside names
        self.seen = -1  # tokens already followed

    def _edges(self, state: torch.Tensor, start: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Edge positions (B, width) of each row's node, and which of them exist."""
        node = state.clamp(min=0)
        offset = torch.arange(self.trie.width, device=state.device)
        position = start[node].unsqueeze(1) + offset  # (B, width)
        valid = (offset < (start[node + 1] - start[node]).unsqueeze(1)) & (state >= 0).unsqueeze(1)
        return position.clamp(max=max(tokens.shape[0] - 1, 0)), valid

    def _follow(self, history: torch.Tensor) -> None:
        """Advance every row by the last token of ``history`` (B, t)."""
        start, tokens, child, *triggers = self.trie.on(history.device)
        position, valid = self._edges(self.state, start, tokens)
        hit = valid & (tokens[position] == history[:, -1:])  # (B, width)
        first = position.gather(1, hit.long().argmax(1, keepdim=True)).squeeze(1)
        state = torch.where(hit.any(1), child[first], torch.full_like(self.state, FREE))
        for root, trigger in zip(self.trie.roots, triggers):
            if history.shape[1] >= trigger.shape[0]:
                state = torch.where((history[:, -trigger.shape[0] :] == trigger).all(1), root, state)
        self.state = state

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows, length = input_ids.shape
        if self.state is None or self.state.shape[0] != rows or length != self.seen + 1:
            self.state = torch.full((rows,), FREE, dtype=torch.long, device=input_ids.device)
            self.seen = 0
            for t in range(1, length):
                self._follow(input_ids[:, :t])
        if length:
            self._follow(input_ids)
        self.seen = length
        start, tokens, _, *_ = self.trie.on(scores.device)
        position, valid = self._edges(self.state, start, tokens)
        vocabulary = scores.shape[1]
        allowed = torch.zeros(rows, vocabulary + 1, dtype=torch.bool, device=scores.device)
        allowed.scatter_(1, torch.where(valid, tokens[position], vocabulary), True)  # column V collects the padding
        blocked = (self.state >= 0).unsqueeze(1) & ~allowed[:, :vocabulary]
        return scores.masked_fill(blocked, float("-inf"))
