"""The Gradio chat UI (``cell2text ui``)."""
