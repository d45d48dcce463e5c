"""Server-Sent Events: an incremental parser and the few encoders the relay needs.

Sans-I/O: `SseParser` turns bytes, in chunks cut anywhere, into `SseEvent` values following
the WHATWG "event stream interpretation" rules (UTF-8 with replacement, one leading BOM
dropped, lines ended by CRLF, LF or CR, `field: value` with one optional space after the
colon, a blank line ends an event). It knows nothing about sockets, JSON or OpenAI; the
stream normaliser (`normalize_stream.py`) gives the events their OpenAI meaning.

Two deliberate departures from a browser's EventSource, both because a relay must see
what a backend sent rather than what a browser would show:

- An event without a `data` line is still returned (with `data=None`) when it carried
  anything else: comments, `event`, `id`, `retry` or an unknown field. Browsers drop it.
- Unknown fields are kept in `SseEvent.extra`. llama.cpp's server reports a streaming
  error as an `error: {...}` line, which a strict parser would silently ignore.

`close()` also flushes an event the stream did not end with a blank line.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

DONE_FRAME = b"data: [DONE]\n\n"
"""The frame that ends an OpenAI stream."""

_BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One event of the stream.

    Attributes:
        data: The `data` lines joined by "\\n"; None when the event had no `data` line
            (`data` with no colon, or with an empty value, counts as a line and gives "").
        event: The `event` field, None when absent or empty.
        id: The `id` field of this event (None when this event set none); the last id seen
            on the stream is `SseParser.last_event_id`.
        comments: The text after the colon of each comment line, e.g. " keep-alive".
        retry: The `retry` field in milliseconds when it was all ASCII digits.
        extra: Unknown fields as (name, value) pairs, in stream order.
    """

    data: str | None
    event: str | None = None
    id: str | None = None
    comments: tuple[str, ...] = ()
    retry: int | None = None
    extra: tuple[tuple[str, str], ...] = ()


class SseParser:
    """Incremental event-stream parser: feed bytes as they arrive, get complete events back.

    A chunk may end anywhere: inside a UTF-8 sequence, between CR and LF, inside a field
    name. Feeding a stream in any split returns the same events as feeding it whole.
    """

    __slots__ = (
        "_bom_checked",
        "_closed",
        "_comments",
        "_data",
        "_decoder",
        "_event",
        "_extra",
        "_has_fields",
        "_id",
        "_last_event_id",
        "_partial",
        "_retry",
        "_skip_lf",
    )

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._bom_checked = False
        self._skip_lf = False
        self._partial = ""
        self._closed = False
        self._last_event_id: str | None = None
        self._reset_event()

    def _reset_event(self) -> None:
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._comments: list[str] = []
        self._retry: int | None = None
        self._extra: list[tuple[str, str]] = []
        self._has_fields = False

    @property
    def last_event_id(self) -> str | None:
        """The last `id` the stream set (what an EventSource would send as Last-Event-ID)."""
        return self._last_event_id

    def feed(self, data: bytes) -> list[SseEvent]:
        """Parse the next chunk of the stream; return the events it completed.

        Raises:
            RuntimeError: After `close()`.
        """
        if self._closed:
            raise RuntimeError("SseParser.feed() after close()")
        return self._parse_text(self._decoder.decode(data))

    def close(self) -> list[SseEvent]:
        """End the stream: return the last event even when no blank line followed it.

        Idempotent; an incomplete UTF-8 sequence at the end decodes to U+FFFD.
        """
        if self._closed:
            return []
        events = self._parse_text(self._decoder.decode(b"", final=True))
        self._closed = True
        if self._partial:
            line, self._partial = self._partial, ""
            self._take_line(line)
        if self._has_fields:
            events.append(self._dispatch())
        return events

    def _parse_text(self, text: str) -> list[SseEvent]:
        text = self._line_feeds_only(text)
        if "\n" not in text:
            self._partial += text
            return []
        lines = text.split("\n")
        if self._partial:
            lines[0] = self._partial + lines[0]
        self._partial = lines.pop()
        events: list[SseEvent] = []
        for line in lines:
            if line:
                self._take_line(line)
            elif self._has_fields:
                events.append(self._dispatch())
        return events

    def _line_feeds_only(self, text: str) -> str:
        """`text` without the stream's BOM, with every line ending as a single LF."""
        if text and not self._bom_checked:
            self._bom_checked = True
            if text[0] == _BOM:
                text = text[1:]
        if text and self._skip_lf:
            # The previous chunk ended with CR: an LF opening this one belongs to that CRLF.
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return text

    def _take_line(self, line: str) -> None:
        self._has_fields = True
        colon = line.find(":")
        if colon == 0:
            self._comments.append(line[1:])
            return
        if colon < 0:
            name, value = line, ""
        else:
            name = line[:colon]
            value = line[colon + 2 :] if line.startswith(" ", colon + 1) else line[colon + 1 :]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value or None
        elif name == "id":
            if "\0" not in value:
                self._id = value
                self._last_event_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                self._retry = int(value)
        else:
            self._extra.append((name, value))

    def _dispatch(self) -> SseEvent:
        event = SseEvent(
            data="\n".join(self._data) if self._data else None,
            event=self._event,
            id=self._id,
            comments=tuple(self._comments),
            retry=self._retry,
            extra=tuple(self._extra),
        )
        self._reset_event()
        return event


def encode_data(data: str | bytes) -> bytes:
    """One `data` event: b"data: ...\\n\\n", split over several `data` lines if it has line breaks."""
    raw = data.encode() if isinstance(data, str) else data
    if b"\n" in raw or b"\r" in raw:
        lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        return b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"
    return b"data: " + raw + b"\n\n"


def encode_comment(text: str) -> bytes:
    """A comment-only event; `text` goes verbatim after the colon (pass " keep-alive" for ": keep-alive")."""
    if "\n" in text or "\r" in text:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return "".join(f":{line}\n" for line in lines).encode() + b"\n"
    return f":{text}\n\n".encode()


def encode_comments(comments: tuple[str, ...]) -> bytes:
    """Several comment lines as one event, e.g. to relay `SseEvent.comments` unchanged."""
    return b"".join(encode_comment(text)[:-1] for text in comments) + b"\n"
