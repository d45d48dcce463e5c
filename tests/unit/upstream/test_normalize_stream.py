"""The stream normaliser on recorded-style streams from OpenAI, vLLM, llama.cpp, TGI and Ollama."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.upstream.normalize_stream import StreamNormalizer
from gateway.upstream.sse import DONE_FRAME, SseEvent, SseParser, encode_data
from gateway.upstream.usage import Usage

STREAMS = Path(__file__).parent / "streams"


def recorded(name: str) -> list[SseEvent]:
    parser = SseParser()
    return parser.feed((STREAMS / name).read_bytes()) + parser.close()


def normalizer(*, kind="chat", wants_usage=False, prompt_estimate=11, model="client-model") -> StreamNormalizer:
    return StreamNormalizer(
        kind=kind, client_wants_usage=wants_usage, prompt_tokens_estimate=prompt_estimate, model=model
    )


def relay(norm: StreamNormalizer, events: list[SseEvent]) -> list[bytes]:
    frames = [frame for event in events for frame in norm.feed(event)]
    return frames + norm.finish()


def client_view(frames: list[bytes]) -> list[SseEvent]:
    """What a client's SSE parser sees in the frames we send."""
    parser = SseParser()
    return parser.feed(b"".join(frames)) + parser.close()


def chunks(frames: list[bytes]) -> list[dict]:
    """The JSON chunks a client receives (no comments, no [DONE])."""
    return [json.loads(e.data) for e in client_view(frames) if e.data is not None and e.data != "[DONE]"]


def chunk(choices: list[dict], **extra) -> SseEvent:
    body = {
        "id": "chatcmpl-t",
        "object": "chat.completion.chunk",
        "created": 1737965600,
        "model": "m",
        "choices": choices,
    }
    return SseEvent(data=json.dumps(body | extra))


def delta(content=None, index=0, finish_reason=None, **fields) -> dict:
    d = {"content": content, **fields} if content is not None else dict(fields)
    return {"index": index, "delta": d, "logprobs": None, "finish_reason": finish_reason}


def tool_calls_by_index(received: list[dict], choice: int = 0) -> dict[int, dict]:
    """Concatenate tool-call fragments the way clients do (every string is appended)."""
    calls: dict[int, dict] = {}
    for c in received:
        for ch in c["choices"]:
            if ch["index"] != choice:
                continue
            for frag in ch["delta"].get("tool_calls") or []:
                call = calls.setdefault(frag["index"], {"id": "", "type": "", "name": "", "arguments": ""})
                call["id"] += frag.get("id") or ""
                call["type"] += frag.get("type") or ""
                call["name"] += (frag.get("function") or {}).get("name") or ""
                call["arguments"] += (frag.get("function") or {}).get("arguments") or ""
    return calls


def test_well_formed_openai_stream_is_relayed_byte_for_byte():
    events = recorded("openai_chat_usage.sse")
    frames = relay(normalizer(wants_usage=True), events)
    assert frames == [encode_data(e.data) for e in events if e.data != "[DONE]"] + [DONE_FRAME]


