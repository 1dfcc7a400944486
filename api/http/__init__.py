"""The HTTP face of the server: chat as JSON and SSE, run replay and cancel, conversations,
operations (``/health``, ``/ready``, ``/metrics``), the AsyncAPI document and the test page,
with the request-body limits and the HTTP shape of protocol errors.

May import the shared modules of :mod:`graphwire.api` and :mod:`graphwire.transport`; not
``graphwire.api.ws`` nor ``graphwire.api.cli``.
"""
