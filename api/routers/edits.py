"""``/edits``: the audit log — every edit with who, when, what, before and after."""

from __future__ import annotations

from fastapi import APIRouter

from ..dependencies import ListPage, State
from ..schemas import Edit, EditPage
from ..strict_json import StrictJSONRoute

router = APIRouter(tags=["facilities"], route_class=StrictJSONRoute)


@router.get("/edits", response_model=EditPage)
def edits(state: State, *, page: ListPage) -> EditPage:
    """The audit log, newest first: facility additions, deletions and restores, applied imports and
    community-layer replacements, each with its store revision."""
    total, rows = state.store.edits(page.limit, page.offset)
    return EditPage(
        total=total, limit=page.limit, offset=page.offset, items=[Edit.model_validate(r) for r in rows]
    )
