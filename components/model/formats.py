"""Field-level format checks. Each returns an error message, or None when the value is fine.

Messages show a value through ``shown()``: cut short and with control characters escaped, so that a
value pasted by mistake (a multi-line key, a very long token) never floods or garbles the report.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urlsplit

Check = Callable[[str], "str | None"]

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NAME = re.compile(r"^[a-z](?:[a-z0-9-]{0,39}[a-z0-9])?$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONFIG_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_SUPABASE_REF = re.compile(r"^[a-z]{20}$")
_SQL_IDENT = re.compile(r"^[a-z_][a-z0-9_$-]{0,62}$")
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_SSH_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com)"
    r" [A-Za-z0-9+/]{40,}={0,3}( [\x21-\x7e][\x20-\x7e]*)?$"
)
# Characters no single-line value may hold: every C0 control character and DEL (newline and tab
# included), and the Unicode line and paragraph separators some tools treat as newlines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def shown(value: object, limit: int = 40) -> str:
    """``value`` as an error message shows it: quoted, escaped, and cut at ``limit`` characters."""
    text = str(value)
    cut = text[:limit]
    rendered = repr(cut)[1:-1].replace("'", "\\'")
    return f"'{rendered}{'...' if len(text) > limit else ''}'"


def matching(pattern: str | re.Pattern, message: str, doc: str = "") -> Check:
    """A check that a whole value matches ``pattern``; ``message`` follows the value as the error shows it."""
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern

    def check(value: str) -> str | None:
        return None if compiled.fullmatch(str(value)) else f"{shown(value)} {message}"

    check.__doc__ = doc or None
    return check


def name(value: str) -> str | None:
    """Names of systems, hosts and frontends become parts of resource names."""
    if not _NAME.fullmatch(value):
        # Not ending in '-' either: Docker refuses such an image name, RFC 1123 such a server name.
        return (f"{shown(value)} is not a name: lowercase letters, digits and '-', starting with a letter and "
                "not ending with '-' (at most 41 characters)")
    return None


def hostname(value: str) -> str | None:
    """A fully qualified DNS name such as ``api.mehko.ai`` (no trailing dot, no scheme)."""
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return f"{shown(value)} is not a valid hostname (lowercase labels of a-z, 0-9 and '-', joined by dots)"
    return None


def record_name(value: str) -> str | None:
    """A record name relative to its zone: ``@`` for the apex, ``api``, ``_dmarc``, ``*.preview``."""
    if value == "@":
        return None
    labels = value.split(".")
    for i, label in enumerate(labels):
        if label == "*" and i == 0:
            continue
        if label.startswith("_") and _LABEL.fullmatch(label[1:]):
            continue
        if not _LABEL.fullmatch(label):
            return (f"{shown(value)} is not a valid record name: use '@' for the zone apex or "
                    "lowercase labels relative to the zone (e.g. 'api')")
    return None


def ipv4(value: str) -> str | None:
    if "%" in value:
        return f"{shown(value)} has a scope (%...): write the address alone"
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return f"{shown(value)} is not an IPv4 address"
    return None


def ipv6(value: str) -> str | None:
    # A scope (fe80::1%eth0) names an interface of the machine that reads it: Python takes any text after
    # the %, which would reach the SSH command the stack's outputs print.
    if "%" in value:
        return f"{shown(value)} has a scope (%...): write the address alone"
    try:
        address = ipaddress.IPv6Address(value)
    except ValueError:
        return f"{shown(value)} is not an IPv6 address"
    # An IPv4 address written as IPv6 is dialled over IPv4 (Go, OpenSSH): another spelling of one server.
    if int(address) > 1 and (address in _IPV4_MAPPED or address in _IPV4_COMPATIBLE):
        return f"{shown(value)} is an IPv4 address written as IPv6: write the IPv4 address " \
               f"{ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)}"
    return None


def address(value: str) -> str | None:
    """An IPv4/IPv6 address or a hostname that SSH can dial."""
    if ":" in value:
        return ipv6(value)  # no hostname has a colon: what is wrong with it as IPv6
    if ipv4(value) is None or hostname(value) is None:
        return None
    return f"{shown(value)} is neither an IP address nor a hostname"


_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def cidr(value: str) -> str | None:
    # A scope (fe80::%eth0/64): Python takes any text after the % but '/' and '%', a command substitution
    # too, and the network reaches ufw's command line in the base step. A network has no scope.
    if "%" in value:
        return f"{shown(value)} has a scope (%...): write the network alone"
    # One spelling, a prefix length: ip_network also reads a netmask (/255.255.255.0), which then reaches
    # Docker and the Supabase API as written.
    if not re.fullmatch(r"[0-9A-Fa-f:.]+/[0-9]{1,3}", value):
        return f"{shown(value)} is not a network in CIDR form such as 203.0.113.0/24"
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as err:
        return f"{shown(value)} is not a network in CIDR form such as 203.0.113.0/24 ({err})"
    # An IPv4 network written as IPv6 (::ffff:198.51.100.0/120, ::198.51.100.7): ufw keeps it as inet_ntop
    # spells it, with a dotted quad, not as written, and SSH's rule then never read back as added. (:: and
    # ::1 are not IPv4 addresses, and are written alike.)
    if isinstance(network, ipaddress.IPv6Network) and int(network.network_address) > 1 and (
            network.subnet_of(_IPV4_MAPPED) or network.subnet_of(_IPV4_COMPATIBLE)):
        ipv4 = ipaddress.IPv4Network((int(network.network_address) & 0xFFFF_FFFF, network.prefixlen - 96))
        return f"{shown(value)} is an IPv4 network written as IPv6: write the IPv4 network {ipv4}"
    return None


def port(value: int) -> str | None:
    if not 1 <= value <= 65535:
        return f"{value} is not a TCP port (1-65535)"
    return None


def env_key(value: str) -> str | None:
    """A variable name every runtime passes on: __proto__ is one, but PM2's env is a JavaScript object, where
    that name sets the object's prototype and the variable is silently dropped."""
    if value == "__proto__":
        return "is a name PM2's JavaScript env cannot hold (it would be dropped): call the variable something else"
    return _env_key(value)


