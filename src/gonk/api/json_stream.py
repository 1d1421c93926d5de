"""One JSON object read as it streams in, one member's base64 string decoded to bytes on the way.

Why: an object create or update in JSON (`{"name", "mimetype", "object": "<base64>"}`) was read
whole by request.get_json: the body, its text, the decoded str and the decoded bytes were all
in memory together, 3.75 times the body per request (225 MiB for a 60 MiB body; issue 11).
ObjectScanner reads the body piece by piece instead and hands back the bytes the "object"
member's base64 stands for as they arrive, for the blob store to take: a request then holds a
few pieces of the body, not the body.

It is a push parser: `feed` it the body's text piece by piece (`DecodedText` turns the body's
bytes into text as json.loads decodes bytes: UTF-8, or UTF-16/32 told by the first bytes,
lone surrogates passed through), then call `end`. It checks the whole text against JSON as
Python's json module reads it (NaN and Infinity allowed, no control characters inside strings,
integers of at most sys.get_int_max_str_digits() digits, nothing after the object but
whitespace), so a body is refused exactly where json.loads refused it, but for one thing:
nesting deeper than MAX_DEPTH levels is refused, where json.loads ran out of recursion a little
deeper (about 950-980 levels, depending on the stack). Refusals raise JSONInvalid.

Members of the top-level object:

- the target (for objects, "object") is counted, and the first one's string is decoded as
  base64.b64decode(text, validate=True) decodes the whole text: only the standard alphabet,
  padding only at the end, whole groups of four. Groups are decoded as they arrive; the end
  (the last characters short of a group, and the padding) is decoded by b64decode itself when
  the string closes, after the last whole group again, so that whatever b64decode makes of
  padding there (Python 3.11 takes any number of "=" after a whole group, but none at the
  start) is what it made of it in the whole text. JSON escapes stand for their characters
  (`\\/` is `/`, as some encoders write it). A lone surrogate in the string (which no UTF-8
  can hold) is noted apart from bad base64, as the two were refused with different messages;
- the members to capture (small ones: a name, a mimetype) are kept as their JSON text, up to
  MAX_CAPTURE characters each, for json.loads to decode once complete; a longer value is
  dropped and only noted as too long (and whether it was a string);
- every other value is checked and dropped as it is read.

Duplicate keys: the last one wins, as in json.loads, but for the target, which is counted: its
first value has already gone on, so a caller refuses a second one.

Memory: the piece being read, at most 11 characters carried over to the next piece (an escape
cut in two), and the captured members. Time: a Python loop turning once per token would check
a body of many small tokens many times slower than json.loads, so long stretches are matched by
regular expressions instead, each in one call: base64, strings, whole values up to LEVELS
containers deep and runs of them with their separators, the heads and the ends of containers.
The loop turns once per token only where a body defeats these (containers nested more deeply
than LEVELS over and over, keys with escapes in the top-level object).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 512  # objects and arrays inside one another, the top-level object included
MAX_CAPTURE = 1024 * 1024  # characters of JSON text kept for a captured member's value
MAX_PADDING = 4  # "=" at the end of the target's base64 beyond this many change nothing
LEVELS = 3  # containers inside one another that one match of _WHOLE_VALUE may hold


class JSONInvalid(ValueError):
    """The text is not one JSON object as json.loads reads it (or nests deeper than
    MAX_DEPTH)."""


class DecodedText(Iterator[str]):
    """The text of a body given as bytes, piece by piece, decoded as json.loads decodes bytes
    (json.detect_encoding on the first four bytes: UTF-8 with or without its BOM, UTF-16 or
    UTF-32; errors="surrogatepass"). Undecodable bytes raise JSONInvalid. An iterator class, not
    a generator, so that no piece of the body stays referenced once handed on."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._decoder: codecs.IncrementalDecoder | None = None
        self._done = False

    def __next__(self) -> str:
        if self._done:
            raise StopIteration
        try:
            if self._decoder is None:
                head = b""
                for chunk in self._chunks:
                    head += chunk
                    if len(head) >= 4:
                        break
                self._decoder = codecs.getincrementaldecoder(json.detect_encoding(head))(
                    "surrogatepass")
                return self._decoder.decode(head)
            piece = next(self._chunks, None)
            if piece is None:
                self._done = True
                return self._decoder.decode(b"", final=True)
            return self._decoder.decode(piece)
        except UnicodeDecodeError:
            self._done = True
            raise JSONInvalid("the body is not text in the encoding its first bytes tell") \
                from None


