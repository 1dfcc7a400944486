"""graphwire's benchmark: the real server, measured from a separate process by real clients.

Run it with ``.venv/bin/python -m bench.run [--quick]``; see :mod:`bench.run`.
"""
