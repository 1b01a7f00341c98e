"""The literal scrubber: one regex pass that turns SQL text into its shape.

`scrub(text)` takes a statement (str) and returns it with every literal value replaced
by `?` and every comment removed, or raises `Untokenisable` when the text has an
unterminated quote, dollar quote or block comment (the caller then drops the text:
a half-scrubbed statement could still hold the tail of a secret).

Why one big regex: CPython runs `re.sub` in C and calls back into Python only for the
tokens it matched (literals, comments, quoted names), so plain words, operators and
placeholders cost almost nothing. Every alternative is written so that a failed
attempt scans forward at most once (no nested ambiguous quantifiers), and a failed
quote attempt aborts the whole scan, so time stays linear in the length of the text.

Quoting rules (PostgreSQL and MySQL together):
- `'...'` strings with `''` escapes; MySQL also lets `\\'` escape a quote. The two
  readings can disagree about where a string ends, so when the text holds a backslash
  both are tried and only a trustworthy one is used (see `scrub`).
- `E'...'` (backslash escapes), `X'..'`/`B'..'`/`N'..'`, `$$...$$` and `$tag$...$tag$`.
- `"..."` and backtick names are identifiers and are kept as written.
- numbers (with `_` separators, exponents, `0x..`/`0b..`) and TRUE/FALSE/NULL become `?`;
  digits that are part of a name (`table1`, `$1`, `:1`) are not numbers. Only ASCII
  digits make numbers: SQL engines do not read other digits as numbers either.
- comments: `-- ...`, `/* ... */` (PostgreSQL-style nesting honoured), and MySQL `#`
  comments when the `#` starts a line or is followed by a blank (so the PostgreSQL
  JSON operators `#>`, `#>>` and `#-` stay operators).
"""

import re

__all__ = ["scrub", "Untokenisable"]


class Untokenisable(Exception):
    """The text has a quote, dollar quote or block comment that never ends."""


class _NestedComment(Exception):
    """The fast pass met `/*` inside a block comment; the slow pass handles nesting."""


_ESCAPED_BODY = r"[^'\\]*(?:(?:\\.|'')[^'\\]*)*'"   # rest of E'..': backslash escapes
_STANDARD_BODY = r"[^']*(?:''[^']*)*'"               # rest of '..': only '' escapes
_MYSQL_BODY = _ESCAPED_BODY                          # MySQL: '' and \' both escape
_NUMBER_TAIL = r"[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9][0-9_]*)?"   # after the first digit
_NUMBER = r"(?:0[xX][0-9A-Fa-f_]+|0[bB][01_]+|[0-9]" + _NUMBER_TAIL + r"|\.[0-9]" + _NUMBER_TAIL + ")"
_NAME_BEFORE = r"[\w$]"  # a literal cannot start in the middle of a name


def _compile(string_body):
    """One tokenizer; `string_body` decides how plain '...' strings end.

    Every branch starts with one literal character and the match's first character
    tells `_replace` what was matched. That shape lets CPython's regex engine skip, in
    C, every position that cannot start a token (most of the text) and reject the
    other branches with a one-character test: about three times faster than named
    groups behind look-behinds. A quote or comment that cannot be closed matches
    only its opening characters (a one-character `'`, a bare `/*` or `$tag$`), which
    `_replace` recognises and turns into `Untokenisable`.
    """
    after_e = r"(?<=(?<!" + _NAME_BEFORE + r")[Ee]')"
    branches = [
        r"'(?:" + after_e + r"(?:" + _ESCAPED_BODY + r")?|" + string_body + r"|)",
        r"\"(?:[^\"]*(?:\"\"[^\"]*)*\")?",  # second: ORMs quote every name
        r"\.(?<![\w$:]\.)[0-9]" + _NUMBER_TAIL,
        r"0(?<![\w$:]0)(?:[xX][0-9A-Fa-f_]+|[bB][01_]+|" + _NUMBER_TAIL + ")",
    ]
    branches += [d + r"(?<![\w$:]" + d + ")" + _NUMBER_TAIL for d in "123456789"]
    branches += [
        r"`(?:[^`]*(?:``[^`]*)*`)?",
        r"-(?:-[^\n]*|\s*" + _NUMBER + ")",
        r"/\*(?:.*?\*/)?",
        r"#(?:(?=\s|\Z)|(?<![^\n]#))[^\n]*",
        r"\$(?<!" + _NAME_BEFORE + r"\$)(?P<tag>(?:[^\W\d]\w*)?)\$(?:.*?\$(?P=tag)\$)?",
    ]
    return re.compile("|".join(branches), re.DOTALL)


_KEYWORD_VALUES = ("null", "true", "false")
_GLUE = frozenset("_$.\"`")  # next to these, a keyword is part of a name: t.null, "null"


def _is_glued(character):
    return character.isalnum() or character in _GLUE


