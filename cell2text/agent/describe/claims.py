"""Claims: the checkable statements of a description, and reading them out of text.

A claim is one statement a description makes (the cell type, the tissue, the disease context, an
active pathway, a marker gene), mapped to an id: a CURIE, a gene-set name or a gene symbol.
Verification gives it a status (supported | contradicted | unverified) with the numbers behind
it; revision records what it did with it (kept, hedged, replaced, removed).

Extraction reads two kinds of text: the model's drafts ("This sample consists of a B cell. Its
tissue of origin is blood ... Its most active pathways are myc targets v1 and e2f targets.") and
the agent's revisions, which carry their ids inline ("B cell (CL:0000236)"), so a revised text can
be verified again exactly as written.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass, field
from typing import Literal, NotRequired, TypedDict, get_args

from cell2text.data.schema import NORMAL
from cell2text.kb.documents import KINDS as ONTOLOGY_KINDS
from cell2text.knowledge.genesets import LIBRARIES, load_gene_sets, pathway_title
from cell2text.knowledge.ontology import Ontology

ClaimKind = Literal["cell_type", "tissue", "disease", "pathway", "marker"]
ClaimStatus = Literal["pending", "supported", "unverified", "contradicted"]  # pending: not verified yet
KINDS: tuple[ClaimKind, ...] = get_args(ClaimKind)
CLAIM_STATUSES: tuple[ClaimStatus, ...] = ("supported", "unverified", "contradicted")  # what verification decides
_PREFIX_KIND = {**ONTOLOGY_KINDS, "PATO": "disease"}
_KIND_PREFIX = {kind: prefix for prefix, kind in ONTOLOGY_KINDS.items()}

_ID = r"(?:CL|UBERON|MONDO|PATO):\d{7}"
CURIE_IN_TEXT = re.compile(rf"\b({_ID})\b")  # an ontology id cited anywhere in a text
_WITH_ID = re.compile(rf"(?P<span>[^.;:()]+?)\s*\((?P<id>{_ID})\b[^)]*\)")
_GENESET_ID = re.compile(r"\b(?:HALLMARK|REACTOME|WP)_[A-Z0-9_]+\b")
_FREE = {
    "cell_type": re.compile(r"\b(?:consists? of|composed of|made up of|identified as|annotated as)\s+(?:an?\s+|the\s+)?(?P<span>[^.;]+)"),
    "tissue": re.compile(
        r"\b(?:comes? from the|taken from|tissue of origin is|sampled from|isolated from)\s+(?P<span>[^.;,]+?)(?=\s+of a donor|[.;,]|$)"
    ),
    "disease": re.compile(r"\b(?:donor with|condition:|disease context is|diagnosed with)\s+(?P<span>[^.;]+)"),
    "pathway": re.compile(r"\b(?:active pathways are|marked by|enriched in it:)\s+(?P<span>[^.]+?)(?:\s+activity)?(?:\.|$)"),
}
_MARKER_SENTENCE = re.compile(r"\b(?:marker|express)", re.IGNORECASE)
_GENE_TOKEN = re.compile(r"\b(?:[A-Z][A-Z0-9-]*[0-9][A-Z0-9-]*|[A-Z]{3,}[0-9A-Z-]*)\b")  # MS4A1, CD79A, GNLY; not "NK"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class HeadEvidence(TypedDict):
    """What the model's head gives a cell-type claim, and how much the head counts on this dataset."""

    source: Literal["model head"]
    probability: float
    weight: float
    top_label: str
    top_probability: float
    second_label: str
    second_probability: float
    margin: float


class Neighbour(TypedDict):
    id: str
    label: str
    similarity: float


class PageRankEvidence(TypedDict):
    """The claimed term's PageRank neighbours, and its similarity to the head's top label when the head counts."""

    source: Literal["PageRank"]
    neighbours: list[Neighbour]
    similarity_to_top: NotRequired[float]


class MarkerEvidence(TypedDict):
    """The claimed type's known markers, tested on the group (:func:`cell2text.tools.markers.marker_evidence`)."""

    source: Literal["markers"]
    score: float | None  # share of measured markers that agree; None when none is measured or known
    relation: str
    up: list[str]
    not_up: list[str]
    negative_violated: list[str]
    not_measured: int


class CandidatesEvidence(TypedDict):
    """The candidate search's verdict on the claimed type, and the types it proposes for the group."""

    source: Literal["candidates"]
    claim: dict
    proposed: list[dict]


class PathwayEvidence(TypedDict):
    source: Literal["pathway activity"]
    auroc: float
    fdr: float
    mean_in: float
    mean_out: float
    rank: int
    of: int


class WilcoxonEvidence(TypedDict):
    source: Literal["Wilcoxon"]
    gene: str
    logfc: float
    pval_adj: float
    pct_in: float
    pct_out: float


