"""sysreport's optional HTTP API (`sysreport serve`, the `api` extra).

Nothing here is imported on the collect/send path. FastAPI and uvicorn are imported
only by app.py and server.run(), so `import sysreport.api.server` works without the
extra and `serve` can say what to install.
"""
