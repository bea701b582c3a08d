"""The chat UI's rendering and handlers; the layout and server are in app.py."""
