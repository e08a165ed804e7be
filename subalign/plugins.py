"""Entry points, the mechanism behind both plugin kinds: acoustic models (`subalign.models`,
registered in `subalign.models.registry`) and output writers (`subalign.writers`, registered in
`subalign.formats`)."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

__all__ = ["MODEL_GROUP", "WRITER_GROUP", "distribution", "entry_points_of"]

MODEL_GROUP = "subalign.models"
WRITER_GROUP = "subalign.writers"


def entry_points_of(group: str) -> list[EntryPoint]:
    """The installed entry points of `group`."""
    return list(entry_points(group=group))


def distribution(ep: EntryPoint) -> str:
    """"name version" of the package that declares `ep`, for messages."""
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "?"
