"""Host provisioning scripts. Each is idempotent: running it again changes nothing that is right.

Secret values never appear in these scripts: they read 0600 files that separate steps wrote
over stdin, and pass them on with shell builtins (printf), never as a process argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from shlex import quote

from .layout import Paths, ServicePlan
from .proxy import CADDY_MARK

HEADER = "#!/usr/bin/env bash\nset -euo pipefail\nexport DEBIAN_FRONTEND=noninteractive\n"
UV_VERSION = "0.9.7"
PM2_VERSION = "6.0.13"

APT = """apt_install() {
  # A fresh server runs apt at first boot (unattended upgrades): wait for the lock, then install.
  local try
  for try in 1 2 3 4 5; do
    if apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install -y -qq --no-install-recommends "$@"; then
      return 0
    fi
    echo "apt-get install failed (try $try); retrying" >&2
    sleep 10
    apt-get -o DPkg::Lock::Timeout=300 update -qq || true
  done
  return 1
}
"""


ACCESSORY_UNITS = {"mysql": "mariadb", "redis": "redis-server", "postgresql": "postgresql"}
"""The systemd unit of each accessory's server on Debian and Ubuntu."""

REPLACED = """replaced() {
  # Moves PATH.new over PATH if they differ; true when it did. A config that did not change must not
  # restart the database that reads it.
  if [ -f "$1" ] && cmp -s "$1.new" "$1"; then rm -f "$1.new"; return 1; fi
  mv "$1.new" "$1"
}
"""


def base_script(*, ssh_port: int, ufw: bool, login_user: str, open_ports: Iterable[int] = (80, 443),
                paths: Paths = Paths()) -> str:
    """Waits for cloud-init, installs base packages, hardens sshd, enables unattended upgrades and ufw."""
    root_login = "prohibit-password" if login_user == "root" else "no"
    firewall = ""
    if ufw:
        allows = "".join(f"ufw allow {port}/tcp >/dev/null\n" for port in sorted({ssh_port, *open_ports}))
        firewall = (
            "ufw default deny incoming >/dev/null\n"
            "ufw default allow outgoing >/dev/null\n"
            f"{allows}"
            "ufw --force enable >/dev/null\n"
        )
    return HEADER + APT + f"""
if command -v cloud-init >/dev/null; then
  cloud-init status --wait >/dev/null || true
fi
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt_install ca-certificates curl git rsync cron gzip logrotate util-linux unattended-upgrades{' ufw' if ufw else ''}

install -d -m 0755 /etc/ssh/sshd_config.d
cat > /etc/ssh/sshd_config.d/50-stackyard.conf <<'EOF'
# Managed by stackyard.
Port {ssh_port}
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin {root_login}
X11Forwarding no
MaxAuthTries 3
EOF
sshd -t
systemctl reload ssh 2>/dev/null || systemctl reload sshd

cat > /etc/apt/apt.conf.d/20auto-upgrades <<'EOF'
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
EOF

{firewall}install -d -m 0755 {paths.etc} {paths.etc}/upstreams
"""


def runtime_script(languages: set[str], runtimes: set[str], docker: str = "") -> str:
    """uv for Python services, Node with PM2, Docker with the Compose plugin (``docker``: its steps,
    components/render/docker.py): only what is used."""
    steps = []
    if "python" in languages or "systemd" in runtimes:
        steps.append(f"""apt_install python3 python3-venv
if ! uv --version 2>/dev/null | grep -q '{UV_VERSION}'; then
  python3 -m venv /opt/stackyard-uv
  /opt/stackyard-uv/bin/pip install --quiet 'uv=={UV_VERSION}'
  ln -sfn /opt/stackyard-uv/bin/uv /usr/local/bin/uv
fi""")
    if "node" in languages or "pm2" in runtimes:
        steps.append("apt_install nodejs npm")
    if "pm2" in runtimes:
        # Asked of npm, not of pm2: any pm2 command run as root starts a root PM2 daemon that stays.
        steps.append(f"""if ! npm ls --global --depth=0 'pm2@{PM2_VERSION}' >/dev/null 2>&1; then
  npm install --global --no-audit --no-fund 'pm2@{PM2_VERSION}'
fi""")
    if "compose" in runtimes:
        if not docker:
            raise ValueError("compose services need the host's Docker steps")
        steps.append(docker.rstrip("\n"))
    return HEADER + APT + "\n" + "\n".join(steps) + "\n"


