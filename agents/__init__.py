"""Agents: domain packs, retrieval, routing, the model factory and the offline model."""

from __future__ import annotations

from graphwire.agents.classifier import Classification, OfflineClassifier
from graphwire.agents.model_classifier import ModelClassifier
from graphwire.agents.models import create_chat_model
from graphwire.agents.offline_model import OfflineChatModel
from graphwire.agents.packs import DEMO_PACK_PATH, AgentSpec, DomainPack, load_pack
from graphwire.agents.retrieval import KnowledgeBase, PackRetriever

__all__ = [
    "DEMO_PACK_PATH",
    "AgentSpec",
    "Classification",
    "DomainPack",
    "KnowledgeBase",
    "ModelClassifier",
    "OfflineChatModel",
    "OfflineClassifier",
    "PackRetriever",
    "create_chat_model",
    "load_pack",
]