def _replace_keyword_values(text):
    """TRUE, FALSE and NULL (any case, whole words, not `t.null`) -> `?`.

    Plain `str.find` on a lower-cased copy: they are rare, so this costs far less
    than one more regex pass over every letter t, f and n.
    """
    lowered = text.lower()
    if "null" not in lowered and "true" not in lowered and "false" not in lowered:
        return text
    found = []
    for word in _KEYWORD_VALUES:
        start = lowered.find(word)
        while start >= 0:
            end = start + len(word)
            if not ((start and _is_glued(lowered[start - 1]))
                    or (end < len(lowered) and _is_glued(lowered[end]))):
                found.append((start, end))
            start = lowered.find(word, end)
    if not found:
        return text
    found.sort()
    pieces = []
    position = 0
    for start, end in found:
        pieces.append(text[position:start])
        pieces.append("?")
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


_STANDARD = _compile(_STANDARD_BODY)
_MYSQL = _compile(_MYSQL_BODY)

# After these, a minus starts a negative number rather than a subtraction.
_OPERAND_KEYWORDS = frozenset((
    "SELECT", "WHERE", "AND", "OR", "NOT", "ON", "SET", "VALUES", "THEN", "ELSE", "WHEN",
    "CASE", "IN", "BETWEEN", "LIKE", "ILIKE", "IS", "RETURN", "BY", "LIMIT", "OFFSET",
    "AS", "HAVING", "DEFAULT", "INTERVAL", "ANY", "ALL", "SOME", "EXISTS", "ESCAPE",
    "DISTINCT", "FROM", "TO", "WITH",
))
_TRAILING_WORD = re.compile(r"[\w$]+\Z")


def _is_subtraction(text, minus_at):
    """True when the minus at `minus_at` follows an operand (a name, number, `)`...)."""
    before = text[max(0, minus_at - 64):minus_at].rstrip()
    if not before:
        return False
    last = before[-1]
    if last in ")]?\"`'":
        return True
    word = _TRAILING_WORD.search(before)
    return word is not None and word.group().upper() not in _OPERAND_KEYWORDS


_VALUE_STARTS = frozenset("0123456789.")


def _replace(match):
    """The replacement text for one token the tokenizer matched (see `_compile`).

    Runs once per literal, identifier and comment, so the common cases come first.
    """
    token = match.group()
    first = token[0]
    if first == "'":
        if len(token) == 1:
            raise Untokenisable()
        return "?"
    if first in _VALUE_STARTS:
        return "?"
    if first == '"' or first == "`":
        if len(token) == 1:
            raise Untokenisable()
        return token
    if first == "-":
        if token[1] == "-":
            return " "
        if _is_subtraction(match.string, match.start()):
            return "- ?" if token[1].isspace() else "-?"
        return "?"
    if first == "/":
        if len(token) == 2:
            raise Untokenisable()
        if "/*" in token[2:]:
            raise _NestedComment()
        return " "
    if first == "#":
        return " "
    if token.count("$") == 2:  # "$": an opening `$tag$` that never closes
        raise Untokenisable()
    return "?"


def _nested_comment_end(text, start):
    """Index just past the block comment opening at `start`, counting nested `/*`.

    Each `find` result is reused until the scan passes it, so the text is read once.
    """
    depth = 0
    position = start
    opening = text.find("/*", position)
    closing = text.find("*/", position + 2)
    while True:
        if closing < 0:
            raise Untokenisable()
        if 0 <= opening < closing:
            depth += 1
            position = opening + 2
            opening = text.find("/*", position)
        else:
            depth -= 1
            position = closing + 2
            if depth == 0:
                return position
            if 0 <= opening < position:
                opening = text.find("/*", position)
            closing = text.find("*/", position)


def _scrub_with_nesting(tokenizer, text):
    """Slow path for text with nested-looking comments: same tokens, real nesting."""
    pieces = []
    position = 0
    while True:
        for match in tokenizer.finditer(text, position):
            pieces.append(text[position:match.start()])
            token = match.group()
            if token[:2] == "/*" and len(token) > 2 and "/*" in token[2:]:
                pieces.append(" ")
                position = _nested_comment_end(text, match.start())
                break
            pieces.append(_replace(match))
            position = match.end()
        else:
            pieces.append(text[position:])
            return "".join(pieces)


def _scrub_with(tokenizer, text):
    try:
        scrubbed = tokenizer.sub(_replace, text)
    except _NestedComment:
        scrubbed = _scrub_with_nesting(tokenizer, text)
    return _replace_keyword_values(scrubbed)


def scrub(text):
    """Text (str) -> the same text with literals as `?` and comments as blanks.

    Whitespace is left as it was (the caller collapses it). Raises `Untokenisable`
    when a quote or comment never ends, or when backslashes make the text ambiguous.

    Backslashes: PostgreSQL ends 'C:\\' at the second quote, MySQL reads \\' as an
    escaped quote. Reading text of one dialect with the other's rule flips what is
    inside and outside quotes from that point on, and the flipped reading either
    never closes its last quote or meets a later backslash outside any literal (the
    next escape). So a reading is trusted only if no backslash is left in its output,
    and when both readings are trusted they must agree.
    """
    if "\\" not in text:
        return _scrub_with(_STANDARD, text)
    trusted = []
    for tokenizer in (_STANDARD, _MYSQL):
        try:
            scrubbed = _scrub_with(tokenizer, text)
        except Untokenisable:
            continue
        if "\\" not in scrubbed:
            trusted.append(scrubbed)
    if not trusted or trusted[0] != trusted[-1]:
        raise Untokenisable()
    return trusted[0]
