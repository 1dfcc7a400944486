"""graphwire's transport, in three parts that share only the first.

``graphwire.transport.protocol``
    The wire contract: envelopes, client frames, error codes, ids, JSON limits. Imports nothing
    else of graphwire.
``graphwire.transport.runs``
    The server's run machinery: the transformer (``astream_events`` in, envelopes out), the one
    answer path, a run, the run registry, conversations, the event log. Imports the protocol and
    the graph.
``graphwire.transport.client``
    The Python client: WebSocket and SSE channels, resume cursor, backoff, errors, the blocking
    client. Imports only the protocol.

Importing this package imports nothing: each part is imported on its own.
"""
