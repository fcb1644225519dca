"""The Cell2Text model: expression encoder + projector + causal language model (see ``model.py``)."""
