"""A node's group survives the span: the exporter reads back the kind and operation the instrumentor writes.

Both sides take the group table from ``otel_dynamiq.attributes``; this checks
the round trip through the two functions that use it, for every group in it.
"""

from __future__ import annotations

import pytest
from opentelemetry.instrumentation.dynamiq._attributes import RunnableFacts, convention_attributes

from otel_dynamiq import attributes as dq
from otel_dynamiq._translation.run_shapes import node_group


@pytest.mark.parametrize("group", sorted(dq.OPENINFERENCE_KIND_BY_GROUP))
def test_a_nodes_openinference_kind_reads_back_as_its_group(group: str) -> None:
    written = convention_attributes(RunnableFacts(kind="node", name="node", group=group), None)
    assert node_group({"openinference.span.kind": written["openinference.span.kind"]}) == group


@pytest.mark.parametrize("group", sorted(dq.GEN_AI_OPERATION_BY_GROUP))
def test_a_nodes_genai_operation_reads_back_as_its_group(group: str) -> None:
    written = convention_attributes(RunnableFacts(kind="node", name="node", group=group), None)
    assert node_group({dq.GEN_AI_OPERATION_NAME: written[dq.GEN_AI_OPERATION_NAME]}) == group


def test_a_node_of_another_group_is_a_chain_with_no_operation() -> None:
    written = convention_attributes(RunnableFacts(kind="node", name="node", group="utils"), None)
    assert written["openinference.span.kind"] == "CHAIN"
    assert dq.GEN_AI_OPERATION_NAME not in written