@dataclass
class Captured:
    """A captured member's value: its JSON text, or None when it was longer than the capture
    limit (`is_string` then tells whether it was a string)."""

    text: str | None
    is_string: bool

    def value(self) -> Any:
        """The value json.loads makes of the text (the scanner has checked it already)."""
        if self.text is None:
            raise ValueError("the value was too long to keep")
        return _loads(self.text)


def _loads(text: str) -> Any:
    """json.loads of text the scanner has checked; a string without escapes is its inside."""
    if text[:1] == '"' and "\\" not in text:
        return text[1:-1]
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise JSONInvalid("a member's value is not JSON") from None


@dataclass
class Target:
    """What is known of the target member: how many times its key came, whether its (first)
    value is a string, whether that string has closed, and whether all of it so far is valid
    base64 and free of lone surrogates."""

    count: int = 0
    is_string: bool = False
    closed: bool = False
    base64: bool = True
    unicode: bool = True


# --- the grammar, as regular expressions for the stretches a Python loop would be slow on ------
# (possessive quantifiers and atomic groups throughout: a match that fails, as one cut short at
# the end of a piece does, never backtracks into what it has matched)

_WS = re.compile(r"[ \t\n\r]*+")
_ESCAPE = r'\\["\\/bfnrt]|\\u[0-9a-fA-F]{4}'
_STRING_RUN = re.compile(rf'(?:[^"\\\x00-\x1f]++|{_ESCAPE})++')
# the same, stopping at any lone surrogate, raw or escaped (a target string is checked for
# them; an escaped pair is one character, as json.loads joins it)
_NO_SURROGATE_RUN = re.compile(
    r'(?:[^"\\\x00-\x1f\ud800-\udfff]++|\\["\\/bfnrt]|\\u(?![dD][89a-fA-F])[0-9a-fA-F]{4}'
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})++")
# base64 characters, also escaped (\/ as some encoders write it, \u0041 for the pedantic)
_B64_RUN = re.compile(r"(?:[A-Za-z0-9+/]++|\\/|"
                      r"\\u00(?:2[bBfF]|3[0-9]|4[1-9a-fA-F]|5[0-9aA]|6[1-9a-fA-F]|7[0-9aA]))++")
_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_DIGITS = re.compile(r"[0-9]++")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_ESCAPE_START = re.compile(r'\\(?:["\\/bfnrt]|u[0-9a-fA-F]{0,3})?')  # an escape cut short
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
                   "t": "\t"}
_LITERALS = {"t": "true", "f": "false", "n": "null", "N": "NaN", "I": "Infinity"}



def _grammar(levels: int) -> tuple[str, str, str]:
    """The patterns of a whole value (a scalar, or containers of such values up to `levels`
    deep), of whitespace, and of a string, for matching long stretches in one call where the
    loop would turn once per token. A number or literal counts only before a character that
    ends it, and a string or container only once closed, so a match stops short of a value
    the piece does not hold whole (the loop reads that one). Each container embeds the level
    below it once (the separators are checked by lookahead), so the pattern doubles per
    level rather than growing fourfold."""
    ws = r"[ \t\n\r]*+"
    string = rf'"(?:[^"\\\x00-\x1f]++|{_ESCAPE})*+"'
    ends = r"(?=[ \t\n\r,\]}])"
    number = rf"-?+(?:0|[1-9][0-9]{{0,99}}+)(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+{ends}"
    literal = rf"(?:true|false|null|NaN|-?Infinity){ends}"
    value = f"(?>{string}|{number}|{literal})"
    for _ in range(levels):
        array = rf"\[{ws}(?:{value}{ws}(?:,{ws}(?=[^\]])|(?=\])))*+\]"
        obj = rf'\{{{ws}(?:{string}{ws}:{ws}{value}{ws}(?:,{ws}(?=")|(?=\}})))*+\}}'
        value = f"(?>{string}|{number}|{literal}|{array}|{obj})"
    return value, ws, string


_VALUE_PATTERN, _WS_PATTERN, _STRING_PATTERN = _grammar(LEVELS)
_WHOLE_VALUE = re.compile(_VALUE_PATTERN)
# a container's opening, its whole values each with its comma, then its end, or in an object
# the key of the next member (see _open)
_ARRAY_HEAD = re.compile(
    rf"\[{_WS_PATTERN}(?>{_VALUE_PATTERN}{_WS_PATTERN}(?:,{_WS_PATTERN}(?=[^\]])|(?=\])))*+\]?")
