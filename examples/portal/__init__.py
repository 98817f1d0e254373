"""A small citizen-facing service behind NHS login (Starlette on uvicorn): ``examples/portal/README.md``."""