_env_key = matching(_ENV_KEY, "is not a valid environment variable name")


config_key = matching(_CONFIG_KEY, "is not a valid config key name (letters, digits, '_')")


hex32 = matching(
    _HEX32,
    "is not a Cloudflare ID (32 lowercase hex digits)",
    "Cloudflare account and zone IDs are 32 lowercase hex digits.",
)


repository = matching(_REPO, "is not a GitHub repository in owner/name form")


github_owner = matching(
    r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}",
    "is not a GitHub user or organisation name",
    "A GitHub user or organisation: letters, digits and single hyphens, at most 39 characters.",
)


def repository_name(value: str) -> str | None:
    """A GitHub repository's name, without its owner."""
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", value) or value in (".", ".."):
        return f"{shown(value)} is not a GitHub repository name"
    return None


def ssh_public_key(value: str) -> str | None:
    if "PRIVATE KEY" in value:
        return "this is a private key; put the public key here and the private key in a secret"
    if value != value.strip() or _CONTROL.search(value):
        return "a key is one line, with no space or newline before or after it (YAML: no '|' block)"
    if not _SSH_KEY.fullmatch(value):
        return "not an OpenSSH public key (expected 'ssh-ed25519 AAAA... comment')"
    # The key itself, not only its characters: one pasted a character short would pass the pattern and fail
    # later (a pinned host key's fingerprint, cloud-init), far from its path.
    kind, blob = value.split(" ")[:2]
    try:
        data = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return "the key is cut or mistyped: its base64 does not decode (copy the whole line again)"
    length = int.from_bytes(data[:4], "big") if len(data) >= 4 else -1
    if data[4:4 + length].decode("ascii", "replace") != kind:
        return f"the key is cut or mistyped: its data is not a {kind} key (copy the whole line again)"
    return None


def host_key(value: str) -> str | None:
    """A host's public ed25519 key (`ssh-keyscan -t ed25519` output without the address)."""
    message = ssh_public_key(value)
    if message:
        return message
    if not value.startswith("ssh-ed25519 "):
        return ("only an ed25519 host key can be pinned (pulumi-command offers the pinned key's own type, and "
                "for RSA that is ssh-rsa, which OpenSSH refuses): scripts/host-key <address> prints it")
    return None


def absolute_path(value: str) -> str | None:
    if (not re.fullmatch(r"/[A-Za-z0-9._/@+-]*", value) or {".", ".."} & set(value.split("/")) or "//" in value
            or (value.endswith("/") and value != "/") or len(value) > 1024):
        return (f"{shown(value)} is not an absolute path (letters, digits and ._/@+- only, no '.' or '..', "
                "no '/' at the end)")
    return None


