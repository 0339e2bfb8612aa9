"""Accessory passwords of any shape reach MariaDB and Redis as they are, and never any output.

The review: a password with a `'` broke PostgreSQL's ALTER ROLE, and the error echoed the password
into the step's output. Here the stack names its own passwords for the host's MariaDB and Redis, with
quotes, a backslash, `$`, a backtick, `%`, spaces, every character a URL gives a meaning to (`@:/?#[]&=+`)
and, for Redis, non-ASCII text: the accessories step sets them (as SQL and redis.conf literals, quoted
on the host), the Flask service connects with them through its connection URLs (`{accessory: mysql,
output: url}` as DATABASE_URL, redis's as REDIS_URL: its health check reports both databases), and
neither password, raw or percent-encoded, is in anything `pulumi up` printed, the journal, or a process
list.
"""

from __future__ import annotations

from components.model import connections
from local import LocalStack

# No non-ASCII for MariaDB: the sample app's client (PyMySQL) encodes a password as latin-1 and fails on
# it before it connects (seen on this host: UnicodeEncodeError), whatever the server was given.
MYSQL = "my'sql\"pw\\ $HOME `id` 50% ;--@host:1/db?x=1&y=+#frag[::1]"
REDIS = "re dis\"pw' \\x41 $PATH é @:/?#%2F"


def test_quoted_passwords_reach_both_servers_and_no_output(stack: LocalStack) -> None:
    stack.ws.set_secret("local", "localMysqlPassword", MYSQL)
    stack.ws.set_secret("local", "localRedisPassword", REDIS)
    stack.edit_system(lambda system: system["hosts"]["box"]["accessories"].update(
        mysql={"database": "sample", "user": "sample", "password": {"secret": "localMysqlPassword"}},
        redis={"password": {"secret": "localRedisPassword"}}))
    result = stack.up()
    stack.outputs.append(result.output)
    status, body = stack.health("flask.stackyard.test")
    assert status == 200 and '"problems":{}' in body, body  # MariaDB and Redis both answer with them
    # From the servers' own clients, with the passwords on stdin or in the environment (never argv).
    assert stack.ssh("MYSQL_PWD=$(cat) mysql --user=sample -N -e 'SELECT 1' sample", stdin=MYSQL
                     ).stdout.strip() == "1"
    assert stack.ssh("REDISCLI_AUTH=$(cat) redis-cli PING", stdin=REDIS).stdout.strip() == "PONG"
    printed = result.output + stack.ssh("journalctl --no-pager -q --since -10min").stdout
    processes = stack.ssh("ps -eo args").stdout
    for password in (MYSQL, REDIS):
        for form in (password, connections.encode(password)):
            assert form not in printed
            assert form not in processes
