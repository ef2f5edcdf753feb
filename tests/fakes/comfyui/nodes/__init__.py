"""The node classes the fake knows, by class_type."""

from __future__ import annotations

from .base import Env, Fresh, NodeDef, NodeResult, NodeRuntime
from .image import IMAGE_NODES
from .latent import LATENT_NODES
from .media import MEDIA_NODES
from .models import MODEL_NODES
from .sampling import SAMPLING_NODES

NODES: dict[str, NodeDef] = {
    node.name: node for node in (*IMAGE_NODES, *LATENT_NODES, *SAMPLING_NODES, *MODEL_NODES, *MEDIA_NODES)
}

__all__ = ["NODES", "Env", "Fresh", "NodeDef", "NodeResult", "NodeRuntime"]
