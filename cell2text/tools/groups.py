"""What the data says about each of its groups, computed once per group and shared by every check that asks.

Verifying one description asks the same few questions of a group many times: the draft's cell type,
each candidate the markers propose and the head's own label are all scored against the same DE
table and candidate list; the markers to name and the pathways to state read the same tests; the
chat asks again. :class:`GroupEvidence` holds what those questions need once per run (the prepared
data and its groups, the ontology and its PageRank, the marker knowledge, the rulebook's
thresholds, the tissue prior) and computes each answer on first use:

* :meth:`~GroupEvidence.markers`: the group's DE table (:func:`cell2text.tools.markers.group_markers`);
* :meth:`~GroupEvidence.candidates`: the cell types its markers point to (:func:`cell2text.tools.candidates.rank_cell_types`,
  with the tissue prior of :meth:`~GroupEvidence.tissue_of`), best first;
* :meth:`~GroupEvidence.check`: one term scored exactly as a candidate (:func:`cell2text.tools.candidates.check_cell_type`);
* :meth:`~GroupEvidence.known_markers`: a term's known markers tested in the group (:func:`cell2text.tools.markers.marker_evidence`);
* :meth:`~GroupEvidence.pathways`: per-cell pathway scores in the group against the rest (:func:`cell2text.tools.enrichment.pathway_activity`).

The answers are the same objects for every caller: read them, never modify them. One lock guards the
computations, so a node running beside another (describe drafts while the evidence is computed) never
computes a table twice or writes ``adata.uns`` at the same time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anndata as ad
import pandas as pd

from cell2text.data.io import check_group
from cell2text.data.schema import METADATA_COLUMNS, NORMAL
from cell2text.errors import InputError
from cell2text.knowledge import MarkerKnowledge
from cell2text.knowledge.ontology import Ontology
from cell2text.knowledge.pagerank import PageRankSimilarity
from cell2text.tools.candidates import Candidate, check_cell_type, rank_cell_types
from cell2text.tools.enrichment import pathway_activity, pathway_scores
from cell2text.tools.evidence import DEFAULTS, Thresholds
from cell2text.tools.markers import MarkerEvidence, group_markers, marker_evidence

#: Candidates kept per group: the most any caller reads (the evidence draft's consensus reads ten).
MAX_CANDIDATES = 10

T = TypeVar("T")


def group_counts(adata: ad.AnnData, groupby: str, group: str, column: str) -> pd.Series:
    """How often each value of an obs column occurs among the group's cells, most frequent first."""
    return adata.obs.loc[check_group(adata, groupby, group), column].astype(str).value_counts()


def group_metadata(adata: ad.AnnData, groupby: str, group: str, kind: str, ontology: Ontology) -> dict | None:
    """The group's majority value of the tissue or disease column (CELLxGENE names), its id and share; None if absent."""
    for column in METADATA_COLUMNS[kind]:
        if column in adata.obs.columns:
            counts = group_counts(adata, groupby, group, column)
            value, share = counts.index[0], float(counts.iloc[0] / counts.sum())
            if column.endswith("_ontology_term_id"):
                term_id = value
            elif kind == "disease" and value.lower() in ("normal", "healthy"):
                term_id = NORMAL[0]
            else:
                result = ontology.read_term(value, prefix="UBERON" if kind == "tissue" else "MONDO")
                term_id = result.best.id if result is not None and not result.unsure else None
            return {"source": f"obs['{column}']", "value": value, "id": term_id, "share": round(share, 3), "values": len(counts)}
    return None