def test_openai_parallel_tool_calls_are_relayed_unchanged():
    events = recorded("openai_chat_parallel_tools.sse")
    norm = normalizer()
    frames = relay(norm, events)
    assert frames == [encode_data(e.data) for e in events if e.data != "[DONE]"] + [DONE_FRAME]
    assert tool_calls_by_index(chunks(frames)) == {
        0: {"id": "call_8GkXq2Vh1mRt", "type": "function", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        1: {"id": "call_3hYwPz9Dk0Ls", "type": "function", "name": "get_time", "arguments": '{"tz": "Europe/Paris"}'},
    }
    assert norm.finish_reasons == {0: "tool_calls"}


def test_backend_usage_is_remembered_not_estimated():
    norm = normalizer(wants_usage=True)
    relay(norm, recorded("openai_chat_usage.sse"))
    assert norm.usage == Usage(9, 3, 12, estimated=False)
    assert norm.saw_done


def test_usage_only_chunk_is_dropped_when_client_did_not_ask():
    norm = normalizer(wants_usage=False)
    received = chunks(relay(norm, recorded("vllm_chat_usage.sse")))
    assert all("usage" not in c for c in received)
    assert all(c["choices"] for c in received)
    assert norm.usage == Usage(14, 5, 19)


def test_null_usage_on_every_openai_chunk_is_left_alone_when_client_did_not_ask():
    """`"usage": null` is what OpenAI itself sends; clients read it as absent, so no re-encoding."""
    events = recorded("openai_chat_usage.sse")
    frames = relay(normalizer(wants_usage=False), events)
    assert frames == [encode_data(e.data) for e in events[:4]] + [DONE_FRAME]


def test_usage_on_the_last_llamacpp_chunk_is_removed_but_the_chunk_kept():
    norm = normalizer(wants_usage=False)
    received = chunks(relay(norm, recorded("llamacpp_chat_repeated_tools.sse")))
    last = received[-1]
    assert "usage" not in last
    assert last["choices"][0]["finish_reason"] == "tool_calls"
    assert last["timings"]["predicted_n"] == 18
    assert norm.usage == Usage(212, 18, 230)


def test_client_asking_for_usage_keeps_llamacpp_usage():
    received = chunks(relay(normalizer(wants_usage=True), recorded("llamacpp_chat_repeated_tools.sse")))
    assert received[-1]["usage"] == {"completion_tokens": 18, "prompt_tokens": 212, "total_tokens": 230}


def test_llamacpp_repeated_tool_call_id_type_and_name_are_sent_once():
    received = chunks(relay(normalizer(), recorded("llamacpp_chat_repeated_tools.sse")))
    assert tool_calls_by_index(received) == {
        0: {"id": "call_Qm3xT8v1a", "type": "function", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    }


def test_vllm_hermes_tool_stream_is_relayed_unchanged():
    events = recorded("vllm_chat_hermes_tools.sse")
    frames = relay(normalizer(wants_usage=True), events)
    assert frames[:-2] == [encode_data(e.data) for e in events if e.data != "[DONE]"]
    assert tool_calls_by_index(chunks(frames))[0]["arguments"] == '{"city": "Paris"}'


def test_client_asking_for_usage_gets_an_estimate_when_the_backend_sends_none():
    norm = normalizer(wants_usage=True, prompt_estimate=21)
    frames = relay(norm, recorded("vllm_chat_hermes_tools.sse"))
    usage_chunk = json.loads(client_view(frames)[-2].data)
    # 3 argument fragments; the empty content fragments do not count
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24}
    assert usage_chunk["id"] == "chatcmpl-9b2e7d1c0a4f4e3b8c5d6e7f8a9b0c1d"
    assert norm.usage == Usage(21, 3, 24, estimated=True)
    assert frames[-1] == DONE_FRAME


def test_stream_cut_without_finish_reason_gets_a_stop_chunk_and_done():
    norm = normalizer(wants_usage=True, prompt_estimate=5)
    frames = relay(norm, recorded("ollama_chat_truncated.sse"))
    received = chunks(frames)
    finish = received[-2]
    assert finish["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]
    assert (finish["id"], finish["model"], finish["created"], finish["object"]) == (
        "chatcmpl-412",
        "llama3.2",
        1737965400,
        "chat.completion.chunk",
    )
    assert received[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    assert frames[-1] == DONE_FRAME
    assert not norm.saw_done


def test_every_unfinished_choice_gets_its_own_finish_reason():
    events = [
        chunk(
            [
                delta("a", index=0),
                delta(
                    index=1,
                    tool_calls=[
                        {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                ),
            ]
        ),
        chunk([delta("b", index=2, finish_reason="length")]),
    ]
    norm = normalizer()
    received = chunks(relay(norm, events))
    finishes = {c["choices"][0]["index"]: c["choices"][0]["finish_reason"] for c in received[2:]}
    assert finishes == {0: "stop", 1: "tool_calls"}
    assert norm.finish_reasons == {0: "stop", 1: "tool_calls", 2: "length"}


def test_legacy_function_call_without_finish_reason_finishes_as_function_call():
    events = [chunk([delta(function_call={"name": "f", "arguments": "{}"})])]
    assert chunks(relay(normalizer(), events))[-1]["choices"][0]["finish_reason"] == "function_call"


def test_completion_stream_unfinished_choice_gets_an_empty_text_chunk():
    events = recorded("vllm_completion.sse")
    events = [events[0], events[1]]  # cut before the finish_reason
    norm = normalizer(kind="completion", wants_usage=True, prompt_estimate=6)
    received = chunks(relay(norm, events))
    assert received[-2]["choices"] == [{"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}]
    assert received[-2]["object"] == "text_completion"
    assert received[-1]["usage"] == {"prompt_tokens": 6, "completion_tokens": 2, "total_tokens": 8}


def test_complete_completion_stream_keeps_its_usage_chunk_when_asked():
    events = recorded("vllm_completion.sse")
    frames = relay(normalizer(kind="completion", wants_usage=True), events)
    assert frames == [encode_data(e.data) for e in events if e.data != "[DONE]"] + [DONE_FRAME]


def test_done_is_held_back_and_sent_once_at_the_end():
    norm = normalizer()
    assert norm.feed(SseEvent(data="[DONE]")) == []
    assert norm.saw_done
    assert norm.feed(chunk([delta("late")])) == []
    assert norm.finish() == [DONE_FRAME]


def test_finish_is_idempotent():
    norm = normalizer()
    norm.feed(chunk([delta("a")]))
    assert norm.finish()[-1] == DONE_FRAME
    assert norm.finish() == []
    assert norm.feed(chunk([delta("b")])) == []


def test_event_without_data_is_dropped():
    norm = normalizer()
    assert norm.feed(SseEvent(data=None, event="ping")) == []
    assert norm.feed(SseEvent(data=None, id="3")) == []
    assert norm.dropped_events == 0


def test_comment_only_event_is_relayed_as_a_comment():
    norm = normalizer()
    assert norm.feed(SseEvent(data=None, comments=(" keep-alive",))) == [b": keep-alive\n\n"]


def test_tgi_stream_without_space_after_colon_and_eos_token_is_fixed():
    norm = normalizer()
    frames = relay(norm, recorded("tgi_chat_eos_token.sse"))
    assert b":\n\n" in frames  # axum's keep-alive comment goes through
    received = chunks(frames)
    assert [c["choices"][0]["delta"]["content"] for c in received] == ["Hi", "!", ""]
    assert received[-1]["choices"][0]["finish_reason"] == "stop"
    assert norm.finish_reasons == {0: "stop"}
    assert frames[-1] == DONE_FRAME


@pytest.mark.parametrize("data", ["not json", "", "{", "[1, 2]", "42", '"text"'])
def test_data_that_is_not_a_json_object_is_dropped_and_counted(data):
    norm = normalizer()
    assert norm.feed(SseEvent(data=data)) == []
    assert norm.dropped_events == 1


def test_vllm_error_chunk_becomes_openai_error_and_nothing_follows():
    norm = normalizer(wants_usage=True)
    norm.feed(chunk([delta("partial")]))
    error = {
        "error": {
            "object": "error",
            "message": "CUDA out of memory",
            "type": "InternalServerError",
            "param": None,
            "code": 500,
        }
    }
    frames = norm.feed(SseEvent(data=json.dumps(error)))
    assert chunks(frames) == [
        {"error": {"message": "CUDA out of memory", "type": "InternalServerError", "param": None, "code": "500"}}
    ]
    assert norm.errored
    assert norm.feed(SseEvent(data="[DONE]")) == []
    assert norm.finish() == []


def test_detail_error_chunk_is_converted():
    frames = normalizer().feed(SseEvent(data='{"detail": "Model is overloaded"}'))
    assert chunks(frames)[0]["error"]["message"] == "Model is overloaded"
    assert chunks(frames)[0]["error"]["type"] == "server_error"


def test_tgi_error_string_chunk_is_converted():
    data = '{"error":"Request failed during generation: Server error: CUDA OOM","error_type":"generation"}'
    error = chunks(normalizer().feed(SseEvent(data=data)))[0]["error"]
    assert error["message"] == "Request failed during generation: Server error: CUDA OOM"
    assert set(error) == {"message", "type", "param", "code"}


def test_llamacpp_error_field_is_converted_and_done_suppressed():
    norm = normalizer()
    frames = relay(norm, recorded("llamacpp_error_field.sse"))
    assert len(frames) == 1
    error = chunks(frames)[0]["error"]
    assert error["message"] == "the request exceeds the available context size, try increasing it"
    assert error["type"] == "exceed_context_size_error"
    assert error["code"] == "400"
    assert error["n_ctx"] == 4096
    assert norm.errored


def test_non_json_error_field_still_becomes_an_error():
    error = chunks(normalizer().feed(SseEvent(data=None, extra=(("error", "boom"),))))[0]["error"]
    assert error["message"] == "boom"
    assert error["type"] == "server_error"


def test_abort_sends_an_error_chunk_and_ends_the_stream():
    norm = normalizer()
    norm.feed(chunk([delta("a")]))
    frames = norm.abort("upstream closed the connection", code="upstream_error")
    assert chunks(frames) == [
        {
            "error": {
                "message": "upstream closed the connection",
                "type": "server_error",
                "param": None,
                "code": "upstream_error",
            }
        }
    ]
    assert norm.finish() == []
    assert norm.abort("again") == []


def test_legacy_function_call_beside_tool_calls_is_removed():
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    frames = normalizer().feed(chunk([delta(tool_calls=[call], function_call={"name": "f", "arguments": "{}"})]))
    sent = chunks(frames)[0]["choices"][0]["delta"]
    assert "function_call" not in sent
    assert sent["tool_calls"] == [call]


def test_repeated_legacy_function_call_name_is_sent_once():
    norm = normalizer()
    events = [
        chunk([delta(function_call={"name": "get_weather", "arguments": '{"city":'})]),
        chunk([delta(function_call={"name": "get_weather", "arguments": ' "Paris"}'})]),
    ]
    received = chunks(relay(norm, events))
    names = [c["choices"][0]["delta"]["function_call"].get("name") for c in received[:2]]
    assert names == ["get_weather", None]


def test_tool_calls_without_index_get_one():
    events = [
        chunk([delta(tool_calls=[{"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{"}}])]),
        chunk([delta(tool_calls=[{"function": {"arguments": "}"}}])]),
        chunk([delta(tool_calls=[{"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}])]),
    ]
    calls = tool_calls_by_index(chunks(relay(normalizer(), events)))
    assert calls == {
        0: {"id": "call_a", "type": "function", "name": "f", "arguments": "{}"},
        1: {"id": "call_b", "type": "function", "name": "g", "arguments": "{}"},
    }


def test_tool_call_arguments_sent_as_an_object_become_text():
    events = [
        chunk(
            [
                delta(
                    tool_calls=[
                        {"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": {"x": 1}}}
                    ]
                )
            ]
        )
    ]
    calls = tool_calls_by_index(chunks(relay(normalizer(), events)))
    assert json.loads(calls[0]["arguments"]) == {"x": 1}


def test_first_tool_fragment_without_type_gets_function():
    events = [chunk([delta(tool_calls=[{"index": 0, "id": "c", "function": {"name": "f", "arguments": ""}}])])]
    sent = chunks(relay(normalizer(), events))[0]["choices"][0]["delta"]["tool_calls"][0]
    assert sent["type"] == "function"


def test_unchanged_chunk_keeps_its_original_text():
    data = '{"id": "x",  "choices": [{"index": 0, "delta": {"content": "é"}, "finish_reason": null}], "zzz": 1}'
    assert normalizer().feed(SseEvent(data=data)) == [f"data: {data}\n\n".encode()]


def test_multi_line_json_data_is_relayed_as_valid_sse():
    data = '{"id": "x",\n "choices": [{"index": 0, "delta": {"content": "hi"}}]}'
    received = chunks(normalizer().feed(SseEvent(data=data)))
    assert received[0]["choices"][0]["delta"]["content"] == "hi"


def test_usage_estimate_counts_content_reasoning_and_argument_fragments():
    events = [
        chunk([delta("a", reasoning_content="think")]),
        chunk(
            [
                delta(
                    "",
                    tool_calls=[
                        {"index": 0, "id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                )
            ]
        ),
    ]
    norm = normalizer(prompt_estimate=4)
    assert norm.usage is None
    relay(norm, events)
    assert norm.usage == Usage(4, 3, 7, estimated=True)


def test_empty_stream_asking_usage_still_gets_a_usage_chunk():
    norm = normalizer(wants_usage=True, prompt_estimate=8, model="llama")
    frames = norm.finish()
    usage_chunk = json.loads(client_view(frames)[0].data)
    assert usage_chunk["model"] == "llama"
    assert usage_chunk["object"] == "chat.completion.chunk"
    assert isinstance(usage_chunk["created"], int)
    assert usage_chunk["usage"]["prompt_tokens"] == 8
    assert frames[-1] == DONE_FRAME
