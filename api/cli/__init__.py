"""The ``graphwire`` command: ``main`` (serve, eval, graph, token and the sub-commands),
``chat`` and ``chatview`` (``graphwire chat``), ``pack`` (``graphwire pack init|check``).

May import anything of graphwire; nothing imports it but the console script.
"""
