"""Which resources a parameter set creates: the template's Conditions, evaluated here."""

from __future__ import annotations

from typing import Any


def _evaluate(node: Any, parameters: dict[str, str], conditions: dict[str, Any]) -> Any:
    """The few intrinsic functions the template's Conditions use."""
    if isinstance(node, dict):
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return parameters[arg]
        if fn == "Condition":
            return _evaluate(conditions[arg], parameters, conditions)
        if fn == "Fn::Equals":
            left, right = (_evaluate(a, parameters, conditions) for a in arg)
            return left == right
        if fn == "Fn::Not":
            return not _evaluate(arg[0], parameters, conditions)
        if fn == "Fn::And":
            return all(_evaluate(a, parameters, conditions) for a in arg)
        if fn == "Fn::Or":
            return any(_evaluate(a, parameters, conditions) for a in arg)
        if fn == "Fn::Join":
            value = _evaluate(arg[1], parameters, conditions)
            return arg[0].join(value if isinstance(value, list) else [value])
        raise AssertionError(f"unhandled {fn}")
    return node


def created(template: dict, **given: str) -> set[str]:
    """Logical ids of the resources CloudFormation creates for these parameters."""
    parameters = {k: v.get("Default", "") for k, v in template["Parameters"].items()}
    parameters.update(given)
    parameters = {
        k: ([] if v == "" else v.split(","))
        if template["Parameters"][k]["Type"] == "CommaDelimitedList"
        else v
        for k, v in parameters.items()
    }
    conditions = template["Conditions"]
    return {
        name
        for name, resource in template["Resources"].items()
        if "Condition" not in resource
        or _evaluate({"Condition": resource["Condition"]}, parameters, conditions)
    }
