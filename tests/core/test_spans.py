"""Error messages of databases lose the data they quote before reaching a span."""

import pytest

from autotrace.spans import data_free_message


class MySQLLike(Exception):
    pass


@pytest.mark.parametrize("exc, expected", [
    (Exception('duplicate key value violates unique constraint "users_email_key"\n'
               "DETAIL:  Key (email)=(alice@example.com) already exists."),
     "duplicate key value violates unique constraint ?"),
    (Exception('syntax error at or near "SELEC"\nLINE 1: SELEC \'Hunter2\''), "syntax error at or near ?"),
    (Exception('invalid input syntax for type integer: "4111111111111111"'),
     "invalid input syntax for type integer: ?"),
    (MySQLLike(1062, "Duplicate entry 'alice@example.com' for key 'email'"), "Duplicate entry ?"),
    (MySQLLike(1064, "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB "
                     "server version for the right syntax to use near ''Hunter2'' at line 1"),
     "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB "
     "server version for the right syntax to use near ? at line ?"),
    (Exception("ERR unknown command 'FOO', with args beginning with: 'sk_live_abc' "),
     "ERR unknown command ?"),
    (Exception("value 4111111111111111 is out of range"), "value ? is out of range"),
    (Exception("unterminated 'quote with secret"), "unterminated ?"),
])
def test_quoted_data_and_extra_lines_are_dropped(exc, expected):
    assert data_free_message(exc) == expected
