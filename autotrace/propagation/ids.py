"""Reading hexadecimal trace and span ids, for the B3 and Jaeger formats.

int(text, 16) alone would accept "+1", " 1", "0x1" and "1_0"; we check the
characters first.
"""

import re

__all__ = ["parse_hex_id"]

_LOWER_HEX = re.compile(r"[0-9a-f]+")
_ANY_CASE_HEX = re.compile(r"[0-9a-fA-F]+")


def parse_hex_id(text, lengths, any_case=False):
    """The non-zero id written in `text`, whose length must be in `lengths`, or None."""
    if len(text) not in lengths:
        return None
    if (_ANY_CASE_HEX if any_case else _LOWER_HEX).fullmatch(text) is None:
        return None
    return int(text, 16) or None
