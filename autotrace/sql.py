"""SQL statement summaries for DB spans: scrubbed text, operation, table, span name.

`summarize(statement, max_length=2048, sanitize=True)` -> `SqlSummary`. It never raises:
any input (str, bytes, objects, junk) gives a summary, at worst an empty one.

- text: the statement with literals as `?`, comments dropped, whitespace collapsed,
  and `IN (...)` / multi-row `VALUES (...), (...)` lists of values or placeholders
  collapsed to `(?)`, so a query groups the same whatever the list length. The
  collapsed list is written `(?)` whatever placeholder style it used (`%s`, `$1`...).
  Text longer than max_length is cut and ends with "..." (total <= max_length; below
  4 characters there is no room for the marker and the text is only cut).
  A statement that cannot be tokenised (unterminated quote or comment) is replaced
  by its operation name, or "": never stored raw.
  With sanitize=False: the statement as written, whitespace collapsed, cut the same.
- operation: the upper-case leading SQL keyword ("SELECT", "BEGIN"...), for WITH the
  keyword of the main statement; None when the text does not start with a known one.
- collection: the one table the statement reads or writes, unquoted ("public.users");
  None when there is none or several (joins, comma lists, subqueries, several
  statements). Names of WITH queries are not tables.
- name: "OPERATION collection", "OPERATION", or "".

Known limit: MySQL without ANSI_QUOTES reads "..." as a string; here "..." is always
an identifier (PostgreSQL, SQLite, ANSI) and is kept, so a value written in double
quotes for MySQL would stay in the text. Placeholders, the norm for drivers, are safe.

Results are cached per (statement, max_length, sanitize) for str and bytes statements
up to 64 KiB, and the parse (operation, collection) per scrubbed text, so statements
that differ only in values are parsed once. Each cache is a plain dict cleared when
it passes 2048 entries (single dict operations are atomic in CPython: no lock).
"""

import re
from operator import itemgetter

from autotrace.sql_lexer import Untokenisable, scrub

__all__ = ["summarize", "SqlSummary"]


class SqlSummary(tuple):
    """Immutable (text, operation, collection, name); read it by attribute."""

    __slots__ = ()

    def __new__(cls, text="", operation=None, collection=None, name=""):
        return tuple.__new__(cls, (text, operation, collection, name))

    text = property(itemgetter(0), doc="Text for db.query.text (scrubbed unless asked not to).")
    operation = property(itemgetter(1), doc="Upper-case SQL operation, or None.")
    collection = property(itemgetter(2), doc="The single table the statement targets, or None.")
    name = property(itemgetter(3), doc="Span name: 'SELECT users', 'SELECT' or ''.")

    def __repr__(self):
        return "SqlSummary(text=%r, operation=%r, collection=%r, name=%r)" % tuple(self)


_EMPTY = SqlSummary()
_CACHE = {}
_PARSED = {}  # scrubbed text -> (operation, main operation, collection): many statements, one shape
_CACHE_ENTRIES = 2048
_CACHE_MAX_STATEMENT = 64 * 1024
_DEFAULT_MAX_LENGTH = 2048
_MARKER = "..."
_MAX_COLLECTION = 256

_OPERATIONS = frozenset((
    "SELECT INSERT UPDATE DELETE MERGE UPSERT REPLACE WITH CREATE DROP ALTER TRUNCATE "
    "RENAME COMMENT GRANT REVOKE BEGIN START COMMIT ROLLBACK SAVEPOINT RELEASE END ABORT "
    "PREPARE EXECUTE EXEC DEALLOCATE CALL DO COPY LOAD SET RESET SHOW DESCRIBE DESC "
    "EXPLAIN ANALYZE ANALYSE VACUUM REINDEX CLUSTER LOCK UNLOCK LISTEN NOTIFY UNLISTEN "
    "DECLARE FETCH MOVE CLOSE DISCARD CHECKPOINT REFRESH USE VALUES TABLE PRAGMA ATTACH "
    "DETACH OPTIMIZE HANDLER KILL FLUSH PURGE REPAIR CHECKSUM SECURITY IMPORT"
).split())
_MAIN_OPERATIONS = frozenset(("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"))
# Statements whose first keyword is directly followed by the table they write.
_TARGET_OPERATIONS = frozenset(("INSERT", "REPLACE", "UPDATE", "DELETE", "COPY", "TRUNCATE"))

_BLANKS = re.compile(r"[\s(]*")
_WORD = re.compile(r"[A-Za-z]+\b")