def service_user_script(plan: ServicePlan) -> str:
    """The service's system user and directories. Code is root's and read-only to it; it may write only
    shared/ (its data) and its state directory (HOME: build caches, PM2). Its settings directory is
    root's, readable by its group (PM2 loads the ecosystem file as the service user); its secret files
    are its own, 0600. Each directory is set to its mode every time, so a second run changes nothing."""
    base = plan.paths.app(plan.name)
    etc = f"{plan.paths.etc}/{plan.name}"
    return HEADER + f"""if ! id -u {plan.user} >/dev/null 2>&1; then
  useradd --system --home-dir {plan.paths.state(plan.name)} --shell /usr/sbin/nologin {plan.user}
fi
install -d -m 0755 -o root -g root {base} {base}/releases {base}/slots {plan.paths.var}
install -d -m 0750 -o {plan.user} -g {plan.user} {base}/shared
install -d -m 0700 -o {plan.user} -g {plan.user} {plan.paths.state(plan.name)}
install -d -m 0750 -o root -g {plan.user} {etc}
install -d -m 0700 -o {plan.user} -g {plan.user} {etc}/files
"""


def write_file_command(path: str, *, owner: str = "root", group: str | None = None, mode: str = "0600") -> str:
    """A command that writes its stdin to ``path`` atomically, never readable by anyone else meanwhile.
    Its directory is created if missing (0755), and left as it is if it exists."""
    directory = path.rsplit("/", 1)[0] or "/"
    new = quote(path + ".new")
    return (
        f"umask 077 && mkdir -p {quote(directory)} && "
        f"cat > {new} && chown {quote(owner + ':' + (group or ''))} {new} && "
        f"chmod {mode} {new} && mv {new} {quote(path)}"
    )


def accessories_script(accessories: dict[str, dict], paths: Paths = Paths()) -> str:
    """MariaDB (for mysql), Redis and PostgreSQL on loopback, each user's password read from
    ``<etc>/accessories/<kind>.password`` (0600) and passed on by printf, a shell builtin."""
    parts = []
    pw = f"{paths.etc}/accessories"
    # An existing server is used as it is: nothing installed, no setting, user or password touched.
    accessories = {kind: spec for kind, spec in accessories.items() if not spec.get("existing")}
    if "mysql" in accessories:
        spec = accessories["mysql"]
        sql = ""
        if spec.get("database"):
            sql += f'printf "CREATE DATABASE IF NOT EXISTS \\`%s\\`;\\n" {quote(spec["database"])}\n'
        if spec.get("user"):
            user = quote(spec["user"])
            sql += (
                f"printf \"CREATE USER IF NOT EXISTS '%s'@'localhost' IDENTIFIED BY '%s';\\n\" {user} \"$pass\"\n"
                f"printf \"ALTER USER '%s'@'localhost' IDENTIFIED BY '%s';\\n\" {user} \"$pass\"\n"
            )
            if spec.get("database"):
                sql += (f"printf \"GRANT ALL PRIVILEGES ON \\`%s\\`.* TO '%s'@'localhost';\\n\" "
                        f"{quote(spec['database'])} {user}\n")
        parts.append(f"""apt_install mariadb-server
cat > /etc/mysql/mariadb.conf.d/60-stackyard.cnf.new <<'EOF'
[mysqld]
bind-address = 127.0.0.1
EOF
if replaced /etc/mysql/mariadb.conf.d/60-stackyard.cnf; then systemctl restart mariadb; fi
systemctl enable --quiet --now mariadb
pass=$(cat {pw}/mysql.password)
{{
{sql}}} | mysql""")
    if "redis" in accessories:
        parts.append(f"""apt_install redis-server
pass=$(cat {pw}/redis.password)
umask 077
{{
  echo "bind 127.0.0.1 -::1"
  echo "protected-mode yes"
  printf 'requirepass %s\\n' "$pass"
}} > /etc/redis/stackyard.conf.new
chown redis: /etc/redis/stackyard.conf.new && chmod 0640 /etc/redis/stackyard.conf.new
restart=no
if replaced /etc/redis/stackyard.conf; then restart=yes; fi
include='include /etc/redis/stackyard.conf'
if ! grep -qx "$include" /etc/redis/redis.conf; then echo "$include" >> /etc/redis/redis.conf; restart=yes; fi
if [ "$restart" = yes ]; then systemctl restart redis-server; fi
systemctl enable --quiet --now redis-server""")
    if "postgresql" in accessories:
        spec = accessories["postgresql"]
        sql = ""
        if spec.get("user"):
            user = quote(spec["user"])
            sql += (f"printf \"DO \\$\\$ BEGIN CREATE ROLE %s LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; "
                    f"END \\$\\$;\\n\" {user}\n"
                    f"printf \"ALTER ROLE %s PASSWORD '%s';\\n\" {user} \"$pass\"\n")
        if spec.get("database"):
            owner = quote(spec.get("user") or "postgres")
            sql += (f"printf \"SELECT 'CREATE DATABASE %s OWNER %s' WHERE NOT EXISTS "
                    f"(SELECT FROM pg_database WHERE datname = '%s')\\\\gexec\\n\" "
                    f"{quote(spec['database'])} {owner} {quote(spec['database'])}\n")
        parts.append(f"""apt_install postgresql
pass=$(cat {pw}/postgresql.password)
{{
{sql}}} | runuser -u postgres -- psql --quiet -v ON_ERROR_STOP=1""")
    return HEADER + APT + REPLACED + "\n" + "\n\n".join(parts) + "\n"