#: One evidence record of a claim. Records from the dataset's own columns (``obs['...']``) and the
#: metadata checks carry their column in ``source`` and are plain dicts.
Evidence = HeadEvidence | PageRankEvidence | MarkerEvidence | CandidatesEvidence | PathwayEvidence | WilcoxonEvidence | dict


@dataclass
class Claim:
    """One checkable statement of a description."""

    kind: ClaimKind
    text: str  # the span as written
    id: str | None  # CURIE, gene-set name or gene symbol; None when nothing matched
    label: str | None = None  # the id's name (ontology label, pathway title, gene)
    status: ClaimStatus = "pending"
    reason: str = ""  # one line: why this status
    evidence: list[Evidence] = field(default_factory=list)  # short records with their numbers
    alternative: str | None = None  # the id verification suggests instead (contradicted / ambiguous)
    action: str = ""  # what revision did: kept | hedged | replaced by ... | removed | generalised to ...

    def to_dict(self) -> dict:
        return asdict(self)


@functools.cache
def _pathway_titles() -> dict[str, str]:
    """Readable Hallmark title (lower case) -> gene-set name; the model names Hallmark pathways."""
    return {pathway_title(name).lower(): name for name in load_gene_sets("hallmark")}


@functools.cache
def _known_gene_sets() -> frozenset[str]:
    return frozenset(name for library in LIBRARIES for name in load_gene_sets(library))


def _split_list(span: str) -> list[str]:
    return [p.strip() for p in re.split(r",\s*|\s+and\s+", span) if p.strip()]


def _read_pathway(span: str, titles: dict[str, str]) -> str | None:
    """The gene set a pathway phrase names; a phrase cut short by the length limit matches a unique title start."""
    span = span.lower().strip()
    if span in titles:
        return titles[span]
    starts = [name for title, name in titles.items() if title.startswith(span)]
    return starts[0] if len(starts) == 1 and len(span) >= 6 else None


def _ontology_claim(kind: str, span: str, term_id: str | None, ontology: Ontology) -> Claim:
    if term_id == NORMAL[0]:
        return Claim(kind, span, NORMAL[0], NORMAL[1])
    if term_id is None:
        return Claim(kind, span, None)
    return Claim(kind, span, term_id, ontology.term(term_id).label)


def _read_free_term(kind: str, span: str, ontology: Ontology) -> Claim:
    span = span.strip()
    if kind == "disease" and span.lower() in ("normal", "healthy", "none", "no disease"):
        return _ontology_claim(kind, span, NORMAL[0], ontology)
    result = ontology.read_term(span, prefix=_KIND_PREFIX[kind])
    return _ontology_claim(kind, span, result.best.id if result is not None else None, ontology)


def extract_claims(text: str, ontology: Ontology, genes: set[str] | None = None) -> list[Claim]:
    """The claims a description makes, in reading order of kind, each once.

    Ids written inline are taken as written; free-text names go through the ontology
    standardiser and pathway titles through the Hallmark library. A name that matches nothing
    becomes a claim with ``id=None``, so revision can remove it rather than let it through.
    Marker claims are gene-symbol-like words (and any gene of ``genes``) in a sentence about
    markers or expression; a gene the data does not measure stays a claim, so it is not passed over.
    """
    claims: list[Claim] = []
    rest = text
    for match in _WITH_ID.finditer(text):
        term_id = match.group("id")
        claims.append(_ontology_claim(_PREFIX_KIND[term_id.split(":")[0]], match.group("span").strip(), term_id, ontology))
        rest = rest.replace(match.group(0), " ")
    known_sets = _known_gene_sets()
    for name in _GENESET_ID.findall(rest):
        if name in known_sets:
            claims.append(Claim("pathway", name, name, pathway_title(name)))
    rest = _GENESET_ID.sub(" ", rest)
    titles = _pathway_titles()
    for kind, pattern in _FREE.items():
        for match in pattern.finditer(rest):
            if kind == "pathway":
                for phrase in _split_list(match.group("span")):
                    name = _read_pathway(phrase, titles)
                    claims.append(Claim("pathway", phrase, name, pathway_title(name) if name else None))
            else:
                claims.append(_read_free_term(kind, match.group("span"), ontology))
    genes = genes or set()
    for sentence in _SENTENCE.split(rest):
        if _MARKER_SENTENCE.search(sentence):
            words = [w.rstrip(".-") for w in re.findall(r"[\w.-]+", sentence)]
            measured = {w for w in words if w in genes}
            named = [w for w in words if w in measured or (_GENE_TOKEN.fullmatch(w) and not any(m.startswith(w) for m in measured))]
            claims += [Claim("marker", g, g, g) for g in dict.fromkeys(named)]
    unique: dict[tuple, Claim] = {}
    for claim in claims:
        unique.setdefault((claim.kind, claim.id or claim.text.lower()), claim)
    return sorted(unique.values(), key=lambda c: KINDS.index(c.kind))
