"""Tags and metadata keys that the graph puts on its runs and the transformer reads.

This is the whole contract between the graph's nodes and ``graphwire.transport.runs.transformer``:
the transformer recognises the answering model call by ``ANSWER_TAG`` (never by node names), and
each node's role by ``ROLE_KEY`` in the node's metadata.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["AGENT_KEY", "ANSWER_TAG", "INTERNAL_TAG", "ROLE_KEY", "NodeRole"]

ANSWER_TAG: Final = "graphwire:answer"
"""On the one chat-model call whose tokens are the user's answer."""

INTERNAL_TAG: Final = "graphwire:internal"
"""On every other model call (classifier, rewrites); its tokens never reach a client."""

ROLE_KEY: Final = "graphwire_role"
"""Node metadata key: the node's role in the workflow."""

AGENT_KEY: Final = "graphwire_agent"
"""Node metadata key: the specialist agent a node runs."""

NodeRole = Literal["classify", "specialist"]