_PLACEHOLDER = r"(?:\?|%s|%\([^()]*\)s|\$[0-9]+|:[0-9]+|:[^\W\d]\w*|@[^\W\d]\w*)"
_PLACEHOLDER_ROW = r"\(\s*" + _PLACEHOLDER + r"(?:\s*,\s*" + _PLACEHOLDER + r")*\s*\)"
_IN_ITEM = r"(?:" + _PLACEHOLDER + "|" + _PLACEHOLDER_ROW + ")"
_IN_LIST = r"\s*\(\s*" + _IN_ITEM + r"(?:\s*,\s*" + _IN_ITEM + r")*\s*\)"
_VALUES_ROWS = r"\s*" + _PLACEHOLDER_ROW + r"(?:\s*,\s*" + _PLACEHOLDER_ROW + r")*"
# Starts with the blank before the keyword (text is whitespace-collapsed by then): the
# regex engine skips in C every position that does not hold a blank.
_LIST = re.compile(r" (?:(?i:IN)" + _IN_LIST + r"|(?i:VALUES)" + _VALUES_ROWS + ")")


# The same lists found from their opening parenthesis when the keyword is followed by a
# blank (the usual way): the regex engine then skips to each "(" in C, and the list is
# replaced by a plain string, with no Python call per match. _GLUED_LIST spots the rare
# "IN(" / "VALUES(", which _LIST handles.
_SPACED_LIST = re.compile(
    r"\((?:(?<= (?i:IN) \()\s*" + _IN_ITEM + r"(?:\s*,\s*" + _IN_ITEM + r")*\s*\)"
    r"|(?<= (?i:VALUES) \()\s*" + _PLACEHOLDER + r"(?:\s*,\s*" + _PLACEHOLDER + r")*\s*\)"
    r"(?:\s*,\s*" + _PLACEHOLDER_ROW + r")*)")
_GLUED_LIST = re.compile(r"\((?:(?<= (?i:IN)\()|(?<= (?i:VALUES)\())")


def _collapsed(match):
    """' IN (?, ?)' -> ' IN (?)', ' values (?), (?)' -> ' values (?)': keyword as written."""
    token = match.group()
    return (token[:3] if token[1] in "Ii" else token[:7]) + " (?)"


_NAME = r"(?:\"[^\"]*(?:\"\"[^\"]*)*\"|`[^`]*(?:``[^`]*)*`|[^\W\d][\w$]*)"
_NOT_A_NAME = (r"(?!(?i:SELECT|SET|VALUES|WHERE|FROM|INTO|TABLE|DEFAULT|STDIN|STDOUT|"
               r"OUTFILE|DUMPFILE|ONLY|LATERAL|AS|ON|USING|WITH)\b)")
_MODIFIERS = r"(?:\s(?i:ONLY|IF|NOT|EXISTS|LATERAL|IGNORE|LOW_PRIORITY|DELAYED|HIGH_PRIORITY|QUICK|TABLE)\b)*"
# Parentheses, and the keywords that name tables. Every branch starts with one literal
# character (keywords are matched with the blank before them; the caller puts a blank
# in front of the text), so the regex engine skips in C all other positions: a
# keyword alternation tried at every position costs ten times more.
_STRUCTURE = re.compile(
    r"\((?:\s?(?P<query>(?i:SELECT|WITH|VALUES|TABLE|INSERT|UPDATE|DELETE|MERGE))\b)?"
    r"|\)"
    r"| (?=[CcDdFfIiJjMmRrSsTtUuVv])(?:(?i:DISTINCT\sFROM)\b"
    r"|(?P<word>(?i:FROM|JOIN|INTO|TABLES?|VIEW|USING|UPDATE|INSERT|REPLACE|DELETE|COPY|"
    r"TRUNCATE|SELECT|MERGE))\b" + _MODIFIERS
    + r"(?:\s(?P<name>" + _NOT_A_NAME + _NAME + r"(?:\s?\.\s?" + _NAME + r")*))?"
    r"(?P<more>(?:\s(?:(?i:AS)\s)?[^\W\d][\w$]*)?\s?,)?)")
_CTE_NAME = re.compile(
    r"(?:\b(?i:WITH)(?:\s(?i:RECURSIVE))?|,)\s?(" + _NAME + r")\s?(?:\([^()]*\)\s?)?"
    r"(?i:AS)\s(?:(?i:NOT)\s)?(?:(?i:MATERIALIZED)\s)?\(")
_NAME_PART = re.compile(_NAME)


def summarize(statement, max_length=_DEFAULT_MAX_LENGTH, sanitize=True):
    """Statement (str, bytes, anything) -> SqlSummary; cached; never raises."""
    try:
        kind = type(statement)
        if kind is str or kind is bytes:
            key = (statement, max_length, sanitize)
            try:
                found = _CACHE.get(key)
            except TypeError:  # an unhashable option: work it out, do not cache
                return _summarize(_as_text(statement), max_length, sanitize)
            if found is not None:
                return found
            summary = _summarize(_as_text(statement), max_length, sanitize)
            if len(statement) <= _CACHE_MAX_STATEMENT:
                if len(_CACHE) >= _CACHE_ENTRIES:
                    _CACHE.clear()
                _CACHE[key] = summary
            return summary
        if statement is None:
            return _EMPTY
        return _summarize(_as_text(statement), max_length, sanitize)
    except Exception:
        return _EMPTY


