"""Encoding: every run becomes valid JSON under the cap, whatever its values."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_dynamiq._delivery.bodies import ENVELOPE_BYTES, body_of, encode, encode_run, halve, pack
from otel_dynamiq._translation.span_to_run import RunDefaults, span_to_run
from otel_dynamiq.collector import validate_body
from tests.support.common import SpanRecorder
from tests.support.runs import sample_run

DEFAULTS = RunDefaults(source_id="s", session_id="t")


def test_values_json_cannot_hold_become_text_not_errors() -> None:
    awkward = {"nan": float("nan"), "inf": float("-inf"), "big": 2**70, "lone": "a\ud800b", 3: "int key"}
    decoded = json.loads(encode({**awkward, "obj": object}))
    assert decoded["nan"] is None and decoded["inf"] is None
    assert decoded["big"] == str(2**70)
    assert decoded["lone"] == "a\ufffdb"
    assert decoded["3"] == "int key"
    assert "class 'object'" in decoded["obj"]


def test_deep_nesting_is_cut_with_a_marker() -> None:
    value: Any = "leaf"
    for _ in range(400):
        value = [value]
    text = encode({"deep": value}).decode()
    assert "nested too deep" in text
    json.loads(text)


MARKER = "truncated by otel-dynamiq"


def test_oversized_run_cuts_its_largest_values_and_keeps_its_shape() -> None:
    run = sample_run(
        input={"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "x" * 100_000}]},
        output={"answer": "y" * 50_000, "finish_reason": "stop"},
    )
    snapshot = copy.deepcopy(run)
    encoded = encode_run(run, max_bytes=20_000)
    assert len(encoded) <= 20_000
    assert run == snapshot  # the run given is never changed: the spool and the mask see it whole
    decoded = orjson.loads(encoded)
    assert decoded["id"] == run["id"]
    system, user = decoded["input"]["messages"]
    assert system == {"role": "system", "content": "Be brief."}  # small values stay whole
    assert user["role"] == "user" and user["content"].startswith("xxxx") and MARKER in user["content"]
    assert decoded["output"]["finish_reason"] == "stop"
    assert decoded["output"]["answer"].startswith("yyyy") and MARKER in decoded["output"]["answer"]
    assert validate_body({"runs": [decoded]}) == []


def test_a_huge_metadata_value_never_costs_the_runs_group_model_or_usage() -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    node = {"name": "chat gpt-4o", "group": "llms", "model": "gpt-4o", "provider": "openai"}
    image = "data:image/png;base64," + "A" * 6_000_000
    run = sample_run(metadata={"node": node, "usage": usage, "otel": {"attributes": {"image": image, "small": 1}}})
    decoded = orjson.loads(encode_run(run, max_bytes=4 * 1024 * 1024))
    assert decoded["metadata"]["node"] == node
    assert decoded["metadata"]["usage"] == usage
    attributes = decoded["metadata"]["otel"]["attributes"]
    assert attributes["small"] == 1
    assert attributes["image"].startswith("data:image/png;base64,AAAA") and MARKER in attributes["image"]
    assert validate_body({"runs": [decoded]}) == []


def test_an_array_of_numbers_keeps_its_first_items() -> None:
    """An embedding, or an image as the AI SDK records it: a JSON array of byte values."""
    run = sample_run(output={"embedding": list(range(200_000))})
    decoded = orjson.loads(encode_run(run, max_bytes=30_000))
    kept = decoded["output"]["embedding"]
    assert kept[:5] == [0, 1, 2, 3, 4] and all(isinstance(item, int) for item in kept[:-1])
    assert MARKER in kept[-1]
    assert validate_body({"runs": [decoded]}) == []


def test_a_run_of_countless_small_values_is_cut_by_whole_fields() -> None:
    """Too many values to mark each: the fields themselves are cut (keeping their JSON type), and it fits."""
    run = sample_run(metadata={f"key-{index}": "v" * 80 for index in range(5_000)}, input="i" * 10)
    encoded = encode_run(run, max_bytes=20_000)
    assert len(encoded) <= 20_000
    decoded = orjson.loads(encoded)
    assert isinstance(decoded["metadata"], dict) and MARKER in decoded["metadata"]["truncated"]
    assert decoded["input"] == "i" * 10


def test_pack_respects_the_cap_and_keeps_order() -> None:
    parts = [encode(sample_run(name=f"run-{i}", input="p" * 300)) for i in range(40)]
    payloads = pack(parts, max_body_bytes=2_000)
    assert len(payloads) > 1
    assert all(len(payload.body) <= 2_000 for payload in payloads)
    names = [run["name"] for payload in payloads for run in orjson.loads(payload.body)["runs"]]
    assert names == [f"run-{i}" for i in range(40)]


def test_pack_of_one_big_part_still_sends_it() -> None:
    part = encode(sample_run(input="q" * 5_000))
    payloads = pack([part], max_body_bytes=len(part) + ENVELOPE_BYTES)
    assert [payload.runs for payload in payloads] == [1]


def test_halve_splits_runs_between_two_valid_bodies() -> None:
    parts = tuple(encode(sample_run(name=str(i))) for i in range(5))
    first, second = halve(pack(parts, 10**6)[0])
    assert first.runs + second.runs == 5
    for payload in (first, second):
        assert payload.body == body_of(payload.parts)
        assert validate_body(orjson.loads(payload.body)) == []


attribute_values = st.one_of(
    st.text(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.text(), max_size=5),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=5),
    st.lists(st.floats(), max_size=5),
    st.lists(st.booleans(), max_size=5),
)
attribute_keys = st.one_of(
    st.text(min_size=1, max_size=20),
    st.sampled_from(
        [
            "dynamiq.run.type",
            "dynamiq.run.status",
            "dynamiq.run.input",
            "dynamiq.run.output",
            "dynamiq.run.metadata",
            "dynamiq.run.error",
            "dynamiq.run.executions",
            "dynamiq.run.tags",
            "dynamiq.run.name",
            "dynamiq.session.id",
            "input.value",
            "input.mime_type",
            "output.value",
            "gen_ai.usage.input_tokens",
            "gen_ai.request.model",
            "gen_ai.input.messages",
            "llm.token_count.total",
            "session.id",
        ]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attributes=st.dictionaries(attribute_keys, attribute_values, max_size=12), name=st.text(max_size=50))
def test_any_attribute_values_make_a_run_the_collector_accepts(
    recorder: SpanRecorder, attributes: dict[str, Any], name: str
) -> None:
    recorder.memory.clear()
    with recorder.tracer.start_as_current_span(name, attributes=attributes):
        pass
    (span,) = recorder.spans()
    encoded = encode_run(span_to_run(span, DEFAULTS), max_bytes=1_000_000)
    assert validate_body(json.loads(body_of([encoded]))) == []