def relative_path(value: str) -> str | None:
    """A path inside a repository: relative, never above it."""
    if (not re.fullmatch(r"[A-Za-z0-9._@+][A-Za-z0-9._/@+-]*", value) or ".." in value.split("/")
            or "//" in value or len(value) > 1024):
        return (f"{shown(value)} is not a path inside the repository (relative, no '..'; letters, digits and "
                "._/@+- only)")
    return None


def file_path(value: str) -> str | None:
    """A service's file: relative to its release, or an absolute path in its container (compose)."""
    return absolute_path(value) if value.startswith("/") else relative_path(value)


http_path = matching(
    r"/[A-Za-z0-9._~%/+=:@,-]{0,255}",
    "is not an HTTP path such as /health (letters, digits and ._~%/+=:@,- only)",
    "A URL path a check requests, such as ``/health`` or ``/api/v1/ready``.",
)


process_name = matching(
    r"[A-Za-z0-9_][A-Za-z0-9._@:-]{0,99}",
    "is not a process or unit name (letters, digits and ._@:- only)",
    "PM2 process and systemd unit names as scripts on the host name them.",
)


size = matching(r"[1-9][0-9]{0,5}(KB|MB|GB)", "is not a size such as 512KB, 10MB or 1GB")


linux_user_name = matching(r"[a-z_][a-z0-9_-]{0,31}", "is not a valid Linux user name")

# Accounts the distribution and the packages stackyard installs keep for their daemons (base-passwd,
# nginx's www-data, caddy, redis, mysql, postgres, ...). A login user or sudoer of that name would hand
# the daemon's files and processes to whoever logs in, and the daemon would run as a sudoer.
SYSTEM_ACCOUNTS = frozenset({
    "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data",
    "backup", "list", "irc", "gnats", "nobody", "messagebus", "sshd", "syslog", "uuidd", "tcpdump", "tss",
    "landscape", "pollinate", "usbmux", "dnsmasq", "polkitd", "lxd", "ntp", "chrony", "caddy", "nginx",
    "redis", "mysql", "mariadb", "postgres", "docker", "containerd", "dhcpcd", "statd", "avahi"})
SYSTEM_ACCOUNT_PREFIXES = ("systemd-", "_", "debian-")
IMAGE_GROUPS = frozenset({
    "root", "adm", "tty", "disk", "kmem", "dialout", "fax", "voice", "cdrom", "floppy", "tape", "sudo", "audio",
    "dip", "operator", "src", "shadow", "utmp", "video", "sasl", "plugdev", "staff", "users", "nogroup", "input",
    "sgx", "kvm", "render", "netdev", "crontab", "lxd", "fwupd-refresh"})
"""Groups (and Ubuntu's fwupd-refresh account) Debian's and Ubuntu's images have before cloud-init runs: a
user of that name is never made (useradd refuses it: its own group exists), or is the daemon's account
given the keys, whose shell lets no one in. Either way nothing can log in to the new server."""
SERVICE_USER_PREFIX = "svc-"
"""A service's user is svc-<service> (components/render/layout.py): no login user may take such a name."""


def taken_account(value: str) -> str | None:
    """What a user name already belongs to, when it is not a person's to log in with; else None."""
    if value.startswith(SERVICE_USER_PREFIX):
        return "a name stackyard gives services' users (svc-<service>)"
    if value in SYSTEM_ACCOUNTS or value.startswith(SYSTEM_ACCOUNT_PREFIXES):
        return "a system account a daemon runs as"
    return None


def linux_user(value: str) -> str | None:
    """The user stackyard logs in as on a server that exists: root (the usual login of a server set up by
    hand, and what stackyard then runs its steps as without sudo), or an admin user with sudo; never a
    service's user or a daemon's system account."""
    message = linux_user_name(value)
    taken = None if message else taken_account(value)
    if taken:
        return f"{shown(value)} is {taken}: log in as root or an admin user with sudo"
    return message


def deploy_user(value: str) -> str | None:
    """The user cloud-init creates on a server stackyard makes: a passwordless sudoer holding the SSH keys.

    Unlike an existing server's login user (`linux_user`), never root: the deploy user is there so that
    root's SSH logins can be switched off (cloud-init's disable_root), and keys given to a deploy user
    named root would meet that switch."""
    message = linux_user_name(value)
    taken = None if message else ("root itself, whose SSH logins cloud-init switches off" if value == "root"
                                  else taken_account(value) or ("a group or account the image has already, so "
                                                                "cloud-init could not make the user"
                                                                if value in IMAGE_GROUPS else None))
    if taken:
        return (f"{shown(value)} is {taken}: cloud-init makes the deploy user a passwordless sudoer; give it a "
                "name of its own such as 'deploy'")
    return message