def _as_text(statement):
    """str for any statement: bytes-like decoded as UTF-8 (bad bytes replaced), else str()."""
    if isinstance(statement, str):
        return str(statement)  # a plain str, even from a str subclass
    if isinstance(statement, (bytes, bytearray, memoryview)):
        return bytes(statement).decode("utf-8", "replace")
    return str(statement)


def _summarize(text, max_length, sanitize):
    try:
        max_length = max(0, int(max_length))
    except Exception:
        max_length = _DEFAULT_MAX_LENGTH
    try:
        shape = _collapse_lists(_collapse_whitespace(scrub(text)))
    except Untokenisable:
        shape = None
    if shape is None:
        operation = _leading_operation(text)
        collection = main = None
    else:
        operation, main, collection = _parse(shape)
    if operation == "WITH" and main is not None:
        operation = main
    if not sanitize:
        written = " ".join(text.split())
    elif shape is None:
        written = operation or ""
    else:
        written = shape
    name = operation or ""
    if collection and operation:
        name = operation + " " + collection
    return SqlSummary(_cut(written, max_length), operation, collection, name)


def _parse(shape):
    """(operation, main operation, collection) of scrubbed text, cached by that text.

    Statements that differ only in their values share a shape, so a statement-cache
    miss usually finds its shape here and skips the parsing.
    """
    parsed = _PARSED.get(shape)
    if parsed is None:
        operation = _leading_operation(shape)
        kind = _with_object_kind(shape, operation)
        main, collection = _targets(shape, operation)
        if kind != operation and not kind.endswith(" TABLE"):
            collection = None   # an index, view or function name is not a collection
        parsed = (kind, main, collection)
        if len(shape) <= _CACHE_MAX_STATEMENT:
            if len(_PARSED) >= _CACHE_ENTRIES:
                _PARSED.clear()
            _PARSED[shape] = parsed
    return parsed


def _cut(text, max_length):
    """Text no longer than max_length, ending with the marker when it was cut."""
    if len(text) <= max_length:
        return text
    if max_length <= len(_MARKER):
        return text[:max_length]
    return text[:max_length - len(_MARKER)] + _MARKER


def _collapse_lists(shape):
    """IN (?, ?, ?) -> IN (?) and VALUES (?, ?), (?, ?) -> VALUES (?)."""
    if _GLUED_LIST.search(shape) is None:
        return _SPACED_LIST.sub("(?)", shape)
    return _LIST.sub(_collapsed, shape)  # "IN(" becomes "IN (": keyword and list rewritten


def _collapse_whitespace(text):
    """' '.join(text.split()), skipped when the text has only single inner spaces.

    Every whitespace character but the space is non-printable, so a printable text
    without doubled, leading or trailing spaces is already collapsed.
    """
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def _leading_operation(text):
    """The upper-case leading keyword when it is a known SQL operation, else None.

    Skips blanks, opening parentheses and comments with `find`, one comment per step
    (a regex with a repeated lazy comment group backtracks quadratically).
    """
    position = 0
    while True:
        position = _BLANKS.match(text, position).end()
        if text.startswith("--", position) or text.startswith("#", position):
            position = text.find("\n", position)
        elif text.startswith("/*", position):
            position = text.find("*/", position + 2)
            position = position + 2 if position >= 0 else -1
        else:
            break
        if position < 0:
            return None
    match = _WORD.match(text, position)
    if match is None:
        return None
    word = match.group().upper()
    return word if word in _OPERATIONS else None


# DDL names the kind of object it acts on: "CREATE TABLE users" and "CREATE INDEX
# users" are different operations, and grouping them as "CREATE" would hide that.
_DDL_KIND = re.compile(
    r"[\s(]*(?:CREATE|DROP|ALTER)\s+(?:OR\s+REPLACE\s+)?(?:(?:GLOBAL|LOCAL)\s+)?"
    r"(?:(?:TEMP|TEMPORARY|UNLOGGED|UNIQUE)\s+)?"
    r"(MATERIALIZED\s+VIEW|TABLE|INDEX|VIEW|SEQUENCE|SCHEMA|DATABASE|FUNCTION|PROCEDURE|TRIGGER|TYPE"
    r"|EXTENSION|ROLE|USER)\b", re.IGNORECASE)


def _with_object_kind(shape, operation):
    if operation not in ("CREATE", "DROP", "ALTER"):
        return operation
    match = _DDL_KIND.match(shape)
    if match is None:
        return operation
    return operation + " " + " ".join(match.group(1).upper().split())