_OBJECT_HEAD = re.compile(
    rf"\{{{_WS_PATTERN}(?>{_STRING_PATTERN}{_WS_PATTERN}:{_WS_PATTERN}{_VALUE_PATTERN}"
    rf'{_WS_PATTERN}(?:,{_WS_PATTERN}(?=")|(?=\}})))*+'
    rf"(?:\}}|{_STRING_PATTERN}{_WS_PATTERN}:{_WS_PATTERN})?")
_CLOSERS = re.compile(rf"[\]}}](?:{_WS_PATTERN}[\]}}])*+")
_OBJECT, _ARRAY = ord("{"), ord("[")
_CLOSING = bytes.maketrans(b"{[", b"}]")
_ARRAY_RUN = re.compile(rf"(?>{_WS_PATTERN},{_WS_PATTERN}{_VALUE_PATTERN})++")
_OBJECT_RUN = re.compile(
    rf"(?>{_WS_PATTERN},{_WS_PATTERN}{_STRING_PATTERN}{_WS_PATTERN}:{_WS_PATTERN}"
    rf"{_VALUE_PATTERN})++")


@functools.lru_cache(maxsize=16)
def _top_run(keys: frozenset[str]) -> re.Pattern[str]:
    """Runs of `, "key": value` in the top-level object whose keys are none of `keys` (and
    have no escape, which could spell one of them): members that are only checked."""
    others = "|".join(re.escape(key) for key in sorted(keys))
    key = rf'"(?!(?:{others})")[^"\\\x00-\x1f]*+"'
    return re.compile(rf"(?>{_WS_PATTERN},{_WS_PATTERN}{key}{_WS_PATTERN}:{_WS_PATTERN}"
                      rf"{_VALUE_PATTERN})++")


# states
_START, _KEY_OR_CLOSE, _KEY, _COLON, _VALUE, _VALUE_OR_CLOSE, _AFTER_VALUE, _END = range(8)
_STRING, _NUMBER, _LITERAL = range(8, 11)
# kinds of string
_PLAIN, _TOP_KEY, _TARGET = range(3)
# number states: after "-", after a leading 0, in the integer, after ".", in the fraction,
# after "e", after the exponent's sign, in the exponent
_N_MINUS, _N_ZERO, _N_INT, _N_DOT, _N_FRAC, _N_E, _N_ESIGN, _N_EXP = range(8)
_N_COMPLETE = (_N_ZERO, _N_INT, _N_FRAC, _N_EXP)  # a number may end in these


