"""Chroma knowledge base of ontology terms and gene sets (see :mod:`cell2text.kb.store`)."""

from cell2text.kb.store import Hit, KnowledgeBase

__all__ = ["Hit", "KnowledgeBase"]
