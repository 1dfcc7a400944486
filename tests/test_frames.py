"""Reading client frames (graphwire.api.ws.frames): pure, every refusal with its code and the ids it carried."""

from __future__ import annotations

from typing import Any

import pytest

from graphwire.api.ws.frames import FrameRefused, frame_ids, read_frame
from graphwire.transport.protocol import ErrorCode, MessageFrame, StopFrame, SubscribeFrame


def refusal(message: dict[str, Any], max_bytes: int = 64) -> FrameRefused:
    with pytest.raises(FrameRefused) as refused:
        read_frame(message, max_bytes=max_bytes)
    return refused.value


def test_text_and_bytes_frames_read_alike() -> None:
    raw = '{"type": "message", "message": "Höhe?", "session_id": "s_1"}'
    from_text = read_frame({"text": raw}, max_bytes=64)
    from_bytes = read_frame({"bytes": raw.encode()}, max_bytes=64)
    assert isinstance(from_text, MessageFrame) and from_text == from_bytes
    assert frame_ids(from_text) == (None, "s_1")
    assert frame_ids(read_frame({"text": '{"type":"stop","run_id":"r_1"}'}, max_bytes=64)) == (
        "r_1",
        None,
    )
    subscribe = read_frame({"text": '{"type":"subscribe","session_id":"s_2"}'}, max_bytes=64)
    assert isinstance(subscribe, SubscribeFrame) and frame_ids(subscribe) == (None, "s_2")
    assert isinstance(read_frame({"text": '{"type":"stop"}'}, max_bytes=64), StopFrame)


def test_the_size_limit_counts_utf8_bytes_of_text_frames() -> None:
    frame = '{"type":"message","message":"' + "é" * 20 + '"}'  # 51 characters, 71 bytes
    assert len(frame) <= 64 < len(frame.encode())
    refused = refusal({"text": frame})
    assert refused.error.code is ErrorCode.MESSAGE_TOO_LARGE
    assert str(refused) == "a frame of 71 bytes is over the 64-byte limit"
    assert refusal({"bytes": frame.encode()}).error.code is ErrorCode.MESSAGE_TOO_LARGE


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"text": ""}, "a frame must be a JSON object"),
        ({"text": "ping"}, "a frame must be a JSON object"),
        ({"bytes": b"\xff\xfe{}"}, "a frame must be UTF-8 JSON"),
        ({"bytes": '{"type":"ping"}'.encode("utf-16")}, "a frame must be UTF-8 JSON"),
        ({"text": "[1, 2]"}, "a frame must be a JSON object with a 'type'"),
        ({"text": '{"message": "hi"}'}, "a frame must be a JSON object with a 'type'"),
        ({"text": '{"type": "nap"}'}, "unknown frame type; expected auth, message, stop, resume, "
                                      "subscribe, unsubscribe or ping"),
    ],
)  # fmt: skip
def test_unreadable_frames_are_invalid_messages(message: dict[str, Any], reason: str) -> None:
    refused = refusal(message)
    assert refused.error.code is ErrorCode.INVALID_MESSAGE
    assert str(refused) == reason
    assert (refused.run_id, refused.session_id) == (None, None)


def test_an_invalid_frame_keeps_the_ids_it_named() -> None:
    refused = refusal(
        {"text": '{"type":"message","message":7,"run_id":"r_9","session_id":"s_9"}'}, 256
    )
    assert refused.error.code is ErrorCode.INVALID_MESSAGE
    assert str(refused).startswith("invalid frame: message: ")
    assert (refused.run_id, refused.session_id) == ("r_9", "s_9")
    odd = refusal({"text": '{"type":"stop","run_id":5,"session_id":"s_1"}'}, 256)
    assert (odd.run_id, odd.session_id) == (None, "s_1")  # only strings are names
