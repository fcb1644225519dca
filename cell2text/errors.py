"""Errors that carry their fix: the CLI prints them as one line and exits with code 2."""


class InputError(ValueError):
    """Bad user input (file, gene list, obs key, ontology id, ...).

    The message names the problem and the fix in one line, e.g.
    ``"obs key 'cell_type' not found. Available keys: bulk_labels, louvain. Pass --groupby KEY."``
    """