supabase_ref = matching(_SUPABASE_REF, "is not a Supabase project ref (20 lowercase letters, as in <ref>.supabase.co)")


sql_identifier = matching(
    _SQL_IDENT,
    "is not a lowercase SQL name (a-z, 0-9, '_', '-'; at most 63 characters)",
    "Lowercase names only: they are quoted in SQL, and a quoted mixed-case name is a different object.",
)


def sql_table(value: str) -> str | None:
    """``table`` or ``schema.table``."""
    parts = value.split(".")
    if len(parts) > 2 or any(sql_identifier(part) for part in parts):
        return f"{shown(value)} is not a table name (`table` or `schema.table`, lowercase)"
    return None


# Databases and users the servers keep for themselves: their superusers (root, mysql, mariadb.sys,
# postgres), their system schemas and templates, and the names PostgreSQL reserves for roles. The
# accessory's user gets a password set (ALTER USER / ALTER ROLE) and its database is granted to it: named
# so, the service would get the superuser, or the server's own catalogue.
RESERVED_DATABASE_NAMES = frozenset({
    "root", "mysql", "mariadb", "sys", "information_schema", "performance_schema", "postgres", "template0",
    "template1", "public", "none", "current_user", "current_role", "session_user"})


def database_name(value: str) -> str | None:
    """A MySQL/MariaDB or PostgreSQL database or user name: an identifier that needs no quoting anywhere,
    and none that the server keeps for itself."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,31}", value):
        return (f"{shown(value)} is not a database or user name (letters, digits and '_', starting with a letter "
                "or '_', at most 32 characters)")
    if value.lower() in RESERVED_DATABASE_NAMES or value.lower().startswith("pg_"):
        return (f"{shown(value)} is a name the database server keeps for itself (its superuser, a system "
                "database or a reserved role): give the application's own name, e.g. 'shop'")
    # PostgreSQL's local connections authenticate by the OS account of the same name (Debian's peer rule):
    # a role named after a daemon's account lets that daemon in without the password.
    if taken_account(value):
        return (f"{shown(value)} is {taken_account(value)}: a database user of that name lets it in without "
                "a password (peer authentication); give the application's own name, e.g. 'shop'")
    return None


def sql_expression(value: str) -> str | None:
    """A condition such as ``user_id = auth.uid()``: one SQL expression, never a second statement.

    It is written into ``using (...)`` or ``with check (...)``, so it must not close that parenthesis:
    parentheses are counted outside '...' strings and "..." identifiers (each with its quote doubled
    inside), and whatever PostgreSQL would read as a literal that this count cannot follow is refused:
    a dollar-quoted $$...$$ or $tag$...$tag$ body and an E'...' string (where \\' is a quote) could
    each hide a ' and end the expression early, adding a WITH CHECK clause the stack never asked for."""
    if "\x00" in value or ";" in value or "--" in value or "/*" in value or len(value) > 8192:
        return "one SQL expression: no ';', no comments ('--', '/*'), at most 8192 characters"
    depth = 0
    quote = None  # the quote of the literal or identifier being read: ' or "
    for index, char in enumerate(value):
        if quote:
            if char == quote:  # a doubled quote closes and at once reopens: the same thing
                quote = None
        elif char in "'\"":
            # An opening quote right after e or E may start an E'...' string; `date'...'` needs a space.
            if char == "'" and index and value[index - 1] in "eE":
                return ("no E'...' escape strings (their \\' hides a quote): write a plain '...', with a "
                        "space before it after a word ending in e")
            quote = char
        elif char == "$":  # dollar quotes hide quotes and parentheses; $1 means nothing in a policy
            return "no '$' outside quotes: no dollar-quoted $$...$$ strings, no $1 parameters"
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                break
    if depth != 0 or quote:
        return "unbalanced parentheses or quotes: one SQL expression"
    return None


url = matching(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/?#&=+,:@!*()-]*)?", "is not an http(s) URL")


ACME_DIRECTORIES = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
"""The ACME directories a stack may name by a word instead of a URL."""


def lets_encrypt(directory: str) -> bool:
    """Whether an ACME directory (a word or a URL, in any spelling of its host, a final dot included) is
    one of Let's Encrypt's."""
    host = (urlsplit(ACME_DIRECTORIES.get(directory, directory)).hostname or "").rstrip(".")
    return host in {urlsplit(url).hostname for url in ACME_DIRECTORIES.values()}


def acme_directory(value: str) -> str | None:
    """An ACME directory: a word of ACME_DIRECTORIES, or an https URL with no query (it reaches a
    Caddyfile and certbot's command line)."""
    if value in ACME_DIRECTORIES or re.fullmatch(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?",
                                                 value):
        return None
    return (f"{shown(value)} is not an ACME directory: letsencrypt, letsencrypt-staging or an https URL such as "
            "https://ca.example.com/acme/directory")


_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\n((?:[A-Za-z0-9+/=]{1,76}\n)+)-----END CERTIFICATE-----\n?")


def pem_certificates(value: str) -> str | None:
    """One or more PEM certificates, and nothing else: base64 lines between BEGIN and END lines, each of
    which decodes to a DER sequence."""
    text = str(value).replace("\r\n", "\n").strip() + "\n"
    position, found = 0, 0
    while position < len(text):
        block = _PEM_BLOCK.match(text, position)
        if block is None:
            return (f"{shown(value)} is not PEM certificates: each one a -----BEGIN CERTIFICATE----- line, base64 "
                    "lines and an -----END CERTIFICATE----- line, nothing else")
        try:
            der = base64.b64decode(block.group(1).replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            der = b""
        if not der.startswith(b"\x30"):
            return f"certificate {found + 1} of {shown(value)} is not base64 of a certificate"
        found += 1
        position = block.end()
        while position < len(text) and text[position] == "\n":
            position += 1
    return None


def redirect_url(value: str) -> str | None:
    """A URL sign-in may redirect to; ``*`` and ``**`` are wildcards (Supabase)."""
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*://[A-Za-z0-9.*-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/?#&=+:@!*()-]*)?",
                        value):
        return f"{shown(value)} is not a redirect URL such as https://app.example.com/** (no commas or spaces)"
    return None


def git_url(value: str) -> str | None:
    """A repository the host clones: https://, http://, ssh://, git@host:path or file:///path (a repository on
    the host itself), never an option, a bare path or another transport (ext:: runs a command)."""
    safe = r"[A-Za-z0-9._~%/+=:@-]"
    forms = (rf"https?://[A-Za-z0-9.-]+(:[0-9]{{1,5}})?/{safe}+",
             rf"ssh://([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+(:[0-9]{{1,5}})?/{safe}+",
             r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/+-]+",
             r"file:///[A-Za-z0-9._~%/+=@-]+")
    if re.match(r"https?://[^/]*@", value):
        return ("a token in the URL would be in the state, the logs and the host's process list: give the "
                "plain URL, and for a private repository an ssh URL with source.deployKey")
    if len(value) > 1024 or not any(re.fullmatch(form, value) for form in forms):
        return (f"{shown(value)} is not a git URL the host can clone: https://host/path, ssh://user@host/path or "
                "user@host:path, or file:///path")
    return None


def known_host(value: str) -> str | None:
    """A known_hosts line: ``host[,host] keytype key`` (``[host]:port`` for another port)."""
    parts = value.split(" ")
    if len(parts) != 3 or not re.fullmatch(r"[A-Za-z0-9.,:\[\]-]+", parts[0]) or ssh_public_key(
            f"{parts[1]} {parts[2]}"):
        return (f"{shown(value)} is not a known_hosts line ('github.com ssh-ed25519 AAAA...': what "
                "`ssh-keyscan HOST` prints)")
    return None


def git_ref(value: str) -> str | None:
    """A branch, tag or commit, as `git check-ref-format` allows it, and never an option."""
    if (not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._/+-]{0,254}", value) or ".." in value or "//" in value
            or value.endswith((".", "/", ".lock")) or any(part.startswith(".") for part in value.split("/"))):
        return f"{shown(value)} is not a branch, tag or commit (letters, digits and ._/+- only, no '..')"
    return None


