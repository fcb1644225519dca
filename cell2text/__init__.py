"""cell2text: ontology-grounded, verified descriptions of single-cell RNA-seq data."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cell2text")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
