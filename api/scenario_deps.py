"""Request dependencies of scenarios: ``scenario=`` on the read routes resolved to the plan they answer
from (:class:`~api.scenarios.PlanView`: the baseline, or the scenario's changes applied)."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Query

from .dependencies import State
from .scenarios import PlanView, Scenarios

__all__ = ["ScenarioId", "ScenarioPlan", "get_scenarios", "plan_view"]

#: the ``scenario`` query parameter of the read routes
ScenarioId = Annotated[
    str | None,
    Query(
        max_length=64,
        description="answer as if the changes of this scenario (see /scenarios) were applied; "
        "default: the baseline register",
    ),
]


async def get_scenarios(state: State) -> Scenarios:
    """The scenario reads and writes of this worker's state (caught up with the store)."""
    return Scenarios(state)


async def plan_view(state: State, scenario: ScenarioId = None) -> PlanView:
    """The plan to answer from: the baseline, or the scenario's (a 404 for an unknown scenario). A
    scenario's plan is computed in a worker thread on first use (cached per scenario revision)."""
    scenarios = Scenarios(state)
    if scenario is None:
        return scenarios.view(None)
    return await anyio.to_thread.run_sync(scenarios.view, scenario)


#: a read route's plan: the baseline or, with ``scenario=``, the scenario's
ScenarioPlan = Annotated[PlanView, Depends(plan_view)]
