"""Shared fixtures: the real shipped ontologies, the real demo dataset, a private cache dir."""

from __future__ import annotations

import os
import tempfile

import pytest

# One cache for the whole run, outside the user's own cache: the PPR matrix is computed once.
os.environ["CELL2TEXT_CACHE"] = tempfile.mkdtemp(prefix="cell2text-test-cache-")


@pytest.fixture(scope="session")
def ontology():
    from cell2text.knowledge.ontology import load_ontology

    return load_ontology()


@pytest.fixture(scope="session")
def demo():
    from cell2text.data.demo import load_demo

    return load_demo()


@pytest.fixture(scope="session")
def demo_table():
    from cell2text.data.demo import demo_labels

    return demo_labels()
