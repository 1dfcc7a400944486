"""Agents: domain packs, retrieval, routing, the model factory and the offline model."""

from __future__ import annotations

from agents.classifier import Classification, OfflineClassifier
from agents.model_classifier import ModelClassifier
from agents.models import create_chat_model
from agents.offline_model import OfflineChatModel
from agents.packs import DEMO_PACK_PATH, AgentSpec, DomainPack, load_pack
from agents.retrieval import KnowledgeBase, PackRetriever

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