@dataclass(kw_only=True)
class GroupEvidence:
    """The groups of one prepared dataset and the resources every check reads; each answer computed once."""

    adata: ad.AnnData  # prepared: log-normalised expression, gene symbols, the groups in obs[groupby]
    groupby: str
    ontology: Ontology
    ppr: PageRankSimilarity
    knowledge: MarkerKnowledge  # in the data's species, with the user's own markers
    thresholds: Thresholds = DEFAULTS
    tissue: str | None = None  # the run's tissue prior (UBERON id: given or inferred); None: each group's tissue metadata
    _cache: dict = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def with_tissue(self, tissue: str | None) -> GroupEvidence:
        """The same evidence under another tissue prior; what does not depend on the tissue is not computed again."""
        return GroupEvidence(
            adata=self.adata,
            groupby=self.groupby,
            ontology=self.ontology,
            ppr=self.ppr,
            knowledge=self.knowledge,
            thresholds=self.thresholds,
            tissue=tissue,
            _cache=self._cache,
            _lock=self._lock,
        )

    def _once(self, key: tuple, compute: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = compute()
            return self._cache[key]

    @property
    def groups(self) -> list[str]:
        """The group names, sorted."""
        return sorted(self.adata.obs[self.groupby].astype(str).unique())

    def markers(self, group: str) -> pd.DataFrame:
        """The group's ranked genes against the rest: gene, score, logfc, pval, pval_adj, pct_in, pct_out (best first)."""
        return self._once(("markers", group), lambda: group_markers(self.adata, self.groupby, group))

    def by_gene(self, group: str) -> pd.DataFrame:
        """:meth:`markers` indexed by gene."""
        return self._once(("by_gene", group), lambda: self.markers(group).set_index("gene"))

    def tissue_of(self, group: str) -> str | None:
        """The tissue prior for a group: the run's, else the group's tissue metadata (its id), else None."""
        if self.tissue is not None:
            return self.tissue
        found = self._once(("metadata", group, "tissue"), lambda: group_metadata(self.adata, self.groupby, group, "tissue", self.ontology))
        return found["id"] if found else None

    def candidates(self, group: str) -> list[Candidate]:
        """The cell types the group's markers point to, best first (at most ``MAX_CANDIDATES``; none when no up gene
        is a known marker), with the group's tissue prior."""
        tissue = self.tissue_of(group)
        return self._once(("candidates", group, tissue), lambda: self._rank(group, tissue))

    def _rank(self, group: str, tissue: str | None) -> list[Candidate]:
        table = self.markers(group)  # a group too small to test raises here
        try:
            return rank_cell_types(
                table,
                species=self.knowledge.species,
                tissue=tissue,
                k=MAX_CANDIDATES,
                knowledge=self.knowledge,
                ontology=self.ontology,
                ppr=self.ppr,
                min_logfc=self.thresholds.min_logfc,
                max_pval=self.thresholds.max_fdr,
            )
        except InputError:  # no up gene is a known marker
            return []

    def check(self, group: str, term_id: str) -> Candidate:
        """One CL term scored against the group's markers as a candidate is (with the group's tissue prior)."""
        tissue = self.tissue_of(group)
        return self._once(
            ("check", group, term_id, tissue),
            lambda: check_cell_type(
                self.markers(group),
                term_id,
                species=self.knowledge.species,
                tissue=tissue,
                knowledge=self.knowledge,
                ontology=self.ontology,
                min_logfc=self.thresholds.min_logfc,
                max_pval=self.thresholds.max_fdr,
            ),
        )

    def known_markers(self, group: str, term_id: str) -> MarkerEvidence:
        """The known markers of a cell type (its own and its ancestors', else its best child's) tested in the group."""
        return self._once(
            ("known", group, term_id),
            lambda: marker_evidence(
                self.adata,
                self.groupby,
                group,
                term_id,
                ontology=self.ontology,
                knowledge=self.knowledge,
                min_logfc=self.thresholds.min_logfc,
                max_pval=self.thresholds.max_fdr,
                table=self.by_gene(group),
            ),
        )

    def pathway_scores(self, library: str, key: str) -> pd.DataFrame:
        """Per-cell scores of a gene-set library (cells x pathways) in ``obsm[key]``, scored on first use."""
        return self._once(("scores", key), lambda: pathway_scores(self.adata, library, key_added=key))

    def pathways(self, group: str, library: str, key: str) -> pd.DataFrame:
        """Each pathway of ``library`` in the group against the rest: auroc, means, pval, fdr; most active first."""
        self.pathway_scores(library, key)
        return self._once(("pathways", group, key), lambda: pathway_activity(self.adata, self.groupby, group, key=key))
