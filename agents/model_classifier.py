"""Routing with a chat model: structured output (a call of the ``route`` tool), with a fallback.

The tool's schema makes ``agent`` an enum of the pack's agents; an answer that is still unusable,
or a model call that fails, hands the question to the offline classifier and says so.

Example:
    >>> classifier = ModelClassifier(pack, create_chat_model("openai:gpt-4o-mini", ...),
    ...                              fallback=OfflineClassifier(pack))     # doctest: +SKIP
    >>> (await classifier.classify("What is the top speed?", [])).agent  # doctest: +SKIP
    'specs'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import ValidationError

from graphwire.agents.classifier import Classification, Classifier, previous_turn
from graphwire.agents.packs import DomainPack
from graphwire.transport.protocol.errors import ConfigurationError, describe_exception
from graphwire.transport.protocol.markers import INTERNAL_TAG

__all__ = ["ROUTE_TOOL", "ModelClassifier", "route_schema"]

log = logging.getLogger("graphwire.classifier")

ROUTE_TOOL = "route"


def route_schema(pack: DomainPack) -> dict[str, Any]:
    """The ``route`` tool's JSON schema: ``agent`` is an enum of the pack's agents.

    >>> route_schema(load_pack())["properties"]["agent"]["enum"]    # doctest: +SKIP
    ['specs', 'maintenance', 'troubleshooting', 'general']
    """
    return {
        "title": ROUTE_TOOL,
        "description": "Route the user's question to the one agent that should answer it.",
        "type": "object",
        "properties": {
            "agent": {"type": "string", "enum": list(pack.agent_names)},
            "confidence": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "how sure you are, from 0 to 1",
            },
            "reason": {"type": "string", "description": "a few words on why"},
        },
        "required": ["agent", "confidence", "reason"],
    }


class ModelClassifier:
    """Routes with a chat model's structured output: a call of the ``route`` tool.

    The model must support tool calling (``bind_tools``). When its answer is unusable (no tool
    call, invalid arguments, an agent the pack does not have) or the call fails, the offline
    ``fallback`` routes instead and the decision's ``reason`` says so (it becomes the
    ``classify`` step's ``detail``). The model call is tagged internal, so its tokens never
    reach a client.

    Example:
        >>> classifier = ModelClassifier(pack, ChatOpenAI(model="gpt-4o-mini"),  # doctest: +SKIP
        ...                              fallback=OfflineClassifier(pack))
    """

    def __init__(self, pack: DomainPack, model: BaseChatModel, *, fallback: Classifier) -> None:
        self.pack = pack
        self.chat_model = model
        try:
            structured = model.with_structured_output(
                route_schema(pack), method="function_calling", include_raw=True
            )
        except NotImplementedError as exc:
            raise ConfigurationError(
                f"the classifier model ({type(model).__name__}) cannot call tools, "
                "which model routing needs"
            ) from exc
        self.model = structured.with_config(tags=[INTERNAL_TAG], run_name="classifier")
        self.fallback = fallback

    def _prompt(self, question: str, history: Sequence[BaseMessage]) -> list[BaseMessage]:
        agents = "\n".join(f"- {a.name}: {a.description}" for a in self.pack.agents)
        previous, previous_agent = previous_turn(history)
        system = (
            "Route the user's question to exactly one of these agents by calling the "
            f"`{ROUTE_TOOL}` tool. Agents:\n{agents}\n"
            f"Use {self.pack.fallback_agent.name} when no other agent fits."
        )
        context = ""
        if previous:
            context = f"Previous question (answered by {previous_agent or 'unknown'}): {previous}\n"
        return [SystemMessage(system), HumanMessage(f"{context}Question: {question}")]

    def _decision(self, output: Any) -> Classification:
        """The routing decision in the structured output; ``ValueError`` when unusable."""
        output = output if isinstance(output, dict) else {}
        parsed = output.get("parsed")
        if not isinstance(parsed, dict):
            if output.get("parsing_error") or getattr(output.get("raw"), "invalid_tool_calls", []):
                raise ValueError(f"the {ROUTE_TOOL} call's arguments are not valid JSON")
            raise ValueError(f"the reply has no {ROUTE_TOOL} call")
        try:
            decision = Classification.model_validate(
                {k: parsed[k] for k in ("agent", "confidence", "reason") if k in parsed}
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(problems) from None
        if decision.agent not in self.pack.agent_names:
            raise ValueError(f"unknown agent {decision.agent!r}")
        return decision

    async def classify(self, question: str, history: Sequence[BaseMessage]) -> Classification:
        try:
            output = await self.model.ainvoke(self._prompt(question, history))
            return self._decision(output)
        except ValueError as exc:
            log.warning("model classifier gave an unusable answer (%s); using offline routing", exc)
            note = "model routing unusable"
        except Exception as exc:
            error = describe_exception(exc)  # the one mapping of provider errors; logs them
            log.warning("model classifier failed (%s); using offline routing", error.code)
            note = f"model routing failed ({error.code})"
        fallback = await self.fallback.classify(question, history)
        reason = f"{note}, offline routing used ({fallback.reason})"
        return fallback.model_copy(update={"reason": reason})
