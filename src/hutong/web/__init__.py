"""The coders' workbench (``hutong serve``): a local web app over the store and run outputs.

Server-rendered pages (Jinja2) with a little shipped JavaScript; every action the pages take
goes through the JSON API under ``/api`` (OpenAPI at ``/api/openapi.json``). Nothing is
loaded from the internet. No page or API answers without a session, and every state-changing
request needs the session's CSRF token.
"""
