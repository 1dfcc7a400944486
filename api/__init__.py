"""The server and the command line: graphwire's FastAPI app around the run machinery.

Modules here are shared by every room: ``settings`` (read once at the entry point), ``app``
(the factory that composes everything), ``state`` (what a running app holds), ``runtime``
(settings to a running graph), ``intake`` (starting a run, the same checks on every route and
frame), ``auth`` and ``tokens``, ``origins``, ``limits``, ``metrics``, ``logredact``, ``heap``,
``server`` (uvicorn) and ``background`` (a server on a thread, for notebooks).

The rooms: ``graphwire.api.http`` (HTTP routes: chat, SSE, runs, conversations, ops, the test
page), ``graphwire.api.ws`` (one WebSocket connection: frames, dispatch, listening, deadlines,
sender) and ``graphwire.api.cli`` (the ``graphwire`` command). The rooms import the shared
modules and :mod:`graphwire.transport`; none imports another room, except ``app`` (which
mounts the first two) and ``cli`` (which runs the app).
"""
