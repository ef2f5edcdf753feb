"""Exceptions the fake's nodes raise, named the way ComfyUI reports them."""

from __future__ import annotations

import builtins


def make_exception(type_name: str, message: str) -> Exception:
    """An exception whose full_type_name() is `type_name` ("Exception", "torch.OutOfMemoryError", ...)."""
    module, _, name = type_name.rpartition(".")
    builtin = getattr(builtins, name, None) if not module else None
    cls: type[Exception]
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        cls = builtin
    else:
        cls = type(name, (Exception,), {"__module__": module or "builtins", "__qualname__": name})
    return cls(message)