class ObjectScanner:
    """A push parser for one JSON object: see the module's docstring.

    `feed(text)` returns the bytes decoded from the target's base64 in that text (b"" if none);
    `end()` says the text is complete. Both raise JSONInvalid as soon as the text cannot be
    JSON (or not an object). Afterwards `target` and `captured` tell what the members were."""

    def __init__(self, target: str, capture: Iterable[str] = (), *,
                 max_capture: int = MAX_CAPTURE, max_depth: int = MAX_DEPTH) -> None:
        self.target_key = target
        self.capture_keys = frozenset(capture) - {target}
        self.max_capture = max_capture
        self.max_depth = max_depth
        self.target = Target()
        self.captured: dict[str, Captured] = {}
        # a top-level key whose JSON text is longer (each character escaped, as a surrogate
        # pair at worst, takes 12) is none of the keys asked about: it is not kept
        self._max_key = 2 + 12 * max(len(key) for key in (target, *self.capture_keys))
        self._int_limit = sys.get_int_max_str_digits()
        self._state = _START
        self._stack = bytearray()  # the open containers' brackets, "{" or "["
        self._buf = ""  # the text being scanned: what was carried over, then the fed piece
        self._n = 0  # its length
        self._tail = ""  # the end of the last piece, carried over: a token cut short
        self._final = False
        self._waiting = False  # the rest of the buffer is a token cut short: carry it over
        self._member: str | None = None  # the top-level member being read, if asked about
        self._string_kind = _PLAIN
        # characters scanned outside the target string's contents: what a caller bounds, as
        # checking them (nesting, escapes) costs far more per character than base64 does
        self.outside_target = 0
        self._string_is_key = False
        self._number = _N_MINUS
        self._int_digits = 0
        self._float = False
        self._literal = ""  # what the literal being read still has to spell
        # the span of text kept (a top-level key, or a captured member's value)
        self._span: list[str] | None = None
        self._span_from = 0
        self._span_size = 0
        self._span_limit = 0
        self._span_over = False
        self._span_is_string = False
        # the target's base64: characters short of a group of four, "=" seen, decoded bytes
        self._quad = ""
        self._last_group = ""  # the last whole group decoded (see _close_target)
        self._padding = 0
        self._out: list[bytes] = []
        self._ended = False

    @property
    def decoding(self) -> bool:
        """The target's string has begun (maybe ended), came once, and is valid so far: the
        bytes handed back are the target's bytes."""
        t = self.target
        return t.count == 1 and t.is_string and t.base64 and t.unicode

    def feed(self, text: str) -> bytes:
        if self._ended:
            raise RuntimeError("feed after end")
        self._run(self._tail + text if self._tail else text, final=False)
        return self._take()

    def end(self) -> None:
        """The text has ended: JSONInvalid unless it was a whole object. Idempotent."""
        if self._ended:
            return
        self._ended = True
        self._run(self._tail, final=True)
        if self._state != _END:
            raise JSONInvalid("the text ends before the object does")
        self._take()

    def _take(self) -> bytes:
        out = b"".join(self._out)
        self._out.clear()
        return out

    # --- the main loop ----------------------------------------------------------------------

    def _run(self, buf: str, final: bool) -> None:
        """Scan `buf` as far as it goes; a token cut short at its end (`_waiting`) is kept
        for the next piece."""
        self._buf, self._final, self._waiting = buf, final, False
        i, n = 0, len(buf)
        self._n = n
        while i < n:
            state, start = self._state, i
            if state == _STRING:
                i = self._in_string(i)
                if self._string_kind != _TARGET:
                    self.outside_target += i - start
            elif state == _NUMBER:
                i = self._in_number(i)
            elif state == _LITERAL:
                i = self._in_literal(i)
            else:
                i = _WS.match(buf, i).end()  # type: ignore[union-attr]  # always matches
                if i < n:
                    i = self._token(i)
            if state != _STRING:
                self.outside_target += i - start
            if self._waiting:
                break
        if self._waiting and final:
            raise JSONInvalid("the text ends inside an escape")
        if self._span is not None:
            self._keep(i)
            self._span_from = 0  # the carried-over text starts the next buffer
        self._tail = buf[i:]  # empty but for a token cut short
        self._buf = ""

    def _token(self, i: int) -> int:
        """The token starting at `buf[i]` (not whitespace) outside strings, numbers and
        literals: structure, or the start of a value."""
        state, c = self._state, self._buf[i]
        if state == _AFTER_VALUE:
            in_object = self._stack[-1] == _OBJECT
            if c == ",":
                j = self._skip_run(i)
                if j != i:
                    return j
                self._state = _KEY if in_object else _VALUE
                return i + 1
            if c == ("}" if in_object else "]"):
                return self._closers(i)
            raise JSONInvalid(f"unexpected {c!r} after a value")
        if state == _VALUE or (state == _VALUE_OR_CLOSE and c != "]"):
            return self._value(i)
        if state == _VALUE_OR_CLOSE:
            return self._close(i)
        if state in (_KEY, _KEY_OR_CLOSE):
            if c == '"':
                self._begin_string(i, key=True)
                return i + 1
            if c == "}" and state == _KEY_OR_CLOSE:
                return self._close(i)
            raise JSONInvalid("expected a key in double quotes")
        if state == _COLON:
            if c != ":":
                raise JSONInvalid("expected ':' after a key")
            self._state = _VALUE
            return i + 1
        if state == _START:
            if c != "{":
                raise JSONInvalid("the text is not an object")
            self._stack.append(_OBJECT)
            self._state = _KEY_OR_CLOSE
            return i + 1
        raise JSONInvalid("more text after the object")  # _END

    def _skip_run(self, i: int) -> int:
        """Past the run of `, value` (in an array) or `, "key": value` (in an object) at
        buf[i] that one match checks; `i` if there is none. In the top-level object, only
        members that are none of those asked about; elsewhere (a member's value) anything.
        The values may nest LEVELS deep: not where that would pass the depth limit."""
        depth = len(self._stack)
        if depth + LEVELS > self.max_depth:
            return i
        if depth == 1:
            run = _top_run(self.capture_keys | {self.target_key})
        else:
            run = _OBJECT_RUN if self._stack[-1] == _OBJECT else _ARRAY_RUN
        m = run.match(self._buf, i)
        if m is None:
            return i
        self._state = _AFTER_VALUE
        return m.end()

    def _whole_value(self, i: int) -> int:
        """Past the value at buf[i] if one match checks it whole (see _skip_run), unless it is
        the target's; `i` if not."""
        depth = len(self._stack)
        if depth + LEVELS > self.max_depth or (depth == 1 and self._member == self.target_key):
            return i
        m = _WHOLE_VALUE.match(self._buf, i)
        if m is None:
            return i
        self._value_done(m.end())
        return m.end()

    def _value(self, i: int) -> int:
        buf, c = self._buf, self._buf[i]
        member_value = len(self._stack) == 1
        if member_value:
            self._begin_member_value(i, c)
        j = self._whole_value(i)
        if j != i:
            return j
        if c == '"':
            self._begin_string(i, key=False)
            return i + 1
        if c in "{[":
            return self._open(i, c)
        if c == "-" or "0" <= c <= "9":
            self._state = _NUMBER
            self._float = False
            if c == "-":
                self._number, self._int_digits = _N_MINUS, 0
            else:
                self._number, self._int_digits = (_N_ZERO if c == "0" else _N_INT), 1
            return i + 1
        literal = _LITERALS.get(c)
        if literal is None:
            raise JSONInvalid(f"unexpected {buf[i]!r} where a value should be")
        self._state, self._literal = _LITERAL, literal[1:]
        return i + 1

    def _open(self, i: int, c: str) -> int:
        """A container opens at buf[i]. One match (see _skip_run) takes its whole values with
        their commas, and its end if all its values are whole (then it is one value), or else
        the key of its next member; a container opening right there is opened at once. So
        containers inside one another take a turn of this loop each, not of the main loop."""
        buf, n = self._buf, self._n
        while True:
            depth = len(self._stack)
            if depth >= self.max_depth:
                raise JSONInvalid(f"nested more than {self.max_depth} levels deep")
            self._stack.append(ord(c))
            is_object = c == "{"
            start = _WS.match(buf, i + 1).end()  # type: ignore[union-attr]  # always matches
            self._state = _KEY_OR_CLOSE if is_object else _VALUE_OR_CLOSE
            if depth + 1 + LEVELS > self.max_depth:
                return start
            head = _OBJECT_HEAD if is_object else _ARRAY_HEAD
            end = head.match(buf, i).end()  # type: ignore[union-attr]  # always matches
            if end > start:
                last = end - 1
                while buf[last] in " \t\n\r":
                    last -= 1
                if buf[last] == ("}" if is_object else "]"):  # all of it: one value
                    self._stack.pop()
                    self._value_done(end)
                    return end
                # after a comma, or (in an object) after the next member's key
                self._state = _KEY if buf[last] == "," and is_object else _VALUE
            if self._state not in (_VALUE, _VALUE_OR_CLOSE) or end >= n or buf[end] not in "[{" \
                    or _WHOLE_VALUE.match(buf, end):
                return end
            i, c = end, buf[end]

    def _closers(self, i: int) -> int:
        """Containers close at buf[i]: past a run of closing brackets that close containers
        nested in a member's value (each checked against its opening one) in one turn of the
        loop; else past the one."""
        m = _CLOSERS.match(self._buf, i)
        assert m is not None  # buf[i] is one
        run = m.group()
        closers = run.encode("ascii").translate(None, b" \t\n\r")
        count = min(len(closers), len(self._stack) - 2)
        if count < 2 or (len(run) != len(closers) and count != len(closers)):
            return self._close(i)
        if closers[:count] != self._stack[-count:][::-1].translate(_CLOSING):
            return self._close(i)  # one of them does not match: refused there
        del self._stack[-count:]
        self._state = _AFTER_VALUE
        return m.end() if count == len(closers) else i + count

    def _close(self, i: int) -> int:
        """The container open at the top of the stack closes at `buf[i]`."""
        self._stack.pop()
        if not self._stack:
            self._state = _END
            return i + 1
        self._value_done(i + 1)
        return i + 1

    def _value_done(self, end: int) -> None:
        """A value has ended just before `buf[end]`."""
        if len(self._stack) == 1:
            self._end_member_value(end)
        self._state = _AFTER_VALUE

    # --- members of the top-level object -----------------------------------------------------

    def _begin_member_value(self, i: int, c: str) -> None:
        member = self._member
        if member is None:
            return
        if member == self.target_key:
            if self.target.count == 1:
                self.target.is_string = c == '"'
            return
        self._begin_span(i, self.max_capture)
        self._span_is_string = c == '"'

    def _end_member_value(self, end: int) -> None:
        member, self._member = self._member, None
        if member is None or member == self.target_key:
            return
        text = self._end_span(end)
        self.captured[member] = Captured(text, self._span_is_string)

    def _end_key(self, end: int) -> None:
        text = self._end_span(end)
        key = _loads(text) if text is not None else None
        if key == self.target_key:
            self.target.count += 1
            self._member = key
        elif key in self.capture_keys:
            self._member = key
        else:
            self._member = None

    def _begin_span(self, i: int, limit: int) -> None:
        self._span, self._span_from, self._span_size = [], i, 0
        self._span_limit, self._span_over = limit, False

    def _keep(self, end: int) -> None:
        """Add buf[_span_from:end] to the span, unless that makes it longer than its limit."""
        assert self._span is not None
        if self._span_over or end <= self._span_from:
            return
        self._span_size += end - self._span_from
        if self._span_size > self._span_limit:
            self._span_over = True
            self._span.clear()
        else:
            self._span.append(self._buf[self._span_from:end])

    def _end_span(self, end: int) -> str | None:
        self._keep(end)
        assert self._span is not None
        text = None if self._span_over else "".join(self._span)
        self._span = None
        return text

    # --- strings ---------------------------------------------------------------------------

    def _begin_string(self, i: int, key: bool) -> None:
        self._state = _STRING
        self._string_is_key = key
        top = len(self._stack) == 1
        if key and top:
            self._string_kind = _TOP_KEY
            self._begin_span(i, self._max_key)
        elif not key and top and self._member == self.target_key and self.target.count == 1:
            self._string_kind = _TARGET
        else:
            self._string_kind = _PLAIN

    def _string_done(self, end: int) -> None:
        if self._string_kind == _TOP_KEY:
            self._end_key(end)
        if self._string_is_key:
            self._state = _COLON
        else:
            self._value_done(end)

    def _in_string(self, i: int) -> int:
        if self._string_kind == _TARGET:
            return self._in_target(i)
        buf, n = self._buf, self._n
        m = _STRING_RUN.match(buf, i)
        if m is not None:
            i = m.end()
            if i == n:
                return i
        c = buf[i]
        if c == '"':
            self._string_done(i + 1)
            return i + 1
        if c == "\\":
            self._escape_cut_short(i)
            return i
        raise JSONInvalid("a control character inside a string")

    def _escape_cut_short(self, i: int) -> None:
        """The escape at buf[i] did not match whole: wait for the rest if the text ends
        inside it, else it is no escape at all."""
        if not self._final and _ESCAPE_START.fullmatch(self._buf, i):
            self._waiting = True
            return
        raise JSONInvalid("an invalid escape inside a string")

    def _in_target(self, i: int) -> int:
        """The target's string: base64 decoded while it is valid, and checked for lone
        surrogates (and JSON) to its end."""
        t, buf, n = self.target, self._buf, self._n
        while i < n:
            if t.base64:  # after padding, character by character: only "=" or the end
                m = None if self._padding else _B64_RUN.match(buf, i)
                if m is not None:
                    end = m.end()
                    if buf.find("\\", i, end) < 0:
                        self._data(buf, i, end)
                    else:
                        run = json.loads(f'"{m.group()}"')
                        self._data(run, 0, len(run))
                    i = end
                    continue
            else:
                m = (_NO_SURROGATE_RUN if t.unicode else _STRING_RUN).match(buf, i)
                if m is not None:
                    i = m.end()
                    if i == n:
                        break
            c = buf[i]
            if c == '"':
                self._close_target()
                self._string_done(i + 1)
                return i + 1
            if c == "\\":
                escaped = self._escape(i)
                if escaped is None:
                    return i
                c, length = escaped
                i += length
            elif c < " ":
                raise JSONInvalid("a control character inside a string")
            else:
                i += 1
            self._target_char(c)
        return i

    def _escape(self, i: int) -> tuple[str, int] | None:
        """The character the escape at buf[i] stands for (one escaped surrogate pair is one
        character, as json.loads joins them), and the escape's length; None to wait for
        the rest of it."""
        buf = self._buf
        if buf[i + 1:i + 2] in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[buf[i + 1]], 2
        digits = buf[i + 2:i + 6]
        if buf[i + 1:i + 2] != "u" or not _HEX4.fullmatch(digits):
            self._escape_cut_short(i)
            return None
        code = int(digits, 16)
        if 0xD800 <= code <= 0xDBFF:
            after = buf[i + 6:i + 12]
            if len(after) < 6 and not self._final and "\\u".startswith(after[:2]):
                self._waiting = True  # a low surrogate may follow
                return None
            if after[:2] == "\\u" and _HEX4.fullmatch(after, 2):
                low = int(after[2:], 16)
                if 0xDC00 <= low <= 0xDFFF:
                    return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), 12
        return chr(code), 6

    def _target_char(self, c: str) -> None:
        """One character of the target's string outside the fast runs."""
        t = self.target
        if "\ud800" <= c <= "\udfff":
            t.unicode = False
        if not t.base64:
            return
        if c == "=":
            self._padding += 1
        elif c in _B64_ALPHABET and not self._padding:
            self._data(c, 0, 1)
        else:
            t.base64 = False

    def _data(self, text: str, start: int, end: int) -> None:
        """Base64 characters text[start:end]: whole groups of four are decoded (in one slice
        of the text, its only copy), the rest waits for the next characters."""
        if self._quad:
            take = min(4 - len(self._quad), end - start)
            self._quad += text[start:start + take]
            start += take
            if len(self._quad) < 4:
                return
            self._out.append(binascii.a2b_base64(self._quad))
            self._last_group, self._quad = self._quad, ""
        whole = start + (end - start) // 4 * 4
        if whole > start:
            self._out.append(binascii.a2b_base64(text[start:whole]))
            self._last_group = text[whole - 4:whole]
        self._quad = text[whole:end]

    def _close_target(self) -> None:
        """The end of the string decoded by b64decode itself, after the last whole group
        (decoded again, its 3 bytes dropped): b64decode's verdict on the end depends on
        whether anything came before it. More than MAX_PADDING "=" are as many as that."""
        t = self.target
        t.closed = True
        if t.base64:
            end = self._last_group + self._quad + "=" * min(self._padding, MAX_PADDING)
            try:
                self._out.append(base64.b64decode(end, validate=True)[len(self._last_group)
                                                                      // 4 * 3:])
            except binascii.Error:
                t.base64 = False
        self._quad = ""

    # --- numbers and literals --------------------------------------------------------------

    def _in_number(self, i: int) -> int:
        buf, n = self._buf, self._n
        while i < n:
            s, c = self._number, buf[i]
            if "0" <= c <= "9":
                if s == _N_ZERO:
                    break  # "01": the number is 0, and the 1 is refused after it
                if s in (_N_INT, _N_FRAC, _N_EXP):
                    end = _DIGITS.match(buf, i).end()  # type: ignore[union-attr]
                    if s == _N_INT:
                        self._int_digits += end - i
                    i = end
                    continue
                if s == _N_MINUS:
                    self._number, self._int_digits = (_N_ZERO if c == "0" else _N_INT), 1
                else:
                    self._number = {_N_DOT: _N_FRAC, _N_E: _N_EXP, _N_ESIGN: _N_EXP}[s]
            elif c == "." and s in (_N_ZERO, _N_INT):
                self._number, self._float = _N_DOT, True
            elif c in "eE" and s in (_N_ZERO, _N_INT, _N_FRAC):
                self._number, self._float = _N_E, True
            elif c in "+-" and s == _N_E:
                self._number = _N_ESIGN
            elif c == "I" and s == _N_MINUS:
                self._state, self._literal = _LITERAL, "nfinity"
                return i + 1
            else:
                break
            i += 1
        else:
            return i  # the number may go on in the next piece
        if self._number not in _N_COMPLETE:
            raise JSONInvalid("a number cut short")
        if not self._float and self._int_limit and self._int_digits > self._int_limit:
            raise JSONInvalid("an integer with more digits than json.loads converts")
        self._value_done(i)
        return i

    def _in_literal(self, i: int) -> int:
        want = self._literal
        have = self._buf[i:i + len(want)]
        if not want.startswith(have):
            raise JSONInvalid("not a value")
        i += len(have)
        self._literal = want[len(have):]
        if not self._literal:
            self._value_done(i)
        return i

