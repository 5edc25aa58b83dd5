"""Mask hooks that tests name by ``module:function``, as users name theirs in ``OTEL_EXPORTER_DYNAMIQ_MASK``."""

from __future__ import annotations

import re
from typing import Any

CUSTOMER_ID = re.compile(r"cust-\d+")
NOT_A_FUNCTION = 42


def mask_customer_ids(value: Any) -> Any:
    """Every string in the run, at any depth (input, output, metadata), with customer ids replaced."""
    if isinstance(value, str):
        return CUSTOMER_ID.sub("[customer]", value)
    if isinstance(value, dict):
        return {key: mask_customer_ids(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_customer_ids(item) for item in value]
    return value


def only_llm_runs(run: dict[str, Any]) -> dict[str, Any] | None:
    return run if run["metadata"].get("node", {}).get("group") == "llms" else None


def identity(run: dict[str, Any]) -> dict[str, Any]:
    return run


def tag_run(run: dict[str, Any]) -> dict[str, Any]:
    """Leaves a mark a test can read in the collector: the mask named in a configuration file ran."""
    run["metadata"]["masked_by"] = "tests.apps.masks:tag_run"
    return run


def drop_all(run: dict[str, Any]) -> None:
    return None


def hide_the_service_of_secret_runs(run: dict[str, Any]) -> dict[str, Any]:
    """Changes the run in place, shared-looking parts included: no other run may see the change."""
    if run["name"] == "secret":
        run["metadata"]["otel"]["resource"]["service.name"] = "[hidden]"
        run["metadata"]["otel"]["scope"]["name"] += "+masked"
    return run


def exit_on_secret_runs(run: dict[str, Any]) -> dict[str, Any]:
    if run["name"] == "secret":
        raise SystemExit(7)
    return run


def fail_quoting_the_input(run: dict[str, Any]) -> dict[str, Any]:
    """Fails the way common code does: with the value it could not handle in its message."""
    raise ValueError(f"cannot parse {run['input']!r}")


class Masker:
    """A class, not a function: calling it makes an instance, never a run."""

    def __init__(self, run: dict[str, Any]) -> None:
        self.run = run


async def mask_later(run: dict[str, Any]) -> dict[str, Any]:
    return run


def mask_with_options(run: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    return run


class AsyncMasker:
    async def __call__(self, run: dict[str, Any]) -> dict[str, Any]:
        return run


ASYNC_MASKER = AsyncMasker()