def install_files(files: dict[str, tuple[str, str]]) -> str:
    """A script that writes each ``path: (content, mode)`` with a quoted heredoc. A missing directory is
    created (0755); an existing one keeps its owner and mode."""
    return "set -euo pipefail\n" + "".join(
        f"mkdir -p {path.rsplit('/', 1)[0]}\n"
        f"cat > {path} <<'STACKYARD_EOF'\n{content}STACKYARD_EOF\n"
        f"chmod {mode} {path}\n"
        for path, (content, mode) in sorted(files.items())
    )


def _write_missing(files: dict[str, str]) -> str:
    """Heredocs that create each file only if it does not exist yet."""
    return "\n".join(f"if [ ! -f {path} ]; then\ncat > {path} <<'EOF'\n{content}EOF\nfi"
                     for path, content in sorted(files.items()))


def nginx_setup_script(hostnames: Sequence[str], *, tls: str, email: str | None, site: str, bootstrap: str,
                       upstreams: dict[str, str], replaces: Sequence[str] = (), paths: Paths = Paths()) -> str:
    """Installs nginx, gets a certificate per hostname (certbot webroot, or self-signed for
    ``tls: internal``) unless one is there already, then installs the full site and disables the sites
    it ``replaces``, in one checked reload. Upstream files are written only if missing: after the
    first deploy they belong to the deploy script."""
    certs = []
    for hostname in hostnames:
        live = f"{paths.certs}/{hostname}"
        if tls == "internal":
            certs.append(f"""if [ ! -f {live}/fullchain.pem ]; then
  install -d -m 0700 {live}
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN={hostname}" \\
    -addext "subjectAltName=DNS:{hostname}" -keyout {live}/privkey.pem -out {live}/fullchain.pem 2>/dev/null
fi""")
        else:
            mail = f"--email {quote(email)}" if email else "--register-unsafely-without-email"
            certs.append(f"""if [ ! -f {live}/fullchain.pem ]; then
  certbot certonly --webroot --webroot-path {paths.acme_root} --domain {hostname} --non-interactive \\
    --agree-tos {mail} --deploy-hook 'systemctl reload nginx'
fi""")
    writes = _write_missing(upstreams)
    packages = "nginx" + (" certbot" if tls != "internal" and hostnames else " openssl")
    # certbot's webroot challenge needs port 80 answering for the hostnames before the full site (which
    # names the certificates) can load: a bootstrap site, only while a certificate is missing.
    bootstrap_needed = " || ".join(f"[ ! -f {paths.certs}/{h}/fullchain.pem ]" for h in hostnames)
    bootstrap_step = "" if tls == "internal" or not hostnames else f"""\
if [ ! -f /etc/nginx/sites-available/stackyard.conf ] && {{ {bootstrap_needed}; }}; then
cat > /etc/nginx/sites-available/stackyard.conf <<'EOF'
{bootstrap}EOF
ln -sfn /etc/nginx/sites-available/stackyard.conf /etc/nginx/sites-enabled/stackyard.conf
systemctl reload nginx || systemctl restart nginx
fi
"""
    sites = " ".join(quote(s) for s in ["default", *replaces])
    return HEADER + APT + f"""apt_install {packages}
install -d -m 0755 {paths.acme_root} {paths.etc}/upstreams
{writes}
{bootstrap_step}{chr(10).join(certs)}
cat > /etc/nginx/sites-available/stackyard.conf.new <<'EOF'
{site}EOF
cp /etc/nginx/sites-available/stackyard.conf /etc/nginx/sites-available/stackyard.conf.previous 2>/dev/null || true
mv /etc/nginx/sites-available/stackyard.conf.new /etc/nginx/sites-available/stackyard.conf
ln -sfn /etc/nginx/sites-available/stackyard.conf /etc/nginx/sites-enabled/stackyard.conf
# The sites stackyard's replaces (Debian's default, and proxy.replaces) leave in the same checked reload,
# kept under {paths.etc}/replaced: what served before keeps serving until this reload, and comes back if
# nginx refuses the new site.
disabled=()
replaced_sites=({sites})
for site in "${{replaced_sites[@]}}"; do
  for f in /etc/nginx/sites-enabled/"$site" /etc/nginx/conf.d/"$site"; do
    if [ -e "$f" ] || [ -L "$f" ]; then
      kept="{paths.etc}/replaced/${{f#/etc/nginx/}}"
      install -d -m 0700 "${{kept%/*}}"
      mv "$f" "$kept"
      disabled+=("$f")
    fi
  done
done
if ! nginx -t; then
  if [ -f /etc/nginx/sites-available/stackyard.conf.previous ]; then
    mv /etc/nginx/sites-available/stackyard.conf.previous /etc/nginx/sites-available/stackyard.conf
  else
    rm -f /etc/nginx/sites-available/stackyard.conf /etc/nginx/sites-enabled/stackyard.conf
  fi
  for f in "${{disabled[@]}}"; do mv "{paths.etc}/replaced/${{f#/etc/nginx/}}" "$f"; done
  echo "nginx rejected the new site; the previous configuration stays" >&2
  exit 1
fi
systemctl enable --quiet nginx
systemctl reload nginx || systemctl restart nginx
"""


def caddy_setup_script(caddyfile: str, upstreams: dict[str, str], paths: Paths = Paths()) -> str:
    writes = _write_missing(upstreams)
    return HEADER + APT + f"""apt_install caddy
install -d -m 0755 {paths.etc}/upstreams
{writes}
# A Caddyfile stackyard did not write is kept once, under {paths.etc}/replaced, before it is replaced.
if [ -f /etc/caddy/Caddyfile ] && ! grep -q '^{CADDY_MARK}' /etc/caddy/Caddyfile; then
  install -d -m 0700 {paths.etc}/replaced
  cp -p /etc/caddy/Caddyfile {paths.etc}/replaced/Caddyfile
fi
cat > /etc/caddy/Caddyfile.new <<'EOF'
{caddyfile}EOF
if ! caddy validate --adapter caddyfile --config /etc/caddy/Caddyfile.new >/dev/null; then
  echo "caddy rejected the new Caddyfile; the previous one stays" >&2
  caddy validate --adapter caddyfile --config /etc/caddy/Caddyfile.new || true
  exit 1
fi
mv /etc/caddy/Caddyfile.new /etc/caddy/Caddyfile
systemctl enable --quiet caddy
systemctl reload caddy || systemctl restart caddy
"""
