"""The lawyers' web app, entry point: `python app.py` (or `contractqa serve`) serves the French
Gradio chat mounted on the REST API. The layout and server are in `contractqa/ui/app.py`."""

from __future__ import annotations

from contractqa.settings import Settings
from contractqa.ui.app import UI_CSS, build_ui, create_app, serve, ui_theme

__all__ = ["UI_CSS", "build_ui", "create_app", "serve", "ui_theme"]

if __name__ == "__main__":
    serve(Settings())
