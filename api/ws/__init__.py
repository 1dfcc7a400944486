"""One ``/ws/chat`` connection in one place: ``connection`` (the endpoint and its receive loop),
``frames`` (reading a client frame within limits), ``dispatch`` (what each frame does),
``listening`` (the runs the socket follows), ``deadlines`` (auth, expiry, idle, stalled sends)
and ``sender`` (the bounded outgoing queue).

May import the shared modules of :mod:`graphwire.api` and :mod:`graphwire.transport`; not
``graphwire.api.http`` nor ``graphwire.api.cli``.
"""