def _targets(shape, operation):
    """(main operation of a WITH, the single table or None) for scrubbed text."""
    if operation is None or ";" in shape.rstrip("; "):
        return None, None
    simple = _simple_target(shape, operation)
    if simple is not None:
        return operation, simple[0]
    return _structured_targets(shape, operation)


# The fast path: most statements are one SELECT/INSERT/UPDATE/DELETE on one table. For
# those, the structural keywords (upper-cased text, case-sensitive literals: several
# times cheaper than the case-insensitive _STRUCTURE scan) are exactly the leading
# keyword and the one that names the table. Any other hit, even a false one such as
# " FROMAGE" or a keyword inside a quoted name, sends the statement to the full walk.
_STRUCTURE_HITS = re.compile(
    r" (?=[CDFIJMRSTUV])(?:FROM|JOIN|INTO|TABLES?|VIEW|USING|UPDATE|INSERT|REPLACE|DELETE|COPY|"
    r"TRUNCATE|SELECT|MERGE|DISTINCT)\b|\((?: ?(?:SELECT|WITH|VALUES|TABLE|INSERT|UPDATE|DELETE|MERGE))\b")
# _STRUCTURE for upper-cased ASCII text: case-sensitive literals are much cheaper.
_UPPER_STRUCTURE = re.compile(_STRUCTURE.pattern.replace("(?i:", "(?:"))
_SIMPLE_HITS = {
    "SELECT": ([" SELECT", " FROM"], "FROM"),
    "DELETE": ([" DELETE", " FROM"], "FROM"),
    "INSERT": ([" INSERT", " INTO"], "INTO"),
    "UPDATE": ([" UPDATE"], "UPDATE"),
}
# Parentheses balanced up to two levels deep: the table keyword is then outside all.
_BALANCED = re.compile(r"[^()]*(?:\((?:[^()]|\([^()]*\))*\)[^()]*)*\Z")


def _simple_target(shape, operation):
    """(table or None,) for a single-table statement, or None to take the full walk."""
    expected = _SIMPLE_HITS.get(operation)
    if expected is None or not shape.isascii():
        return None  # non-ASCII: upper() could change lengths, and positions must agree
    text = " " + shape
    upper = text.upper()
    hits, word = expected
    if _STRUCTURE_HITS.findall(upper) != hits:
        return None
    position = upper.find(" " + word, 1) if word != operation else 0
    if position < 0 or not _BALANCED.match(text, 0, position):
        return None
    if position:  # the leading keyword's own match must end before the table keyword
        leading = _UPPER_STRUCTURE.match(upper)
        if leading is None or leading.end() > position:
            return None
    match = _UPPER_STRUCTURE.match(upper, position)
    if match is None or match.group("word") != word:
        return None
    if match.start("name") < 0 or match.group("more") is not None:
        return (None,)
    table = _unquote(text[match.start("name"):match.end("name")])  # as written, not upper-cased
    return (table if len(table) <= _MAX_COLLECTION else None,)


def _structured_targets(shape, operation):
    """_targets for any statement: walks every parenthesis and table keyword."""
    nesting = []        # one entry per open parenthesis: True when it holds a query
    main = None         # first SELECT/INSERT/... outside parentheses
    tables = set()
    several = False
    for match in _STRUCTURE.finditer(" " + shape):
        first = match.group()[0]
        if first == "(":
            nesting.append(match.group("query") is not None)
            continue
        if first == ")":
            if nesting:
                nesting.pop()
            continue
        word = match.group("word")
        if word is None or (nesting and not nesting[-1]):
            continue  # DISTINCT FROM, or FROM inside EXTRACT(...), TRIM(...)...
        word = word.upper()
        name = match.group("name")
        if word in _MAIN_OPERATIONS or word in _TARGET_OPERATIONS:
            is_main = main is None and not nesting
            if is_main:
                main = word
            if not (is_main and word in _TARGET_OPERATIONS):
                continue
        elif word == "USING" and main not in ("DELETE", "MERGE"):
            continue  # JOIN ... USING (col), CREATE INDEX ... USING btree
        if name is not None:
            tables.add(_unquote(name))
            several = several or match.group("more") is not None
    if operation == "WITH":
        tables.difference_update(_unquote(name) for name in _CTE_NAME.findall(shape))
    if several or len(tables) != 1:
        return main, None
    table = tables.pop()
    return main, (table if len(table) <= _MAX_COLLECTION else None)


def _unquote(name):
    """'"public" . "My Table"' -> 'public.My Table'; plain names come back as they are."""
    if '"' not in name and "`" not in name and " " not in name:
        return name
    parts = []
    for part in _NAME_PART.findall(name):
        if part[0] == '"':
            part = part[1:-1].replace('""', '"')
        elif part[0] == "`":
            part = part[1:-1].replace("``", "`")
        parts.append(part)
    return ".".join(parts)
