"""The local web app (``clearance serve``): run, review with an audit trail, download.

``clearance.web.app.create_app(settings)`` builds the FastAPI app; docs/web.md
describes what it does and how it is kept safe. Importing this package imports
nothing heavy, so the command line stays quick.
"""
