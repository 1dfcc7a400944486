"""The AsyncAPI document is structurally valid AsyncAPI 3.0.0 and covers the whole protocol;
``docs/protocol.md`` names every error code and shows every envelope and frame."""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from graphwire.api.http.asyncapi import build_asyncapi
from graphwire.transport.protocol import (
    ClientFrame,
    Envelope,
    ErrorCode,
    parse_client_frame,
    parse_envelope,
)

DOC = Path(__file__).parent.parent / "docs" / "protocol.md"


def _models(union: Any) -> list[type[BaseModel]]:
    (members, *_) = typing.get_args(union)  # Annotated[A | B | …, Field(discriminator=…)]
    return list(typing.get_args(members))


def _types(union: Any) -> set[str]:
    return {str(m.model_fields["type"].default) for m in _models(union)}


ENVELOPE_TYPES = _types(Envelope)
FRAME_TYPES = _types(ClientFrame)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_asyncapi()


def resolve(doc: dict[str, Any], ref: str) -> Any:
    """The node a local JSON pointer (``#/a/b``) names; ``KeyError`` when there is none."""
    assert ref.startswith("#/"), f"not a local reference: {ref}"
    node: Any = doc
    for token in ref[2:].split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def deref(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(doc, node["$ref"])
    return node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                assert isinstance(value, str)
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def operation_types(doc: dict[str, Any], name: str) -> list[str]:
    """The wire ``type`` of each message of an operation, read from the payload schema."""
    types: list[str] = []
    for ref in doc["operations"][name]["messages"]:
        payload = deref(doc, deref(doc, ref)["payload"])
        type_schema = payload["properties"]["type"]
        types.extend([type_schema["const"]] if "const" in type_schema else type_schema["enum"])
    return types


# --------------------------------------------------------------------------- the document


def test_document_is_asyncapi_3(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "graphwire"
    assert isinstance(doc["info"]["version"], str) and doc["info"]["version"]
    assert doc["info"]["x-graphwire-protocol"] == "graphwire.v1"
    assert doc["channels"]["chat"]["address"] == "/ws/chat"
    server = doc["servers"]["graphwire"]
    assert (server["host"], server["protocol"]) == ("127.0.0.1:8000", "ws")
    assert "pathname" not in server


def test_every_ref_resolves_inside_the_document(doc: dict[str, Any]) -> None:
    found = list(refs(doc))
    assert len(found) > 30
    for ref in found:
        resolve(doc, ref)  # raises when the target is missing


def test_no_pydantic_leftovers(doc: dict[str, Any]) -> None:
    text = json.dumps(doc)
    assert "$defs" not in text
    assert "#/$defs" not in text
    # AsyncAPI's Schema Object wants `discriminator` as a string, not OpenAPI's object form.
    assert '"discriminator"' not in text


def test_json_round_trips_and_is_deterministic(doc: dict[str, Any]) -> None:
    assert json.loads(json.dumps(doc)) == doc
    assert json.dumps(build_asyncapi(), sort_keys=True) == json.dumps(doc, sort_keys=True)


def test_receive_envelopes_is_the_servers_send(doc: dict[str, Any]) -> None:
    # In AsyncAPI 3 an operation's action is what the described application (the server) does.
    operations = doc["operations"]
    assert operations["receiveEnvelopes"]["action"] == "send"
    assert operations["sendFrames"]["action"] == "receive"


def test_operations_reference_messages_of_their_channel(doc: dict[str, Any]) -> None:
    for name, operation in doc["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        assert channel_ref == "#/channels/chat", name
        channel = resolve(doc, channel_ref)
        for message in operation["messages"]:
            ref = message["$ref"]
            assert ref.startswith(channel_ref + "/messages/"), ref
            assert ref.rsplit("/", 1)[1] in channel["messages"]


def test_every_envelope_is_a_message_the_server_sends(doc: dict[str, Any]) -> None:
    types = operation_types(doc, "receiveEnvelopes")
    assert sorted(types) == sorted(ENVELOPE_TYPES)


def test_every_client_frame_is_a_message_the_server_receives(doc: dict[str, Any]) -> None:
    types = operation_types(doc, "sendFrames")
    assert sorted(types) == sorted(FRAME_TYPES)


def test_every_message_has_a_name_and_an_example_that_parses(doc: dict[str, Any]) -> None:
    messages = doc["channels"]["chat"]["messages"]
    assert len(messages) == len(ENVELOPE_TYPES | FRAME_TYPES)
    for ref in messages.values():
        message = deref(doc, ref)
        assert message["contentType"] == "application/json"
        (example,) = message["examples"]
        payload = example["payload"]
        assert payload["type"] == message["name"]
        if message["name"] in ENVELOPE_TYPES:
            assert parse_envelope(payload).to_wire() == payload
        else:
            assert parse_client_frame(payload).type == message["name"]


def test_component_schemas_are_json_schema_and_accept_the_examples(
    doc: dict[str, Any],
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft7Validator.check_schema(schema)
    for ref in doc["channels"]["chat"]["messages"].values():
        message = deref(doc, ref)
        root = {"allOf": [message["payload"]], "components": doc["components"]}
        for example in message["examples"]:
            jsonschema.Draft7Validator(root).validate(example["payload"])
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft7Validator(root).validate({"type": message["name"], "extra": 1})


def test_security_schemes_are_referenced(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "httpApiKey"}
    used = {r["$ref"] for r in doc["servers"]["graphwire"]["security"]}
    assert used == {f"#/components/securitySchemes/{name}" for name in schemes}


@pytest.mark.parametrize(
    ("url", "host", "protocol", "pathname"),
    [
        ("wss://chat.example.com", "chat.example.com", "wss", None),
        ("https://chat.example.com/graphwire/", "chat.example.com", "wss", "/graphwire"),
        ("http://localhost:8000/", "localhost:8000", "ws", None),
    ],
)
def test_server_url_becomes_host_protocol_and_pathname(
    url: str, host: str, protocol: str, pathname: str | None
) -> None:
    server = build_asyncapi(server_url=url)["servers"]["graphwire"]
    assert (server["host"], server["protocol"], server.get("pathname")) == (
        host,
        protocol,
        pathname,
    )


@pytest.mark.parametrize("url", ["ftp://example.com", "127.0.0.1:8000", "ws://"])
def test_server_url_must_be_a_websocket_or_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="server_url"):
        build_asyncapi(server_url=url)


def test_documents_do_not_share_state() -> None:
    first = build_asyncapi()
    first["components"]["securitySchemes"]["bearerToken"]["scheme"] = "changed"
    first["channels"]["chat"]["bindings"]["ws"]["method"] = "POST"
    second = build_asyncapi()
    assert second["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    assert second["channels"]["chat"]["bindings"]["ws"]["method"] == "GET"


# --------------------------------------------------------------------------- docs/protocol.md


def doc_blocks() -> Iterator[list[Any]]:
    """The JSON values of each ```json block of the protocol document (a block holds one value,
    or one value per line)."""
    text = DOC.read_text(encoding="utf-8")
    for block in re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL):
        try:
            yield [json.loads(block)]
        except json.JSONDecodeError:
            yield [json.loads(line) for line in block.splitlines() if line.strip()]


def wire_objects(values: list[Any]) -> list[dict[str, Any]]:
    """The envelopes and frames among JSON values (the objects with a ``type``)."""
    return [v for v in values if isinstance(v, dict) and isinstance(v.get("type"), str)]


def all_wire_objects() -> list[dict[str, Any]]:
    return [obj for block in doc_blocks() for obj in wire_objects(block)]


def test_protocol_doc_names_every_error_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [code.value for code in ErrorCode if f"`{code.value}`" not in text]
    assert missing == []


def test_protocol_doc_shows_every_envelope_and_frame() -> None:
    shown = {obj["type"] for obj in all_wire_objects()}
    assert ENVELOPE_TYPES - shown == set()
    assert FRAME_TYPES - shown == set()
    text = DOC.read_text(encoding="utf-8")
    for wire_type in ENVELOPE_TYPES | FRAME_TYPES:
        assert f"`{wire_type}`" in text, wire_type


def test_protocol_doc_examples_are_valid() -> None:
    checked = 0
    for obj in all_wire_objects():
        if "data" in obj:  # an envelope: the server writes exactly this
            assert parse_envelope(obj).to_wire() == obj
        else:
            parse_client_frame(obj)
        checked += 1
    assert checked >= len(ENVELOPE_TYPES | FRAME_TYPES)


def test_protocol_doc_transcripts_keep_the_run_rules() -> None:
    """In every whole run a block shows, seq counts from 0 with no gap, sources precede the text,
    the deltas add up to the final text, and end comes last."""
    complete = []
    for block in doc_blocks():
        runs: dict[str, list[dict[str, Any]]] = {}
        for obj in wire_objects(block):
            if "data" in obj and obj["seq"] is not None:
                runs.setdefault(obj["run_id"], []).append(obj)
        complete += [r for r in runs.values() if r[0]["seq"] == 0 and r[-1]["type"] == "end"]
    assert len(complete) >= 3, "the document shows a whole completed, failed and stopped run"
    for run in complete:
        assert [e["seq"] for e in run] == list(range(len(run)))
        assert len({e["session_id"] for e in run}) == 1
        types = [e["type"] for e in run]
        assert types.count("end") == 1 and types[-1] == "end"
        reason = run[-1]["data"]["reason"]
        expected = {"complete": ["final"], "error": ["error"], "cancelled": []}[reason]
        assert [t for t in types if t in ("final", "error")] == expected
        if "text" in types:
            assert types.count("sources") == 1
            assert types.index("sources") < types.index("text")
        if "final" in types:
            deltas = "".join(e["data"]["delta"] for e in run if e["type"] == "text")
            assert deltas == run[types.index("final")]["data"]["text"]
        if "error" in types:
            failed = [
                e for e in run if e["type"] == "workflow_step" and e["data"]["status"] == "failed"
            ]
            assert failed and all(e["seq"] < run[types.index("error")]["seq"] for e in failed)
