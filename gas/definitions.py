"""The workflow definitions in ``definitions/``: loading, validation and substitution.

A definition is refused before anything is deployed unless it passes the ASL JSON Schema and the
graph checks: every ``Next`` names a state, every state is reachable, every path can end, and every
``${Substitution}`` is supplied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gas import schemas
from gas.settings import REPO_ROOT

DEFINITIONS_DIR = REPO_ROOT / "definitions"
SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_]+)\}")

# Workflow name -> file; the name is also the state machine's suffix in resources.
WORKFLOWS = {
    "annotation-job": "annotation-job.asl.json",
    "thaw": "thaw.asl.json",
}


class DefinitionError(ValueError):
    """A definition is not valid; ``problems`` lists every reason."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.name = name
        self.problems = problems
        super().__init__(f"{name}: " + "; ".join(problems))


def path_of(name: str) -> Path:
    return DEFINITIONS_DIR / WORKFLOWS[name]


def load_text(name: str) -> str:
    return path_of(name).read_text()


def load(name: str) -> dict[str, Any]:
    """The parsed definition (substitutions still in place)."""
    return json.loads(load_text(name))


def substitutions_in(text: str) -> set[str]:
    return set(SUBSTITUTION.findall(text))


def render(text: str, substitutions: Mapping[str, str]) -> str:
    """The definition with every ``${Name}`` replaced (what Step Functions does on deploy)."""
    missing = substitutions_in(text) - set(substitutions)
    if missing:
        raise DefinitionError("definition", [f"substitution not supplied: {m}" for m in missing])
    return SUBSTITUTION.sub(lambda m: substitutions[m.group(1)], text)


def validate_text(name: str, text: str, supplied: Iterable[str] | None = None) -> dict[str, Any]:
    """Parse and check a definition; raise DefinitionError listing every problem found."""
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError(name, [f"not JSON: {exc}"]) from exc
    problems = [f"schema: {p}" for p in schemas.problems(definition, "asl.schema.json")]
    if not problems:
        problems += graph_problems(definition)
    if supplied is not None:
        missing = sorted(substitutions_in(text) - set(supplied))
        problems += [f"substitution not supplied: ${{{m}}}" for m in missing]
    if problems:
        raise DefinitionError(name, problems)
    return definition


def validate(name: str, supplied: Iterable[str] | None = None) -> dict[str, Any]:
    return validate_text(name, load_text(name), supplied)


def _targets(state: Mapping[str, Any]) -> list[str]:
    targets = []
    if "Next" in state:
        targets.append(state["Next"])
    if "Default" in state:
        targets.append(state["Default"])
    targets += [choice["Next"] for choice in state.get("Choices", []) if "Next" in choice]
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return targets


def _is_terminal(state: Mapping[str, Any]) -> bool:
    return state["Type"] in ("Succeed", "Fail") or state.get("End") is True


def graph_problems(machine: Mapping[str, Any], scope: str = "") -> list[str]:
    """Graph checks for one state machine (and, recursively, Map and Parallel branches)."""
    states: Mapping[str, Any] = machine["States"]
    where = f"{scope}: " if scope else ""
    problems = []
    if machine["StartAt"] not in states:
        problems.append(f"{where}StartAt names no state: {machine['StartAt']}")
    for name, state in states.items():
        for target in _targets(state):
            if target not in states:
                problems.append(f"{where}{name}: Next names no state: {target}")
        if state["Type"] == "Choice" and "Default" not in state:
            problems.append(f"{where}{name}: a Choice without Default can fail at run time")
        for index, branch in enumerate(state.get("Branches", [])):
            problems += graph_problems(branch, f"{scope}{name}[{index}]")
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                problems += graph_problems(state[key], f"{scope}{name}")
    if problems:
        return problems

    reachable: set[str] = set()
    frontier = [machine["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name in reachable:
            continue
        reachable.add(name)
        frontier += _targets(states[name])
    problems += [f"{where}{name}: unreachable" for name in states if name not in reachable]

    # Every path ends: from every state some terminal state must be reachable.
    can_end = {name for name, state in states.items() if _is_terminal(state)}
    changed = True
    while changed:
        changed = False
        for name, state in states.items():
            if name not in can_end and any(t in can_end for t in _targets(state)):
                can_end.add(name)
                changed = True
    problems += [f"{where}{name}: no path from here ends" for name in states if name not in can_end]
    return problems