_MONTHS = {name: i + 1 for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_WEEKDAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_CRON_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
                ("month", 1, 12, _MONTHS), ("day of week", 0, 7, _WEEKDAYS))


def _cron_field(text: str, low: int, high: int, names: dict[str, int]) -> bool:
    """Whether one field is a list of `*`, values and ranges (low <= high) in range, `*` and ranges with
    an optional step from 1 to ``high`` (Debian's cron refuses a step after a single value, `5/10`, and
    one too long to read; a larger one would only ever give the first value)."""
    for part in text.split(","):
        item, slash, step = part.partition("/")
        if slash and not (step.isdigit() and 0 < int(step) <= high and (item == "*" or "-" in item)):
            return False
        if item == "*":
            continue
        bounds = item.split("-")
        values = [int(b) if b.isdigit() else names.get(b.lower()) for b in bounds]
        numbers = [v for v in values if v is not None]  # all of them, unless a name is unknown
        if len(values) > 2 or len(numbers) < len(values) or any(not low <= v <= high for v in numbers) \
                or numbers != sorted(numbers):
            return False
    return True


def cron_schedule(value: str) -> str | None:
    """Five cron fields: minute hour day month weekday (numbers, names, * / , -). cron skips a line it
    cannot read, or one whose values never come (minute 99), without a word: the backups would not run."""
    fields = value.split(" ")
    if len(fields) != 5 or not all(re.fullmatch(r"[A-Za-z0-9*/,-]{1,64}", f) for f in fields):
        return f"{shown(value)} is not a cron schedule of five fields such as '17 3 * * *'"
    for text, (field, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        if not _cron_field(text, low, high, names):
            named = f" or names such as {next(iter(names))}" if names else ""
            return (f"{shown(value)}: its {field} field {shown(text)} is not a cron field of values {low}-{high}"
                    f"{named}, ranges low-high, and steps from 1 to {high} after * or a range (e.g. '*/15')")
    return None


# The first character is no "-": certbot reads `--email -x@example.org` as an option with no value.
email = matching(r"[A-Za-z0-9._%+][A-Za-z0-9._%+-]{0,63}@[a-z0-9.-]+\.[a-z]{2,63}", "is not an email address")


slug = matching(
    r"[a-z0-9][a-z0-9._-]{0,62}",
    "is not a provider slug (lowercase letters, digits and ._-)",
    "A provider's own name for a size, place, image or preset (cx22, fsn1, ubuntu-24.04, vite).",
)


opaque_id = matching(
    r"[A-Za-z0-9_][A-Za-z0-9._@:/+=-]{0,255}",
    "is not an ID (letters, digits and ._@:/+=- only)",
    "An identifier issued by a service (a Vercel team or variable ID, an OAuth client ID).",
)


restic_repository = matching(
    r"s3:https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/[A-Za-z0-9._~/-]+",
    "is not an S3 repository: s3:https://<endpoint>/<bucket>[/<path>]",
)


def text(value: str) -> str | None:
    """One line of text for people: no control characters, at most 500 characters."""
    if _CONTROL.search(value) or len(value) > 500:
        return "one line of text: no newlines or control characters, at most 500 characters"
    return None


def template(value: str) -> str | None:
    """Text around a value, with ``{}`` where the value goes."""
    if _CONTROL.search(value) or len(value) > 500:
        return "one line of text: no newlines or control characters, at most 500 characters"
    if value.count("{}") != 1:
        return "must contain {} exactly once, where the referenced value goes"
    return None


def header_value(value: str) -> str | None:
    """An HTTP header's value, as it goes between double quotes in an nginx or Caddy config (where $ and
    {} mean variables)."""
    if not re.fullmatch(r"[\x20-\x7e]{0,4096}", value) or any(c in value for c in '"\\${}'):
        return ("printable ASCII without double quotes, backslashes, $ or braces (nginx and Caddy read them as "
                "variables), at most 4096 characters")
    return None


def shell_command(value: str) -> str | None:
    """A command line the service's user runs (`sh -c`): one line, at most 4096 characters."""
    if _CONTROL.search(value) or not value.strip() or len(value) > 4096:
        return "one command line: no newlines or control characters, at most 4096 characters"
    return None


def value_text(value: str) -> str | None:
    """Any text a program receives as it is (an environment variable, a file): no NUL, at most 64 KiB."""
    if "\x00" in value:
        return "may not contain NUL characters"
    if len(value.encode()) > 65536:
        return "at most 64 KiB"
    return None


numeric_id = matching(r"[1-9][0-9]{0,18}", "is not a numeric ID (digits only)")


uuid = matching(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
)


vercel_project_id = matching(r"prj_[A-Za-z0-9]{10,40}", "is not a Vercel project ID (prj_...)")


vercel_team_id = matching(r"team_[A-Za-z0-9]{1,64}", "is not a Vercel team ID (team_...)")
