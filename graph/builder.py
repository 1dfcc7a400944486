"""Builds the agent graph: ``classify`` → one specialist (retrieve, then answer) → end.

Example:
    >>> graph = build_graph()      # demo pack, offline model, in-memory conversations
    >>> sorted(graph.get_graph().nodes)
    ['__end__', '__start__', 'classify', 'general', 'maintenance', 'specs', 'troubleshooting']
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.retrievers import BaseRetriever
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphwire.agents.classifier import Classifier, OfflineClassifier
from graphwire.agents.offline_model import OfflineChatModel
from graphwire.agents.packs import AgentSpec, DomainPack, load_pack
from graphwire.agents.prompts import build_answer_messages, trim_history
from graphwire.agents.retrieval import KnowledgeBase
from graphwire.agents.retrievers import RetrieverFactory, retriever_factory
from graphwire.graph.state import ConversationState
from graphwire.transport.protocol import ErrorCode
from graphwire.transport.protocol.errors import ConfigurationError, GraphwireError
from graphwire.transport.protocol.markers import AGENT_KEY, ANSWER_TAG, ROLE_KEY

__all__ = ["CLASSIFY_NODE", "Graph", "build_graph"]

CLASSIFY_NODE = "classify"

Graph = CompiledStateGraph[ConversationState, None, ConversationState, ConversationState]
Node = Callable[[ConversationState], Awaitable[dict[str, Any]]]


def _text(message: BaseMessage) -> str:
    return message.content if isinstance(message.content, str) else str(message.text)


def _split_question(state: ConversationState) -> tuple[str, list[BaseMessage]]:
    """The current question (the last message, from the user) and the conversation before it."""
    messages: Sequence[BaseMessage] = state.get("messages", [])
    if not messages or messages[-1].type != "human":
        raise GraphwireError(
            "the conversation has no question to answer", code=ErrorCode.INVALID_MESSAGE
        )
    question = _text(messages[-1]).strip()
    if not question:
        raise GraphwireError("the question is empty", code=ErrorCode.EMPTY_MESSAGE)
    return question, list(messages[:-1])


def _classify_node(classifier: Classifier) -> Node:
    async def classify(state: ConversationState) -> dict[str, Any]:
        question, history = _split_question(state)
        decision = await classifier.classify(question, history)
        return {
            "agent": decision.agent,
            "confidence": decision.confidence,
            "route_note": decision.reason,
            "follow_up": decision.follow_up,
        }

    return classify


def _specialist_node(
    agent: AgentSpec, retriever: BaseRetriever, model: BaseChatModel, *, history_tokens: int
) -> Node:
    answering = model.with_config(
        tags=[ANSWER_TAG], metadata={AGENT_KEY: agent.name}, run_name=f"{agent.name}_answer"
    )

    async def answer(state: ConversationState) -> dict[str, Any]:
        question, history = _split_question(state)
        query = question
        if state.get("follow_up"):
            earlier = [_text(m) for m in history if m.type == "human"]
            query = f"{earlier[-1]} {question}" if earlier else question
        docs = await retriever.ainvoke(query)
        recent = [*trim_history(history, max_tokens=history_tokens), state["messages"][-1]]
        reply = await answering.ainvoke(build_answer_messages(agent, docs, recent))
        message = AIMessage(
            content=reply.content,
            name=agent.name,
            id=reply.id,
            response_metadata=reply.response_metadata,
            usage_metadata=getattr(reply, "usage_metadata", None),
        )
        return {"messages": [message], "sources": [dict(d.metadata) for d in docs]}

    return answer


def _router(pack: DomainPack) -> Callable[[ConversationState], str]:
    """The conditional edge out of ``classify``, typed ``Literal[<the pack's agent names>]``.

    The routes depend on the pack, so the ``Literal`` is made when the graph is built; LangGraph
    reads it to know (and draw) every edge, and an unknown agent falls back rather than failing.
    """
    names = pack.agent_names
    fallback = pack.fallback_agent.name

    def route(state: ConversationState) -> str:
        agent = state.get("agent", "")
        return agent if agent in names else fallback

    route.__annotations__["return"] = Literal[names]  # Literal["specs", "maintenance", ...]
    return route


def build_graph(
    *,
    pack: DomainPack | None = None,
    model: BaseChatModel | None = None,
    classifier: Classifier | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    knowledge_base: KnowledgeBase | None = None,
    retriever: BaseRetriever | RetrieverFactory | None = None,
    top_k: int = 4,
    history_tokens: int = 2_000,
) -> Graph:
    """Compile the graph for a pack.

    Every argument has a default: the demo pack, the offline model, the offline classifier,
    an in-memory checkpointer (pass :func:`graphwire.graph.checkpointers.open_checkpointer`'s saver
    to keep conversations in SQLite), and a knowledge base indexed from the pack's documents.
    ``retriever`` (any LangChain ``BaseRetriever``, or a factory ``(pack, agent) -> retriever``;
    default: the pack's ``retriever`` setting, else the knowledge base) is what the specialists
    search; routing still reads the knowledge base.
    Conversations are keyed by ``config["configurable"]["thread_id"]`` (the session id); the
    answering model gets the latest turns of it that fit ``history_tokens`` (approximately).
    """
    pack = pack or load_pack()
    if CLASSIFY_NODE in pack.agent_names:
        raise ConfigurationError(f"an agent may not be called {CLASSIFY_NODE!r}")
    model = model or OfflineChatModel()
    kb = knowledge_base or KnowledgeBase.from_pack(pack)
    classifier = classifier or OfflineClassifier(pack, knowledge_base=kb)

    builder = StateGraph(ConversationState)
    # langgraph's overloads do not cover a plain async callable returning a dict update.
    builder.add_node(  # type: ignore[call-overload]
        CLASSIFY_NODE, _classify_node(classifier), metadata={ROLE_KEY: "classify"}
    )
    custom = retriever_factory(retriever, pack)
    for agent in pack.agents:
        searcher = custom(pack, agent) if custom else kb.as_retriever(agent=agent, k=top_k)
        builder.add_node(  # type: ignore[call-overload]
            agent.name,
            _specialist_node(agent, searcher, model, history_tokens=history_tokens),
            metadata={ROLE_KEY: "specialist", AGENT_KEY: agent.name},
        )
        builder.add_edge(agent.name, END)
    builder.add_edge(START, CLASSIFY_NODE)
    builder.add_conditional_edges(CLASSIFY_NODE, _router(pack))
    return builder.compile(
        checkpointer=checkpointer if checkpointer is not None else InMemorySaver(),
        name="graphwire",
    )
