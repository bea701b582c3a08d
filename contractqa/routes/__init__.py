"""The API's routers, one per concern: questions, documents and jobs, static files."""
