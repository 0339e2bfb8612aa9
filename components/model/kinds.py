"""What each string of a stack file is, and so what it may hold.

Every string field of the model declares a kind (``spec(..., kind=kinds.HOSTNAME)``), and so does
every mapping whose keys are free strings (``keys=kinds.ENV_KEY``). The reader checks each value by
its kind and reports a bad one with its config path, before any resource exists. What a kind lets
through is what its renderers can quote: a hostname or a path reaches a script only after it has
been checked to hold none of a shell's, nginx's or systemd's special characters, and the free kinds
(free text, a value, a shell command) reach their targets only through the quoting functions of
components/render/quoting.py. A test walks the model and fails for a string field without a kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import formats


@dataclass(frozen=True)
class Kind:
    """A kind of string: its name in the reference, and its check (an error message, or None)."""

    name: str
    check: Callable[[str], str | None]

    def __call__(self, value: str) -> str | None:
        return self.check(value)


NAME = Kind("name", formats.name)
HOSTNAME = Kind("hostname", formats.hostname)
RECORD_NAME = Kind("record name", formats.record_name)
ADDRESS = Kind("address", formats.address)
IPV4 = Kind("IPv4 address", formats.ipv4)
IPV6 = Kind("IPv6 address", formats.ipv6)
CIDR = Kind("network (CIDR)", formats.cidr)
ABSOLUTE_PATH = Kind("absolute path", formats.absolute_path)
RELATIVE_PATH = Kind("relative path", formats.relative_path)
FILE_PATH = Kind("file path", formats.file_path)
HTTP_PATH = Kind("HTTP path", formats.http_path)
URL = Kind("URL", formats.url)
REDIRECT_URL = Kind("redirect URL", formats.redirect_url)
ACME_DIRECTORY = Kind("ACME directory", formats.acme_directory)
PEM_CERTIFICATES = Kind("PEM certificates", formats.pem_certificates)
GIT_URL = Kind("git URL", formats.git_url)
GIT_REF = Kind("git ref", formats.git_ref)
KNOWN_HOST = Kind("known_hosts line", formats.known_host)
CRON = Kind("cron schedule", formats.cron_schedule)
EMAIL = Kind("email", formats.email)
TEXT = Kind("free text", formats.text)
TEMPLATE = Kind("template", formats.template)
HEADER = Kind("header value", formats.header_value)
SHELL = Kind("shell command", formats.shell_command)
VALUE = Kind("value", formats.value_text)
ENV_KEY = Kind("variable name", formats.env_key)
SECRET_NAME = Kind("secret name", formats.config_key)
SSH_PUBLIC_KEY = Kind("SSH public key", formats.ssh_public_key)
HOST_KEY = Kind("SSH host key (ed25519)", formats.host_key)
SLUG = Kind("provider slug", formats.slug)
SIZE = Kind("size", formats.size)
LINUX_USER = Kind("Linux user", formats.linux_user)
DEPLOY_USER = Kind("deploy user", formats.deploy_user)
PROCESS_NAME = Kind("process or file name", formats.process_name)
DATABASE_NAME = Kind("database name", formats.database_name)
SQL_NAME = Kind("SQL name", formats.sql_identifier)
SQL_TABLE = Kind("SQL table", formats.sql_table)
SQL_EXPRESSION = Kind("SQL expression", formats.sql_expression)
CLOUDFLARE_ID = Kind("Cloudflare ID", formats.hex32)
NUMERIC_ID = Kind("numeric ID", formats.numeric_id)
UUID = Kind("UUID", formats.uuid)
OPAQUE_ID = Kind("ID", formats.opaque_id)
VERCEL_PROJECT_ID = Kind("Vercel project ID", formats.vercel_project_id)
VERCEL_TEAM_ID = Kind("Vercel team ID", formats.vercel_team_id)
SUPABASE_REF = Kind("Supabase project ref", formats.supabase_ref)
GITHUB_OWNER = Kind("GitHub owner", formats.github_owner)
GITHUB_REPOSITORY = Kind("GitHub repository (owner/name)", formats.repository)
REPOSITORY_NAME = Kind("GitHub repository name", formats.repository_name)
RESTIC_REPOSITORY = Kind("restic repository", formats.restic_repository)
