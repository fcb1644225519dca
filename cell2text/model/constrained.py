"""Ontology-constrained decoding: after "consists of a", only a live Cell Ontology label or synonym may follow.

A prefix trie over the tokenised names; a ``LogitsProcessor`` masks every token that leaves the
trie until a name is complete and followed by "." or ",". Every description then names a real
term, and reading the cell type back is an exact lookup.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from cell2text.model.targets import TRIGGER

_END = -1


class NameTrie:
    def __init__(self, sequences: list[list[int]]) -> None:
        self.root: dict = {}
        for sequence in sequences:
            node = self.root
            for token in sequence:
                node = node.setdefault(token, {})
            node[_END] = {}

    def walk(self, prefix: list[int]) -> dict | None:
        node = self.root
        for token in prefix:
            if token not in node:
                return None
            node = node[token]
        return node


class OntologyConstraint(LogitsProcessor):
    def __init__(self, tokenizer, names: list[str]) -> None:
        self.trigger = tokenizer(TRIGGER, add_special_tokens=False).input_ids
        self.trie = NameTrie([tokenizer(" " + n, add_special_tokens=False).input_ids for n in dict.fromkeys(names)])
        self.enders = [tokenizer(p, add_special_tokens=False).input_ids[0] for p in (".", ",")]

    def _allowed(self, sequence: list[int]) -> list[int] | None:
        n = len(self.trigger)
        starts = [i + n for i in range(len(sequence) - n + 1) if sequence[i:i + n] == self.trigger]
        if not starts:
            return None
        node = self.trie.walk(sequence[starts[-1]:])
        if node is None:  # the name is complete and closed: free text again
            return None
        allowed = [t for t in node if t != _END]
        return allowed + self.enders if _END in node else allowed

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row, sequence in enumerate(input_ids.tolist()):
            allowed = self._allowed(sequence)
            if allowed:
                mask = torch.full_like(scores[row], float("-inf"))
                mask[allowed] = 0.0
                scores[row] = scores[row] + mask
        return scores
