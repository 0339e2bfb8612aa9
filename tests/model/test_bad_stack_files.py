"""Bad stack files: each mistake gives one clean error naming its config path, before any resource exists."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable

import pulumi
import pytest
from helpers.harness import Run, canary_secrets, production_config, run_program

from components.render.runtimes import RUNTIMES

Mutation = Callable[[dict], None]


def systems(config: dict) -> dict:
    return config["stackyard:systems"]


def host(config: dict, system: str = "mehko", name: str = "api") -> dict:
    return systems(config)[system]["hosts"][name]


def productivity(config: dict) -> dict:
    return systems(config)["productivity"]


def pages(config: dict) -> dict:
    return systems(config)["mehko"]["frontends"]["web"]


def vercel(config: dict) -> dict:
    return systems(config)["material-kai"]["frontends"]["web"]


def supabase(config: dict) -> dict:
    return systems(config)["material-kai"]["supabase"]


def records(config: dict, system: str = "mehko") -> list:
    return systems(config)[system]["dns"]["records"]


def not_provisioned(system: dict) -> None:
    """The productivity server left as it is: provision: false, and nothing listed that it would run."""
    system["hosts"]["app"]["provision"] = False
    for key in ("accessories", "proxy", "backups"):
        system["hosts"]["app"].pop(key, None)
    system.pop("services")


def moved_to_a_new_host(config: dict) -> None:
    """material-kai's service moved to a new Droplet, mivaa2; its records still say host: mivaa."""
    kai = systems(config)["material-kai"]
    new = copy.deepcopy(kai["hosts"]["mivaa"])
    new.pop("adopt"), new.pop("backups"), new["access"].pop("hostKey")
    kai["hosts"]["mivaa2"] = {**new, "reservedIp": False}
    kai["services"]["mivaa"]["host"] = "mivaa2"


CASES: list[tuple[str, Mutation, str, str]] = [
    ("ACME directory over plain http", lambda c: host(c)["proxy"].update(acme={"directory": "http://ca.example/dir"}),
     "systems.mehko.hosts.api.proxy.acme.directory", "letsencrypt, letsencrypt-staging or an https URL"),
    ("ACME CA root that is not a certificate",
     lambda c: host(c)["proxy"].update(
         acme={"caRoot": "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----"}),
     "systems.mehko.hosts.api.proxy.acme.caRoot", "is not PEM certificates"),
    ("ACME CA root holding a private key too",
     lambda c: host(c)["proxy"].update(acme={"caRoot": "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"
                                                     "-----BEGIN PRIVATE KEY-----\nMA==\n-----END PRIVATE KEY-----\n"}),
     "systems.mehko.hosts.api.proxy.acme.caRoot", "nothing else"),
    ("ACME CA roots for Let's Encrypt",
     lambda c: host(c)["proxy"].update(acme={"caRoot": "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----"}),
     "systems.mehko.hosts.api.proxy.acme.caRoot", "caRoot is for a private CA"),
    ("ACME CA roots for Let's Encrypt named by its URL",
     lambda c: host(c)["proxy"].update(acme={"directory": "https://ACME-v02.api.letsencrypt.org/directory",
                                             "caRoot": "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----"}),
     "systems.mehko.hosts.api.proxy.acme.caRoot", "caRoot is for a private CA"),
    ("ACME CA roots for Let's Encrypt named by its URL with a final dot (round 25)",
     lambda c: host(c)["proxy"].update(acme={"directory": "https://acme-v02.api.letsencrypt.org./directory",
                                             "caRoot": "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----"}),
     "systems.mehko.hosts.api.proxy.acme.caRoot", "caRoot is for a private CA"),
    ("an IPv6 address with a scope, which reaches the SSH command the outputs print (round 25)",
     lambda c: productivity(c)["hosts"]["app"].update(address="2001:db8::21%eth0;id"),
     "systems.productivity.hosts.app.address", "a scope"),
    ("an IPv4 address written as IPv6, another spelling of one server (round 25)",
     lambda c: productivity(c)["hosts"]["app"].update(address="::ffff:203.0.113.10"),
     "systems.productivity.hosts.app.address", "write the IPv4 address 203.0.113.10"),
    ("a backup schedule with a step cron cannot read (round 25)",
     lambda c: host(c, "productivity", "app")["backups"].update(schedule="*/99999999999999999999 * * * *"),
     "systems.productivity.hosts.app.backups.schedule", "is not a cron field"),
    ("a name ending in '-', which Docker refuses in an image name (round 26)",
     lambda c: systems(c)["mehko"]["services"].update({"gateway-": systems(c)["mehko"]["services"].pop("api-gateway")}),
     "systems.mehko.services.gateway-", "not ending with '-'"),
    ("a service port whose instances would bind below 1024 as the service's user (round 28)",
     lambda c: productivity(c)["services"]["flask-backend"].update(port=10),
     "systems.productivity.services.flask-backend.port", "may not bind a port below 1024"),
    ("an SSH port a database accessory of the host listens on (round 28)",
     lambda c: host(c, "material-kai", "mivaa").setdefault("accessories", {}).update(redis={})
     or host(c, "material-kai", "mivaa")["access"].update(sshPort=6379),
     "systems.material-kai.hosts.mivaa.access.sshPort", "port 6379 is the redis accessory's"),
    ("a runtime stackyard does not have",
     lambda c: productivity(c)["services"]["podfactory-sync"].update(runtime="pm3"),
     "systems.productivity.services.podfactory-sync.runtime", "unknown runtime 'pm3'; known: compose, pm2, systemd"),
    ("a backup schedule with a step after one value (cron drops the line)",
     lambda c: host(c, "productivity", "app")["backups"].update(schedule="5/10 * * * *"),
     "systems.productivity.hosts.app.backups.schedule", "its minute field '5/10' is not a cron field"),
    ("one server in two spellings of its IPv6 address",
     lambda c: productivity(c)["hosts"]["app"].update(address="2001:db8::10")
     or systems(c)["mehko"]["hosts"].update(other={**copy.deepcopy(productivity(c)["hosts"]["app"]),
                                                   "address": "2001:DB8:0::10"}),
     "systems.productivity.hosts.app.address", "address 2001:db8::10 is already used at systems.mehko.hosts.other"),
    ("a host not provisioned that still lists an accessory",
     lambda c: productivity(c)["hosts"]["app"].update(provision=False) or productivity(c).pop("services"),
     "systems.productivity.hosts.app.accessories", "provision: false, so this never takes effect"),
    ("ACME for a proxy on its own CA",
     lambda c: host(c)["proxy"].update(tls="internal", acme={"directory": "letsencrypt-staging"}),
     "systems.mehko.hosts.api.proxy.acme", "acme is for tls: letsencrypt"),
    ("misspelt key", lambda c: host(c).update(serverTyp=host(c).pop("serverType")),
     "systems.mehko.hosts.api.serverTyp", "did you mean 'serverType'"),
    ("missing required key", lambda c: host(c).pop("location"),
     "systems.mehko.hosts.api.location", "required"),
    ("wrong type: list given as string", lambda c: host(c).update(openPorts="80,443"),
     "systems.mehko.hosts.api.openPorts", "expected a list"),
    ("wrong type: boolean given as string", lambda c: host(c).update(primaryIp="yes"),
     "systems.mehko.hosts.api.primaryIp", "expected true or false"),
    ("port out of range", lambda c: host(c).update(openPorts=[80, 70000]),
     "systems.mehko.hosts.api.openPorts[1]", "not a TCP port"),
    ("unknown host provider", lambda c: host(c).update(provider="aws"),
     "systems.mehko.hosts.api.provider", "hetzner, digitalocean, existing"),
    ("record pointing at an unknown host", lambda c: records(c)[0].update(host="apii"),
     "systems.mehko.dns.records[0].host", "no host named 'apii'"),
    ("record in an unknown zone", lambda c: records(c)[0].update(zone="mehko.com"),
     "systems.mehko.dns.records[0].zone", "unknown zone 'mehko.com'"),
    ("reference to a secret that is not set",
     lambda c: pages(c)["env"]["production"].update(VITE_SENTRY_DSN={"secret": "sentryDsnWeb"}),
     "systems.mehko.frontends.web.env.production.VITE_SENTRY_DSN", "secret 'sentryDsnWeb' is not set"),
    ("port clash with SSH", lambda c: host(c).update(openPorts=[80, 443, 22]),
     "systems.mehko.hosts.api.openPorts[2]", "is the SSH port"),
    ("port listed twice", lambda c: host(c).update(openPorts=[80, 443, 443]),
     "systems.mehko.hosts.api.openPorts[2]", "listed twice"),
    ("invalid hostname in a domain list", lambda c: pages(c).update(domains=["https://mehko.ai"]),
     "systems.mehko.frontends.web.domains[0]", "not a valid hostname"),
    ("domain outside the frontend's zone", lambda c: pages(c).update(domains=["mehko.ai", "mehko.app"]),
     "systems.mehko.frontends.web.domains[1]", "not in zone 'mehko.ai'"),
    ("proxied record with a TTL", lambda c: records(c)[0].update(proxied=True, ttl=300),
     "systems.mehko.dns.records[0].ttl", "proxied records have ttl 1"),
    ("AAAA record for a host without IPv6",
     lambda c: host(c, "material-kai", "mivaa").update(ipv6=False),
     "systems.material-kai.dns.records[1].host", "has no IPv6 address"),
    ("A record content that is not an address",
     lambda c: records(c)[0].update(host=None, content="api.example.com") or records(c)[0].pop("host"),
     "systems.mehko.dns.records[0].content", "not an IPv4 address"),
    ("invalid CIDR", lambda c: host(c).update(access={"sshAllowFrom": ["10.0.0.1/8"]}),
     "systems.mehko.hosts.api.access.sshAllowFrom[0]", "not a network in CIDR form"),
    # Round 31: a netmask reached Docker and the Supabase API as written.
    ("a network with a netmask", lambda c: host(c).update(access={"sshAllowFrom": ["10.0.0.0/255.0.0.0"]}),
     "systems.mehko.hosts.api.access.sshAllowFrom[0]", "not a network in CIDR form"),
    # Round 30: Python reads any text after an IPv6 scope's % as the scope; the network reached ufw's command.
    ("a network with a scope",
     lambda c: host(c).update(access={"sshAllowFrom": ["10.0.0.0/8", "fe80::%$(id)/64"]}),
     "systems.mehko.hosts.api.access.sshAllowFrom[1]", "has a scope"),
    ("zone ID that is not a Cloudflare ID",
     lambda c: systems(c)["mehko"]["dns"]["zones"]["mehko.ai"].update(zoneId="mehko.ai"),
     "systems.mehko.dns.zones.mehko.ai.zoneId", "32 lowercase hex digits"),
    ("GitHub-reserved secret name",
     lambda c: systems(c)["material-kai"]["github"]["repositories"]["mivaa-pdf-extractor"]["secrets"].update(
         GITHUB_TOKEN={"secret": "ghToken"}),
     "systems.material-kai.github.repositories.mivaa-pdf-extractor.secrets.GITHUB_TOKEN", "GITHUB_"),
    ("Vercel secret on the development target",
     lambda c: vercel(c)["env"].update(development={"SUPABASE_ANON_KEY": {"secret": "supabaseAnonKey"}}),
     "systems.material-kai.frontends.web.env.development.SUPABASE_ANON_KEY", "cannot target development"),
    ("unknown env target", lambda c: pages(c)["env"].update(staging={"A": "b"}),
     "systems.mehko.frontends.web.env.staging", "expected one of production, preview"),
    ("reference to an unknown record",
     lambda c: vercel(c)["env"]["production"].update(MIVAA_GATEWAY_URL={"record": "api.materialshub.gr"}),
     "systems.material-kai.frontends.web.env.production.MIVAA_GATEWAY_URL.record", "no DNS record"),
    ("same record name managed by two systems",
     lambda c: systems(c)["mehko"]["dns"]["zones"].update(
         {"materialshub.gr": {"zoneId": "846d8bba61bf3e2e89d1d4a8c7a4b966"}})
     or records(c).append({"zone": "materialshub.gr", "name": "v1api", "type": "TXT", "content": "y"}),
     "systems.material-kai.dns.records[0]", "also managed at systems.mehko.dns.records[1]"),
    ("one domain on two frontends", lambda c: vercel(c).update(domains=["www.mehko.ai"]),
     "systems.material-kai.frontends.web.domains[0]", "already used at systems.mehko.frontends.web.domains[1]"),
    ("private key where a public key goes",
     lambda c: c.update({"stackyard:sshKeys": ["-----BEGIN OPENSSH PRIVATE KEY----- b3Bl"]}),
     "sshKeys[0]", "this is a private key"),
    ("MX record without a priority",
     lambda c: records(c).append({"zone": "mehko.ai", "name": "@", "type": "MX", "content": "mx.mehko.ai"}),
     "systems.mehko.dns.records[1].priority", "required for MX records"),
    ("system name that cannot name resources",
     lambda c: systems(c).update({"Mehko_AI": systems(c).pop("mehko")}),
     "systems.Mehko_AI", "lowercase letters"),
    ("misspelt top-level key", lambda c: c.update({"stackyard:sshKey": []}),
     "sshKey", "did you mean 'sshKeys'"),
    ("created host with no SSH key at all", lambda c: c.pop("stackyard:sshKeys"),
     "systems.mehko.hosts.api.sshKeys", "needs at least one SSH public key"),
    ("service on an unknown host",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"].update(host="api"),
     "systems.material-kai.services.mivaa.host", "no host named 'api'"),
    ("service ports clashing on one host",
     lambda c: systems(c)["mehko"]["services"]["ai-server"].update(port=2001),
     "systems.mehko.services.ai-server.port", "clashes with systems.mehko.services.api-gateway"),
    ("service port on a database's port",
     lambda c: systems(c)["productivity"]["services"]["flask-backend"].update(port=3306),
     "systems.productivity.services.flask-backend.port", "is MySQL's"),
    ("systemd service without a command",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"].pop("command"),
     "systems.material-kai.services.mivaa.command", "required"),
    ("existing database user without its password",
     lambda c: productivity(c)["hosts"]["app"]["accessories"]["mysql"].pop("password"),
     "systems.productivity.hosts.app.accessories.mysql.password", "stackyard never changes an existing server's"),
    ("password of an existing Redis that nobody named",
     lambda c: productivity(c)["hosts"]["app"]["accessories"]["redis"].pop("password"),
     "systems.productivity.services.flask-backend.env.REDIS_PASSWORD.accessory",
     "existing server whose password stackyard does not know"),
    ("old process on the port the service needs",
     lambda c: productivity(c)["services"]["flask-backend"]["replaces"].update(listen=5100),
     "systems.productivity.services.flask-backend.replaces.listen", "give the service another port"),
    ("old PM2 process name a shell would split",
     lambda c: productivity(c)["services"]["flask-backend"]["replaces"].update(pm2=["flask backend"]),
     "systems.productivity.services.flask-backend.replaces.pm2[0]", "not a process or unit name"),
    ("Caddy replacing a site file it does not have",
     lambda c: host(c)["proxy"].update(replaces=["mehko"]),
     "systems.mehko.hosts.api.proxy.replaces[0]", "replaces: [Caddyfile]"),
    ("watchdog path that is not a path",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["watchdog"].update(paths=["health"]),
     "systems.material-kai.services.mivaa.watchdog.paths[0]", "an HTTP path such as /health"),
    ("watchdog that never restarts",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["watchdog"].update(failures=0),
     "systems.material-kai.services.mivaa.watchdog.failures", "at least 1"),
    ("rate limit behind a Caddy",
     lambda c: systems(c)["mehko"]["services"]["ai-server"].update(limits={"rateLimit": {"requests": 50}}),
     "systems.mehko.services.ai-server.limits.rateLimit", "Caddy has no rate limiter"),
    ("body size nginx cannot read",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["limits"].update(maxBodySize="50 megs"),
     "systems.material-kai.services.mivaa.limits.maxBodySize", "not a size such as"),
    ("CSP with an nginx variable in it",
     lambda c: host(c, "material-kai", "mivaa")["proxy"].update(contentSecurityPolicy="default-src $host"),
     "systems.material-kai.hosts.mivaa.proxy.contentSecurityPolicy", "without double quotes, backslashes, $"),
    ("log file in a directory other programs share",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["logs"].update(files=["/var/log/mivaa.log"]),
     "systems.material-kai.services.mivaa.logs.files[0]", "the service's own directory, /var/log/mivaa/..."),
    ("a log file that would hand sshd's directory to the service user",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["logs"].update(files=["/etc/ssh/app.log"]),
     "systems.material-kai.services.mivaa.logs.files[0]", "the service's own directory, /var/log/mivaa/..."),
    ("a token in a repository URL",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["source"].update(
         repo="https://x-access-token:ghp_abc@github.com/creativeghq/mivaa.git"),
     "systems.material-kai.services.mivaa.source.repo", "a token in the URL would be in the state"),
    ("a deploy key over https",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["source"].update(deployKey={"secret": "mivaaApiKey"}),
     "systems.material-kai.services.mivaa.source.deployKey", "a deploy key is used over ssh"),
    ("a deploy key for a git server whose host key is not pinned",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["source"].update(
         repo="git@git.example.com:kai/mivaa.git", deployKey={"secret": "mivaaApiKey"}),
     "systems.material-kai.services.mivaa.source.knownHosts", "required with a deploy key"),
    ("an existing server without its host key",
     lambda c: productivity(c)["hosts"]["app"]["access"].pop("hostKey"),
     "systems.productivity.hosts.app.access.hostKey", "required: the server's ed25519 host key"),
    ("an RSA host key",
     lambda c: productivity(c)["hosts"]["app"]["access"].update(
         hostKey="ssh-rsa " + base64.b64encode(b"\x00\x00\x00\x07ssh-rsa" + b"\x01" * 64).decode()),
     "systems.productivity.hosts.app.access.hostKey", "only an ed25519 host key can be pinned"),
    ("a host key cut short when pasted (its fingerprint was a traceback at preview)",
     lambda c: productivity(c)["hosts"]["app"]["access"].update(
         hostKey="ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + b"k" * 32)
         .decode()[:-1]),
     "systems.productivity.hosts.app.access.hostKey", "the key is cut or mistyped"),
    ("a service named after stackyard's own directories",
     lambda c: systems(c)["material-kai"]["services"].update(claims=systems(c)["material-kai"]["services"]["mivaa"]),
     "systems.material-kai.services.claims", "a name stackyard keeps for itself"),
    ("a service named after a system log directory a package keeps as root",
     lambda c: systems(c)["material-kai"]["services"].update(nginx=systems(c)["material-kai"]["services"]["mivaa"]),
     "systems.material-kai.services.nginx", "the name of a system log directory (/var/log/nginx)"),
    ("a service name whose user would collide with another's",
     lambda c: systems(c)["material-kai"]["services"].update(
         {"billing-reconciliation-worker-a": systems(c)["material-kai"]["services"].pop("mivaa")}),
     "systems.material-kai.services.billing-reconciliation-worker-a", "at most 28 characters"),
    ("a static root inside a service's directory",
     lambda c: host(c, "material-kai", "mivaa")["proxy"].update(static={"www.materialshub.gr": "/srv/mivaa/dist"}),
     "systems.material-kai.hosts.mivaa.proxy.static.www.materialshub.gr", "inside /srv/mivaa, which a service's"),
    ("backups in a directory a service writes",
     lambda c: host(c, "material-kai", "mivaa")["backups"].update(directory="/srv/mivaa/shared/backups"),
     "systems.material-kai.hosts.mivaa.backups.directory", "a directory of their own that only root writes"),
    ("a log file in root's .ssh",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["logs"].update(files=["/root/.ssh/authorized_keys"]),
     "systems.material-kai.services.mivaa.logs.files[0]", "the service's own directory, /var/log/mivaa/..."),
    ("log file inside a container",
     lambda c: systems(c)["mehko"]["services"]["ai-server"].update(logs={"files": ["/var/log/ai/app.log"]}),
     "systems.mehko.services.ai-server.logs.files[0]", "compose logs go to Docker's log driver"),
    ("a frontend's ID outside GitHub secrets",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["env"].update(
         VERCEL_PROJECT_ID={"frontend": "web", "output": "projectId"}),
     "systems.material-kai.services.mivaa.env.VERCEL_PROJECT_ID.frontend", "in github secrets only"),
    ("the org ID of a Vercel project without a team",
     lambda c: vercel(c).pop("teamId"),
     "systems.material-kai.github.repositories.material-kai-vision-platform.secrets.VERCEL_ORG_ID.output",
     "names no teamId"),
    ("accessory password from a host without it",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["env"].update(DB_PASSWORD={"accessory": "mysql"}),
     "systems.material-kai.services.mivaa.env.DB_PASSWORD.accessory", "has no mysql accessory"),
    ("hostnames on a host without a proxy",
     lambda c: host(c, "material-kai", "mivaa").pop("proxy"),
     "systems.material-kai.services.mivaa.hostnames", "has no proxy"),
    ("provisioned host without a key to log in with",
     lambda c: host(c, "material-kai", "mivaa").pop("access"),
     "systems.material-kai.hosts.mivaa.access.privateKey", "required"),
    ("a container told 127.0.0.1 for another service (seed 000's 503)",
     lambda c: systems(c)["mehko"]["services"]["api-gateway"]["env"].update(AI_SERVER_URL="http://127.0.0.1:3000"),
     "systems.mehko.services.api-gateway.env.AI_SERVER_URL", "use http://ai-server:3000"),
    ("a container told localhost",
     lambda c: systems(c)["mehko"]["services"]["ai-server"]["env"].update(CALLBACK="http://localhost/x"),
     "systems.mehko.services.ai-server.env.CALLBACK", "inside a container localhost is the container itself"),
    ("an image build context outside the repository",
     lambda c: systems(c)["mehko"]["services"]["ai-server"].update(build={"context": "../other"}),
     "systems.mehko.services.ai-server.build.context", "not a path inside the repository"),
    ("an image build on a service that is not compose",
     lambda c: productivity(c)["services"]["flask-backend"].update(build={"context": "backend"}),
     "systems.productivity.services.flask-backend.build", "only compose services have it"),
    ("compose on Debian 12 from the distribution's packages",
     lambda c: host(c).update(image="debian-12"),
     "systems.mehko.hosts.api.docker.packages", "Debian 12's archive has no Compose v2 package"),
    ("a containers' network that is IPv6",
     lambda c: host(c).update(docker={"subnet": "fd00:5::/64"}),
     "systems.mehko.hosts.api.docker.subnet", "an IPv4 subnet from /16 to /28"),
    ("compose secret file at a relative path",
     lambda c: systems(c)["mehko"]["services"]["fastapi-worker"].update(files={"key.json": {"secret": "ghToken"}}),
     "systems.mehko.services.fastapi-worker.files.key.json", "absolute path"),
    ("a second A record beside the live one (round-robin by accident)",
     lambda c: records(c).append({"zone": "mehko.ai", "name": "api", "type": "A", "content": "198.51.100.77"}),
     "systems.mehko.dns.records[1]", "a second A record for 'api.mehko.ai'"),
    ("an adopted Primary IP on a host that keeps none",
     lambda c: host(c).update(primaryIp=False),
     "systems.mehko.hosts.api.adopt.primaryIp", "keeps no Primary IP"),
    ("an adopted SSH key that no host installs",
     lambda c: c["stackyard:adoptSshKeys"]["hetzner"].update({"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther x": "7"}),
     "adoptSshKeys.hetzner.ssh-ed25519 AAAAC3NzaC1l...", "not a key of stackyard:sshKeys"),
    ("an adopted Vercel variable the stack does not set",
     lambda c: vercel(c)["adopt"]["env"].update(VITE_SENTRY_DSN={"production": "envX"}),
     "systems.material-kai.frontends.web.adopt.env.VITE_SENTRY_DSN.production", "not set for production"),
    ("an adopted record that is no domain of the frontend",
     lambda c: pages(c)["adopt"]["records"].update({"shop.mehko.ai": "1a2b3c4d5e6f708192a3b4c5d6e7f899"}),
     "systems.mehko.frontends.web.adopt.records.shop.mehko.ai", "not one of this frontend's domains"),
    ("an adopted record ID that is not one", lambda c: records(c)[0].update(adopt="rec-123"),
     "systems.mehko.dns.records[0].adopt", "32 lowercase hex digits"),
    ("CNAME sharing its name with another record",
     lambda c: records(c).append({"zone": "mehko.ai", "name": "api", "type": "CNAME", "content": "x.mehko.ai"}),
     "systems.mehko.dns.records[1]", "cannot share its name"),
    ("Supabase project ref that is not one", lambda c: supabase(c).update(projectRef="bgbavxtjlbvgplozizxu1"),
     "systems.material-kai.supabase.projectRef", "not a Supabase project ref"),
    ("edge secret with Supabase's reserved prefix",
     lambda c: supabase(c)["secrets"].update(SUPABASE_SERVICE_ROLE_KEY={"secret": "supabaseServiceRoleKey"}),
     "systems.material-kai.supabase.secrets.SUPABASE_SERVICE_ROLE_KEY", "Supabase sets SUPABASE_*"),
    ("Supabase access token not set", lambda c: supabase(c).update(accessToken={"secret": "supabaseToken"}),
     "systems.material-kai.supabase.accessToken", "secret 'supabaseToken' is not set"),
    ("direct database connection without its URI", lambda c: supabase(c)["database"].update(via="postgres"),
     "systems.material-kai.supabase.database.url", "required with via: postgres"),
    ("insert policy with a USING clause",
     lambda c: supabase(c)["database"]["policies"][0].update(command="insert"),
     "systems.material-kai.supabase.database.policies[0].using", "insert policies take only check"),
    # Each reads to PostgreSQL as `using (...) with check (...)`: a second clause the stack never asked for,
    # its ' hidden from a count of quotes that knew only '...' strings.
    ("policy expression ending its USING clause inside dollar quotes",
     lambda c: supabase(c)["database"]["policies"][0].update(
         using="$$'$$ is not null) with check ($$'$$ is not null"),
     "systems.material-kai.supabase.database.policies[0].using", "no '$' outside quotes"),
    ("policy expression ending its USING clause inside a quoted identifier",
     lambda c: supabase(c)["database"]["policies"][0].update(using='"\'" is not null) with check ("\'" is not null'),
     "systems.material-kai.supabase.database.policies[0].using", "unbalanced parentheses or quotes"),
    ("policy expression ending its USING clause inside an E'...' string",
     lambda c: supabase(c)["database"]["policies"][0].update(
         using="E'\\'' is not null) with check (E'\\'' is not null"),
     "systems.material-kai.supabase.database.policies[0].using", "no E'...' escape strings"),
    ("policy expression with a positional parameter",
     lambda c: supabase(c)["database"]["policies"][0].update(using="owner = $1"),
     "systems.material-kai.supabase.database.policies[0].using", "no '$' outside quotes"),
    ("unknown OAuth provider", lambda c: supabase(c)["auth"].update(external={"githb": {"clientId": "x"}}),
     "systems.material-kai.supabase.auth.external.githb", "unknown OAuth provider"),
    ("a file named like stackyard's temporary files (each deploy removes them)",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"].update(files={"config/.stackyard.yml": "x: 1"}),
     "systems.material-kai.services.mivaa.files.config/.stackyard.yml", "stackyard's temporary files"),
    ("replaces.listen naming another service's port (its hostnames would reach that service)",
     lambda c: systems(c)["mehko"]["services"]["api-gateway"].update(replaces={"listen": 3000}),
     "systems.mehko.services.api-gateway.replaces.listen", "port 3000 is systems.mehko.services.ai-server's"),
    ("replaces.listen naming a port the host keeps for itself",
     lambda c: productivity(c)["services"]["flask-backend"]["replaces"].update(listen=3306),
     "systems.productivity.services.flask-backend.replaces.listen", "port 3306 is MySQL's"),
    ("replaces.listen naming the host's own SSH port",
     lambda c: (productivity(c)["hosts"]["app"].setdefault("access", {}).update(sshPort=2222),
                productivity(c)["services"]["flask-backend"]["replaces"].update(listen=2222)),
     "systems.productivity.services.flask-backend.replaces.listen", "port 2222 is SSH's"),
    ("migrations directory that does not exist",
     lambda c: supabase(c)["database"].update(migrations="supabase/migrationz"),
     "systems.material-kai.supabase.database.migrations", "no directory 'supabase/migrationz'"),
    ("one hostname for two services of a host (nginx would serve the first one's site only)",
     lambda c: systems(c)["mehko"]["services"]["fastapi-worker"].update(hostnames=["api.mehko.ai"]),
     "systems.mehko.services.fastapi-worker.hostnames[0]",
     "api.mehko.ai is already served on host 'api' by systems.mehko.services.api-gateway.hostnames[0]"),
    ("one hostname for a service and a static site of its host",
     lambda c: productivity(c)["services"]["flask-backend"]["hostnames"].append("www.productivity.example.com"),
     "systems.productivity.hosts.app.proxy.static.www.productivity.example.com",
     "already served on host 'app' by systems.productivity.services.flask-backend.hostnames[1]"),
    ("a deploy user named like a service's user, made a passwordless sudoer by cloud-init",
     lambda c: host(c, "material-kai", "mivaa").update(deployUser="svc-mivaa"),
     "systems.material-kai.hosts.mivaa.deployUser", "a name stackyard gives services' users"),
    ("root as the deploy user", lambda c: host(c).update(deployUser="root"),
     "systems.mehko.hosts.api.deployUser", "root itself"),
    ("an existing server's login user that is a daemon's account",
     lambda c: productivity(c)["hosts"]["app"].update(user="www-data"),
     "systems.productivity.hosts.app.user", "a system account a daemon runs as"),
    ("an accessory user that is the server's superuser (its password would be set and handed to a service)",
     lambda c: host(c, "material-kai", "mivaa").update(
         accessories={"postgresql": {"database": "mivaa", "user": "postgres"}}),
     "systems.material-kai.hosts.mivaa.accessories.postgresql.user", "a name the database server keeps"),
    # Round 31: peer authentication let the daemon of that name in without the password.
    ("an accessory user named after a daemon's account",
     lambda c: host(c, "material-kai", "mivaa").update(
         accessories={"postgresql": {"database": "mivaa", "user": "caddy"}}),
     "systems.material-kai.hosts.mivaa.accessories.postgresql.user", "peer authentication"),
    ("an accessory database that is MySQL's own",
     lambda c: productivity(c)["hosts"]["app"]["accessories"]["mysql"].update(database="mysql"),
     "systems.productivity.hosts.app.accessories.mysql.database", "a name the database server keeps"),
    ("a health check that never times out (curl --max-time 0)",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["health"].update(timeout=0),
     "systems.material-kai.services.mivaa.health.timeout", "at least 1 and at most 300 seconds"),
    ("a negative health check interval",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["health"].update(interval=-2),
     "systems.material-kai.services.mivaa.health.interval", "at least 1 and at most 3600 seconds"),
    ("a deploy that would retry its health check for days",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["health"].update(retries=100000),
     "systems.material-kai.services.mivaa.health.retries", "at least 1 and at most 100"),
    ("a watchdog that checks once a year",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["watchdog"].update(interval=31536000),
     "systems.material-kai.services.mivaa.watchdog.interval", "at most 3600 seconds"),
    ("releases kept until the disk is full",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"].update(keepReleases=100000),
     "systems.material-kai.services.mivaa.keepReleases", "at most 50"),
    ("backups kept until the disk is full", lambda c: host(c, "material-kai", "mivaa")["backups"].update(keep=10**6),
     "systems.material-kai.hosts.mivaa.backups.keep", "at most 1000"),
    ("a rate limit window of thirty years",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["limits"]["rateLimit"].update(window=10**9),
     "systems.material-kai.services.mivaa.limits.rateLimit.window", "at least 1 and at most 86400 seconds"),
    ("PORT in a service's env (systemd reads it over each instance's own port)",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["env"].update(PORT="8000"),
     "systems.material-kai.services.mivaa.env.PORT", "stackyard sets PORT for the service (each instance's own"),
    ("PM2_HOME in a PM2 service's env",
     lambda c: productivity(c)["services"]["flask-backend"]["env"].update(PM2_HOME="/root/.pm2"),
     "systems.productivity.services.flask-backend.env.PM2_HOME", "stackyard sets PM2_HOME for the service"),
    ("a service replacing SSH (stopped and disabled once it serves)",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"].update(replaces={"systemd": ["mivaa", "ssh.service"]}),
     "systems.material-kai.services.mivaa.replaces.systemd[1]", "a unit the system or stackyard needs"),
    ("a service replacing every process of the old PM2",
     lambda c: productivity(c)["services"]["flask-backend"]["replaces"].update(pm2=["all"]),
     "systems.productivity.services.flask-backend.replaces.pm2[0]", "PM2 reads 'all' as every process"),
    ("a service file that is the release directory itself",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"].update(files={".": "x"}),
     "systems.material-kai.services.mivaa.files..", "the release directory itself"),
    ("one file given twice, as a and ./a",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"].update(files={"key.json": "a", "./key.json": "b"}),
     "systems.material-kai.services.mivaa.files../key.json", "write it as 'key.json'"),
    ("a service file that is another's directory",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"].update(files={"config": "a", "config/key.json": "b"}),
     "systems.material-kai.services.mivaa.files.config", "is a directory of systems.material-kai.services.mivaa"
     ".files.config/key.json"),
    ("a backup schedule whose times never come (cron skips it silently)",
     lambda c: host(c, "material-kai", "mivaa")["backups"].update(schedule="99 99 99 99 99"),
     "systems.material-kai.hosts.mivaa.backups.schedule", "its minute field '99' is not a cron field of values 0-59"),
    ("a backup schedule with a step of 0",
     lambda c: host(c, "material-kai", "mivaa")["backups"].update(schedule="17 */0 * * *"),
     "systems.material-kai.hosts.mivaa.backups.schedule", "its hour field '*/0'"),
    ("a host named like another host's provisioning resources",
     lambda c: systems(c)["material-kai"]["hosts"].update(
         {"mivaa-setup": copy.deepcopy(host(c, "material-kai", "mivaa"))}),
     "systems.material-kai.hosts.mivaa-setup", "host 'mivaa''s resources are named mivaa-setup-..."),
    ("a host named like another host's provisioning step",
     lambda c: systems(c)["material-kai"]["hosts"].update(
         {"mivaa-setup-base": copy.deepcopy(host(c, "material-kai", "mivaa"))}),
     "systems.material-kai.hosts.mivaa-setup-base", "would share their names"),
    ("JWT expiry beyond what Supabase allows", lambda c: supabase(c)["auth"].update(jwtExpiry=2592000),
     "systems.material-kai.supabase.auth.jwtExpiry", "between 1 and 604800"),
    ("a created host with a proxy whose firewall would drop HTTP",
     lambda c: host(c).pop("openPorts"), "systems.mehko.hosts.api.openPorts", "add 80 and 443"),
    ("a created host with a proxy whose firewall would drop HTTPS",
     lambda c: host(c, "material-kai", "mivaa").update(openPorts=[80]),
     "systems.material-kai.hosts.mivaa.openPorts", "add 443"),
    ("an address record for a frontend's domain",
     lambda c: records(c).append({"zone": "mehko.ai", "name": "www", "type": "A", "host": "api"}),
     "systems.mehko.dns.records[1]", "served by the frontend at systems.mehko.frontends.web.domains[1]"),
    ("a service serving a frontend's domain",
     lambda c: systems(c)["material-kai"]["services"]["mivaa"]["hostnames"].append("mehko.ai"),
     "systems.material-kai.services.mivaa.hostnames[1]", "served by the frontend at systems.mehko.frontends.web"),
    ("a PM2 home that is another stackyard service's",
     lambda c: productivity(c)["services"]["flask-backend"]["replaces"].update(
         pm2Home="/var/lib/stackyard/podfactory-sync/pm2"),
     "systems.productivity.services.flask-backend.replaces.pm2Home", "stackyard's own"),
    ("a service moved to another host, its hostname's records left pointing at the old one",
     lambda c: moved_to_a_new_host(c), "systems.material-kai.services.mivaa.hostnames[0]",
     "systems.material-kai.dns.records[0] points it at systems.material-kai.hosts.mivaa"),
    ("a service moved to another host, the old one's proxy taken away, its records left there",
     lambda c: moved_to_a_new_host(c) or systems(c)["material-kai"]["hosts"]["mivaa"].pop("proxy"),
     "systems.material-kai.services.mivaa.hostnames[0]",
     "systems.material-kai.dns.records[0] points it at systems.material-kai.hosts.mivaa"),
    ("a hostname whose A record holds another server's address",
     lambda c: records(c).append({"zone": "mehko.ai", "name": "shop", "type": "A", "content": "203.0.113.10"})
     or systems(c)["mehko"]["services"]["api-gateway"]["hostnames"].append("shop.mehko.ai"),
     "systems.mehko.services.api-gateway.hostnames[1]",
     "systems.mehko.dns.records[1] points it at systems.productivity.hosts.app"),
    ("a static site whose record points at another host",
     lambda c: host(c, "material-kai", "mivaa")["proxy"].update(static={"www.materialshub.gr": "/var/www/kai"})
     or records(c, "material-kai").append({"zone": "materialshub.gr", "name": "www", "type": "A",
                                           "content": "203.0.113.10"}),
     "systems.material-kai.hosts.mivaa.proxy.static.www.materialshub.gr",
     "systems.material-kai.dns.records[2] points it at systems.productivity.hosts.app"),
    ("one hostname served by hosts of two systems",
     lambda c: productivity(c)["services"]["flask-backend"].update(hostnames=["api.mehko.ai"]),
     "systems.mehko.services.api-gateway.hostnames[0]",
     "also served by systems.productivity.services.flask-backend.hostnames[0]"),
    ("one static site on hosts of two systems",
     lambda c: host(c, "material-kai", "mivaa")["proxy"].update(
         static={"www.productivity.example.com": "/var/www/kai"}),
     "systems.material-kai.hosts.mivaa.proxy.static.www.productivity.example.com",
     "also served by systems.productivity.hosts.app.proxy.static.www.productivity.example.com"),
    ("no network may reach SSH (ufw and the cloud firewalls would shut stackyard out)",
     lambda c: c.update({"stackyard:sshAllowFrom": []}), "sshAllowFrom", "stackyard itself connects over SSH"),
    ("a host's own SSH list empty, and the stack's",
     lambda c: (c.update({"stackyard:sshAllowFrom": []}),
                productivity(c)["hosts"]["app"]["access"].update(sshAllowFrom=[])),
     "sshAllowFrom", "systems.productivity.hosts.app"),
    ("an existing server dialled at an IPv4 address that only IPv6 networks may reach over SSH",
     lambda c: productivity(c)["hosts"]["app"]["access"].update(sshAllowFrom=["2001:db8::/32"]),
     "systems.productivity.hosts.app.access.sshAllowFrom", "no IPv4 network"),
    ("an existing server dialled at an IPv6 address that only IPv4 networks may reach over SSH",
     lambda c: productivity(c)["hosts"]["app"].update(address="2001:db8::10")
     or productivity(c)["hosts"]["app"]["access"].update(sshAllowFrom=["198.51.100.0/24"]),
     "systems.productivity.hosts.app.access.sshAllowFrom", "no IPv6 network"),
    ("a created server (dialled at its IPv4 address) that only IPv6 networks may reach over SSH",
     lambda c: host(c)["access"].update(sshAllowFrom=["2001:db8::/32"]),
     "systems.mehko.hosts.api.access.sshAllowFrom", "no IPv4 network"),
    ("the stack's SSH list with IPv6 networks only",
     lambda c: c.update({"stackyard:sshAllowFrom": ["::/0"]}), "sshAllowFrom", "systems.mehko.hosts.api"),
    ("an IPv4 network written as IPv4-mapped IPv6 (ufw lists it dotted: the guard failed every up)",
     lambda c: host(c)["access"].update(sshAllowFrom=["198.51.100.0/24", "::ffff:198.51.100.0/120"]),
     "systems.mehko.hosts.api.access.sshAllowFrom[1]", "write the IPv4 network 198.51.100.0/24"),
    ("an IPv4 address written as IPv4-compatible IPv6",
     lambda c: host(c)["access"].update(sshAllowFrom=["198.51.100.0/24", "::198.51.100.7/128"]),
     "systems.mehko.hosts.api.access.sshAllowFrom[1]", "write the IPv4 network 198.51.100.7/32"),
    ("nginx told to disable stackyard's own site (every site of the host would go offline)",
     lambda c: productivity(c)["hosts"]["app"]["proxy"].update(replaces=["productivity", "stackyard.conf"]),
     "systems.productivity.hosts.app.proxy.replaces[1]", "stackyard's own"),
    ("a TXT record's content that YAML read as a date (the CLI hands over Go's time text)",
     lambda c: records(c).append({"zone": "mehko.ai", "name": "_v", "type": "TXT",
                                  "content": "2024-01-02 00:00:00 +0000 UTC"}),
     "systems.mehko.dns.records[1].content", "YAML read a date here"),
    ("a system's description that YAML read as a date",
     lambda c: systems(c)["mehko"].update(description="2024-01-02 10:00:00 +0000 UTC"),
     "systems.mehko.description", "quote the value"),

]


def run_broken(mutate: Mutation) -> tuple[Run, str]:
    """Runs the production stack after ``mutate``; returns what was registered and the error."""
    config = copy.deepcopy(production_config())
    secrets = canary_secrets(config)
    mutate(config)
    run = Run()
    with pytest.raises(pulumi.RunError) as err:
        run_program(config, secrets, run=run)
    return run, str(err.value)


@pytest.mark.parametrize("mutate,path,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_stack_file_names_the_path_and_registers_nothing(mutate: Mutation, path: str, fragment: str) -> None:
    run, message = run_broken(mutate)
    lines = [line.strip() for line in message.splitlines()[1:]]
    matching = [line for line in lines if line.startswith(f"{path}:")]
    assert matching, f"no problem reported at {path}:\n{message}"
    assert any(fragment in line for line in matching), message
    assert run.resources == [], [r.name for r in run.resources]
    assert "Traceback" not in message


def test_there_are_at_least_fifteen_distinct_mistakes() -> None:
    assert len({path for _, _, path, _ in CASES}) >= 15


def test_secret_set_in_plain_text_is_refused() -> None:
    config = copy.deepcopy(production_config())
    secrets = canary_secrets(config)
    secrets.pop("firebaseWebApiKey")
    with pytest.raises(pulumi.RunError) as err:
        run_program(config, secrets, plain={"firebaseWebApiKey": "AIza-plain"})
    assert ("systems.mehko.frontends.web.env.production.VITE_FIREBASE_API_KEY: "
            "stackyard:firebaseWebApiKey is stored in plain text") in str(err.value)


def test_every_problem_is_reported_in_one_error() -> None:
    def many(config: dict) -> None:
        host(config).update(serverTyp="cx22", openPorts=[22, 80, 443])
        records(config)[0].update(host="nope")
        pages(config)["env"]["production"]["X"] = {"secret": "missingOne"}

    _, message = run_broken(many)
    assert message.startswith("the stack config has 4 problems:"), message
    for path in ("systems.mehko.hosts.api.serverTyp", "systems.mehko.hosts.api.openPorts[0]",
                 "systems.mehko.dns.records[0].host", "systems.mehko.frontends.web.env.production.X"):
        assert f"\n  {path}: " in message


def test_missing_systems_key_is_named() -> None:
    _, message = run_broken(lambda c: c.pop("stackyard:systems"))
    assert "\n  systems: not set" in message


def test_a_provider_setting_that_could_send_a_token_elsewhere_is_refused() -> None:
    """A pull request's stack file, previewed by CI with decrypted tokens: hcloud:endpoint would send the
    Hetzner token to whoever it names, at the first import."""
    run, message = run_broken(lambda c: c.update({"hcloud:endpoint": "https://attacker.example/v1"}))
    assert "hcloud:endpoint: stackyard reads no such key" in message
    assert run.resources == []


# URLs a pull request's stack file might give supabase.apiUrl: each would get the account-wide token.
TOKEN_CATCHERS = ["https://attacker.example", "http://127.0.0.1:8080", "https://api.supabase.com.attacker.example",
                  "https://api.supabase.com@attacker.example", "https://api.supabase.com/", "http://api.supabase.com",
                  "https://API.SUPABASE.COM", "https://api.supabase.com:8443", "https://api.supabase.co"]


@pytest.mark.parametrize("url", TOKEN_CATCHERS)
def test_a_supabase_api_url_that_could_catch_the_token_is_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Supabase's Management API gets the access token with every request, and the URL lived only in the
    pickled provider, so a preview showed no change. Only Supabase's own is accepted, or the one URL the
    environment names (a test's stand-in): never another, whatever the environment allows."""
    from components.model.rules.supabase import API_URL_ENV

    monkeypatch.delenv(API_URL_ENV, raising=False)
    run, message = run_broken(lambda c: supabase(c).update(apiUrl=url))
    problems = [line.strip() for line in message.splitlines() if "systems.material-kai.supabase.apiUrl:" in line]
    assert problems, message
    # Refused by the rule, or before it by the URL kind (the rule then adds nothing at the same path).
    assert any("the access token goes to https://api.supabase.com only" in line or "is not an http(s) URL" in line
               for line in problems), message
    assert run.resources == []
    monkeypatch.setenv(API_URL_ENV, "https://stand-in.example")
    run, message = run_broken(lambda c: supabase(c).update(apiUrl=url))
    assert "systems.material-kai.supabase.apiUrl:" in message and run.resources == []
    monkeypatch.setenv(API_URL_ENV, url)
    config = copy.deepcopy(production_config())
    supabase(config).update(apiUrl=url)
    try:
        run = run_program(config, canary_secrets(config))
    except pulumi.RunError as err:  # a URL the URL kind refuses by itself
        assert "supabase.apiUrl: the access token" not in str(err)
    else:
        urls = {r.inputs["apiUrl"] for r in run.resources if r.type.startswith("pulumi-python:dynamic/supabase:")}
        assert urls == {url}


def test_a_secret_set_inside_the_systems_key_is_refused_not_published() -> None:
    import json

    config = copy.deepcopy(production_config())
    secrets = canary_secrets(config)
    secrets["stackyard:systems"] = json.dumps(config.pop("stackyard:systems"))  # `config set --secret --path`
    with pytest.raises(pulumi.RunError, match=r"stackyard:systems is stored as a secret"):
        run_program(config, secrets)


def directories_around(*paths: str) -> list[str]:
    """Each path, every directory above it, and one below it: the checks must hold both ways round."""
    out = set()
    for path in paths:
        parts = path.strip("/").split("/")
        out |= {"/" + "/".join(parts[:i]) for i in range(len(parts) + 1)}
        out.add(path.rstrip("/") + "/site")
    return sorted(out)


# Where a service's user writes (its checkout, state, logs, scratch, home), and what no site may show.
WRITTEN_BY_SERVICES = ("/srv/mivaa/shared", "/var/lib/stackyard/mivaa/.cache", "/var/log/mivaa", "/tmp/x",
                       "/var/tmp/x", "/home/deploy", "/run/user/1000", "/dev/shm/x", "/var/lock/x", "/var/run/x",
                       "/var/crash/x", "/var/lib/php/sessions")
NEVER_SHOWN = ("/etc/letsencrypt/live", "/etc/nginx", "/etc/stackyard/mivaa/files", "/root/.ssh",
               "/var/lib/caddy/.local/share/caddy", "/var/backups/stackyard", "/var/lib/mysql", "/var/lib/redis",
               "/etc/ssh", "/proc/self")
SYSTEM = ("/usr/lib", "/var/lib/dpkg", "/var/cache/apt", "/opt", "/bin", "/var/spool/cron")


def problems_after(mutate: Mutation) -> list[tuple[str, str]]:
    """What load_topology refuses (path, message) in the production stack changed by ``mutate``."""
    from helpers.harness import every_secret_set

    from components.model import StackConfigError, load_topology

    config = copy.deepcopy(production_config())
    mutate(config)
    try:
        load_topology({k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("stackyard:")},
                      every_secret_set, runtimes=RUNTIMES)
    except StackConfigError as err:
        return list(err.problems)
    return []


def refusal(mutate: Mutation, path: str) -> str | None:
    """The message load_topology gives at ``path`` for the production stack changed by ``mutate``, or None."""
    return next((message for where, message in problems_after(mutate) if where == path), None)


def test_a_static_root_near_what_a_service_writes_or_no_site_may_show_is_refused() -> None:
    """The proxy follows links in what it serves: a root that is, holds or is inside a directory a
    service's user writes would let that user publish a TLS key; one near a key or a dump publishes it."""
    path = "systems.material-kai.hosts.mivaa.proxy.static.www.materialshub.gr"
    accepted = [root for root in directories_around(*WRITTEN_BY_SERVICES, *NEVER_SHOWN)
                if refusal(lambda c, r=root: host(c, "material-kai", "mivaa")["proxy"].update(
                    static={"www.materialshub.gr": r}), path) is None]
    assert accepted == [], accepted
    for fine in ("/var/www/materialshub", "/srv/site/dist", "/opt/site"):
        assert refusal(lambda c, r=fine: host(c, "material-kai", "mivaa")["proxy"].update(
            static={"www.materialshub.gr": r}), path) is None, fine


def test_a_backup_directory_near_a_system_or_service_directory_is_refused() -> None:
    """Backups run as root make their directory, prune what is in it and write through it: never one a
    service's user writes, one that holds a system directory (/, /var, /etc), or one inside a secret one."""
    path = "systems.material-kai.hosts.mivaa.backups.directory"
    candidates = directories_around(*WRITTEN_BY_SERVICES, *NEVER_SHOWN, *SYSTEM)
    accepted = [d for d in candidates if refusal(
        lambda c, d=d: host(c, "material-kai", "mivaa")["backups"].update(directory=d), path) is None]
    # A directory of its own under /var/backups (or /opt, or a mounted volume) is the place.
    assert accepted == ["/opt/site", "/var/backups/stackyard", "/var/backups/stackyard/site"], accepted
    for fine in ("/var/backups/stackyard", "/mnt/backups/stackyard", "/srv/backups"):
        assert refusal(lambda c, d=fine: host(c, "material-kai", "mivaa")["backups"].update(directory=d),
                       path) is None, fine


def test_a_secret_copied_under_a_settings_key_never_reaches_the_message() -> None:
    """A pull request can copy another key's ciphertext under a settings key (the passphrase provider's
    ciphertexts are not bound to their key): CI decrypts it, and a type error that quoted the value would
    print the secret, or its first characters, in the preview's output."""
    from components.model import Settings, camel

    token = "ghp_R3alTokenValue0123456789abcdefABCDEF"
    for field in Settings.__dataclass_fields__:
        key = camel(field)
        config = copy.deepcopy(production_config())
        secrets = canary_secrets(config)
        config.pop(f"stackyard:{key}", None)
        secrets[f"stackyard:{key}"] = token  # systems too: the whole key replaced by a copied ciphertext
        with pytest.raises(pulumi.RunError) as err:
            run_program(config, secrets)
        message = str(err.value)
        assert f"stackyard:{key} is stored as a secret" in message, message
        assert token[:8] not in message, f"{key}: {message}"


def test_a_policy_name_is_measured_in_bytes_as_postgresql_cuts_it() -> None:
    greek = "\u0391\u03c0\u03bf" * 18 + "!"  # Greek: 55 characters, 109 bytes
    assert len(greek) <= 63 < len(greek.encode())

    def mutate(config: dict) -> None:
        supabase(config)["database"]["policies"][0]["name"] = greek

    _, message = run_broken(mutate)
    assert "systems.material-kai.supabase.database.policies[0].name: between 1 and 63 bytes" in message, message


def test_a_login_or_deploy_user_is_never_a_service_user_nor_a_daemon_account() -> None:
    """cloud-init makes the deploy user a passwordless sudoer: named svc-<name>, a service's user would be
    root; named after a daemon's account (www-data, postgres), the daemon would. An existing server's
    login user may be root (stackyard then runs its steps without sudo), never one of those."""
    taken = ["svc-mivaa", "svc-x", "www-data", "nobody", "caddy", "redis", "mysql", "postgres", "daemon", "bin",
             "sys", "sshd", "systemd-network", "_apt", "messagebus"]
    deploy = "systems.material-kai.hosts.mivaa.deployUser"
    login = "systems.productivity.hosts.app.user"
    for name in taken:
        assert refusal(lambda c, n=name: host(c, "material-kai", "mivaa").update(deployUser=n), deploy), name
        assert refusal(lambda c, n=name: productivity(c)["hosts"]["app"].update(user=n), login), name
    assert refusal(lambda c: host(c, "material-kai", "mivaa").update(deployUser="root"), deploy)
    assert refusal(lambda c: productivity(c)["hosts"]["app"].update(user="root"), login) is None
    # Round 26: a group the image has already (useradd refuses the user: USERGROUPS_ENAB), or Ubuntu's
    # fwupd-refresh: the server is created, and nothing can ever log in to it.
    for group in ("adm", "staff", "users", "sudo", "plugdev", "netdev", "fwupd-refresh"):
        assert refusal(lambda c, n=group: host(c, "material-kai", "mivaa").update(deployUser=n), deploy), group
    for fine in ("deploy", "admin", "ubuntu", "ops"):
        assert refusal(lambda c, n=fine: host(c, "material-kai", "mivaa").update(deployUser=n), deploy) is None
        assert refusal(lambda c, n=fine: productivity(c)["hosts"]["app"].update(user=n), login) is None


def test_an_accessory_database_or_user_is_never_one_the_server_keeps() -> None:
    path = "systems.material-kai.hosts.mivaa.accessories.postgresql"

    def accessory(database: str, user: str) -> Mutation:
        return lambda c: host(c, "material-kai", "mivaa").update(
            accessories={"postgresql": {"database": database, "user": user}})

    for name in ("postgres", "root", "mysql", "template0", "template1", "information_schema",
                 "performance_schema", "sys", "pg_monitor", "pg_anything", "Postgres", "public"):
        assert refusal(accessory(name, "mivaa"), f"{path}.database"), name
        assert refusal(accessory("mivaa", name), f"{path}.user"), name
    for fine in ("mivaa", "shop", "app_data", "postgresql_app"):
        assert refusal(accessory(fine, fine), f"{path}.database") is None, fine
        assert refusal(accessory(fine, fine), f"{path}.user") is None, fine


def test_replaces_never_names_a_unit_the_system_or_stackyard_needs() -> None:
    path = "systems.material-kai.services.mivaa.replaces.systemd[0]"

    def replacing(unit: str) -> Mutation:
        return lambda c: systems(c)["material-kai"]["services"]["mivaa"].update(replaces={"systemd": [unit]})

    for unit in ("nginx", "caddy.service", "ssh", "sshd", "systemd-journald", "systemd-networkd.service",
                 "stackyard-mivaa-blue@9000", "stackyard-mivaa-watchdog.timer", "docker", "containerd", "cron",
                 "mariadb", "mysql", "redis-server", "postgresql", "postgresql@16-main", "ufw", "dbus",
                 "getty@tty1", "multi-user.target", "user@0.service", "mysqld", "mysqld.service", "syslog.service",
                 "dbus-org.freedesktop.login1.service",
                 # round 25: certbot's renewals, the network (ifup@ stopped runs ifdown), VPNs, saved firewall rules
                 "certbot.timer", "certbot.service", "ifup@eth0", "NetworkManager", "netfilter-persistent",
                 "tailscaled", "wg-quick@wg0", "networking.service",
                 # round 26: rotation, the timers of unattended upgrades, other firewalls
                 "logrotate.timer", "apt-daily-upgrade.timer", "apt-daily.timer", "nftables", "firewalld"):
        assert refusal(replacing(unit), path), unit
    for fine in ("mivaa", "mivaa-api.service", "gunicorn@8000", "old-sync.timer", "nginx-exporter"):
        assert refusal(replacing(fine), path) is None, fine


def test_a_worker_sets_its_own_port_variable_where_stackyard_sets_none() -> None:
    path = "systems.productivity.services.podfactory-sync.env.PORT"
    assert refusal(lambda c: productivity(c)["services"]["podfactory-sync"]["env"].update(PORT="9100"), path) is None
    assert refusal(lambda c: productivity(c)["services"]["podfactory-sync"]["env"].update(HOME="/tmp"), path.replace(
        "PORT", "HOME"))


def test_a_backup_schedule_is_five_cron_fields_in_their_ranges() -> None:
    path = "systems.material-kai.hosts.mivaa.backups.schedule"

    def scheduled(schedule: str) -> Mutation:
        return lambda c: host(c, "material-kai", "mivaa")["backups"].update(schedule=schedule)

    for bad in ("60 3 * * *", "17 24 * * *", "17 3 0 * *", "17 3 32 * *", "17 3 * 0 *", "17 3 * 13 *",
                "17 3 * * 8", "*/0 * * * *", "17 5-2 * * *", "17 3 * foo *", "17 3 * * sat-sun", "1- 3 * * *",
                "17 3 * * mon/0", "@daily"):
        assert refusal(scheduled(bad), path), bad
    for fine in ("17 3 * * *", "*/15 * * * *", "0 0-23/6 * * *", "0,30 4 1,15 * *", "5 4 * jan-jun mon-fri",
                 "0 2 * * 7", "0 2 * * SUN", "59 23 31 12 0-6"):
        assert refusal(scheduled(fine), path) is None, fine


def rename_system(config: dict, old: str, new: str) -> None:
    systems(config)[new] = systems(config).pop(old)


def rename_host(config: dict, system: str, old: str, new: str) -> None:
    spec = systems(config)[system]
    spec["hosts"][new] = spec["hosts"].pop(old)
    for entry in [*spec.get("services", {}).values(), *spec.get("dns", {}).get("records", [])]:
        if entry.get("host") == old:
            entry["host"] = new


@pytest.mark.parametrize("system,host_name,clashes_with", [
    ("material", "kai-mivaa", "systems.material-kai.hosts.mivaa"),  # the very same names
    ("mehko-api", "app", "systems.mehko.hosts.api"),                 # mehko-api-app... begins mehko-api-...
    ("material-kai-web", "app", "systems.material-kai.frontends.web"),
    ("mehko-api-setup", "x", "systems.mehko.hosts.api"),             # the setup steps' own names
])
def test_two_systems_whose_resource_names_meet_are_refused(system: str, host_name: str, clashes_with: str) -> None:
    """A resource's URN holds its name and type, not its system: names two systems build alike are one."""
    def renamed(config: dict) -> None:
        rename_system(config, "productivity", system)
        rename_host(config, system, "app", host_name)

    message = refusal(renamed, f"systems.{system}.hosts.{host_name}")
    assert message is not None and clashes_with in message, message


@pytest.mark.parametrize("system", ["material", "mehkoapi", "api-mehko", "kai", "mehko2"])
def test_systems_whose_names_only_look_alike_are_fine(system: str) -> None:
    def renamed(config: dict) -> None:
        rename_system(config, "productivity", system)

    assert refusal(renamed, f"systems.{system}.hosts.app") is None


@pytest.mark.parametrize("written,read", [
    ("1.10", 1.1), ("0644", 420), ("0x1F", 31), ("1_000", 1000), ("8080", 8080), ("True", True), ("false", False),
    ("2024-01-02", "2024-01-02 00:00:00 +0000 UTC"), ("2024-01-02T10:00:00Z", "2024-01-02 10:00:00 +0000 UTC"),
    ("2024-01-02T03:04:05+02:00", "2024-01-02 03:04:05 +0200 +0200"),
    ("2024-01-02T03:04:05.123-05:30", "2024-01-02 03:04:05.123 -0530 -0530"),
    ("2024-01-02T03:04:05+04:00", "2024-01-02 03:04:05 +0400 +04"),
])
def test_a_value_yaml_reads_as_something_else_is_refused_quote_it(written: str, read: object) -> None:
    """What the CLI (Go's YAML) hands the program for an unquoted value: the text written is gone, so the
    value is refused wherever a value is text (env, files, secrets), never passed on rewritten."""
    for where, path in ((lambda c: productivity(c)["services"]["flask-backend"]["env"],
                         "systems.productivity.services.flask-backend.env.X"),
                        (lambda c: pages(c)["env"]["production"], "systems.mehko.frontends.web.env.production.X")):
        message = refusal(lambda c, w=where: w(c).update(X=read), path)
        assert message is not None and "quote" in message, (written, path, message)
    assert refusal(lambda c: productivity(c)["services"]["flask-backend"]["env"].update(X=written),
                   "systems.productivity.services.flask-backend.env.X") is None


def test_a_text_or_mail_record_beside_a_frontend_s_domain_is_fine() -> None:
    for kind, content in (("TXT", "v=spf1 -all"), ("MX", "10 mail.example.com")):
        assert refusal(lambda c, k=kind, t=content: records(c).append(
            {"zone": "mehko.ai", "name": "@", "type": k, "content": t}), "systems.mehko.dns.records[1]") is None


@pytest.mark.parametrize("paths,index,fragment", [
    (["/srv/a_b", "/srv/a/b"], 1, "both archived as srv_a_b.tar.gz"),
    (["/"], 0, "the system's own file systems"),
    (["/proc"], 0, "the system's own file systems"),
    (["/run/app"], 0, "the system's own file systems"),
    (["/var"], 0, "inside the backup directory"),
    (["/var/backups"], 0, "inside the backup directory"),
    (["/var/backups/stackyard/x"], 0, "inside the backup directory"),
])
def test_a_backup_path_that_overwrites_another_or_grows_without_end_is_refused(paths: list[str], index: int,
                                                                              fragment: str) -> None:
    """/srv/a_b and /srv/a/b were one archive, the second over the first; /var archived the runs it keeps
    (five runs of 1 MB of data grew to 120 MB)."""
    message = refusal(lambda c: productivity(c)["hosts"]["app"]["backups"].update(paths=paths),
                      f"systems.productivity.hosts.app.backups.paths[{index}]")
    assert message is not None and fragment in message, message


def test_backup_paths_of_their_own_are_fine() -> None:
    assert refusal(lambda c: productivity(c)["hosts"]["app"]["backups"].update(
        paths=["/srv/a_b", "/srv/a-b", "/var/www/uploads", "/opt/app/data"]),
        "systems.productivity.hosts.app.backups.paths[0]") is None


@pytest.mark.parametrize("name", ["stackyard.conf", "stackyard", "stackyard.conf.new", "stackyard-old.conf",
                                  "stackyard_acme"])
def test_an_nginx_never_replaces_stackyard_s_own_files(name: str) -> None:
    """proxy.replaces disables the files it names in the reload that enables stackyard's site: naming
    stackyard.conf (sites-enabled/ and conf.d/ hold it) took every site of the host offline."""
    message = refusal(lambda c: productivity(c)["hosts"]["app"]["proxy"].update(replaces=[name]),
                      "systems.productivity.hosts.app.proxy.replaces[0]")
    assert message is not None and "stackyard's own" in message, message


@pytest.mark.parametrize("name", ["productivity", "default", "productivity.conf", "my-stackyard.conf"])
def test_an_nginx_replaces_the_old_sites_it_names(name: str) -> None:
    assert refusal(lambda c: productivity(c)["hosts"]["app"]["proxy"].update(replaces=[name]),
                   "systems.productivity.hosts.app.proxy.replaces[0]") is None


@pytest.mark.parametrize("mutate", [
    lambda c: c.update({"stackyard:sshAllowFrom": ["198.51.100.0/24"]}),
    lambda c: c.update({"stackyard:sshAllowFrom": ["198.51.100.0/24", "2001:db8::/32"]}),
    # Every host has a list of its own: the stack's, empty, is no host's.
    lambda c: (c.update({"stackyard:sshAllowFrom": []}),
               *(h.setdefault("access", {}).update(sshAllowFrom=["198.51.100.0/24"])
                 for s in systems(c).values() for h in s["hosts"].values())),
    # A server dialled by name: the family it is reached over is not known here.
    lambda c: productivity(c)["hosts"]["app"].update(address="app.productivity.example.com")
    or productivity(c)["hosts"]["app"]["access"].update(sshAllowFrom=["2001:db8::/32"]),
    lambda c: productivity(c)["hosts"]["app"].update(address="2001:db8::10")
    or productivity(c)["hosts"]["app"]["access"].update(sshAllowFrom=["2001:db8::/32"]),
    # Nothing connects to an existing server stackyard does not provision.
    lambda c: not_provisioned(productivity(c))
    or productivity(c)["hosts"]["app"]["access"].update(sshAllowFrom=["2001:db8::/32"]),
    lambda c: host(c)["access"].update(sshAllowFrom=["198.51.100.0/24", "::/0", "::/96", "::1/128", "64:ff9b::/96"]),
    # An existing server's list reaches only its ufw: without one, the list filters nothing (round 22).
    lambda c: productivity(c)["hosts"]["app"].update(ufw=False)
    or productivity(c)["hosts"]["app"]["access"].update(sshAllowFrom=["2001:db8::/32"]),
], ids=["v4", "v4 and v6", "hosts' own", "by name", "v6 to v6", "not provisioned", "v6 forms ufw writes alike",
        "existing without ufw"])
def test_ssh_lists_that_reach_stackyard_are_fine(mutate: Mutation) -> None:
    assert problems_after(mutate) == []


def test_a_value_the_reader_could_not_take_is_reported_once_by_what_was_written() -> None:
    """A TXT record's content YAML read as a date reached the rules as no content at all, and they added
    "required: the record's content" beside "quote the value": the second word sent the operator looking
    for a content that is there."""
    problems = problems_after(lambda c: records(c).append({"zone": "mehko.ai", "name": "_v", "type": "TXT",
                                                           "content": "2024-01-02 00:00:00 +0000 UTC"}))
    assert [message for path, message in problems if path == "systems.mehko.dns.records[1].content"] == [
        "YAML read a date here and wrote it as '2024-01-02 00:00:00 +0000 UTC': quote the value"]


@pytest.mark.parametrize("mutate", [
    # The records moved with the service.
    lambda c: moved_to_a_new_host(c) or [r.update(host="mivaa2") for r in records(c, "material-kai")],
    # Another system's record holding this server's address.
    lambda c: records(c).append({"zone": "mehko.ai", "name": "shop", "type": "A", "content": "203.0.113.10"})
    or productivity(c)["services"]["flask-backend"]["hostnames"].append("shop.mehko.ai"),
    # An address the stack does not know (a load balancer's, a proxy's): not for stackyard to judge.
    lambda c: records(c).append({"zone": "mehko.ai", "name": "shop", "type": "A", "content": "198.51.100.80"})
    or systems(c)["mehko"]["services"]["api-gateway"]["hostnames"].append("shop.mehko.ai"),
    # A server stackyard does not provision (a load balancer passing TLS through to the host): as an unknown
    # address (round 22).
    lambda c: productivity(c)["hosts"].update(lb={"provider": "existing", "address": "203.0.113.50",
                                                  "provision": False})
    or records(c).append({"zone": "mehko.ai", "name": "shop", "type": "A", "content": "203.0.113.50"})
    or productivity(c)["services"]["flask-backend"]["hostnames"].append("shop.mehko.ai"),
], ids=["records moved too", "another system's record", "an unknown address", "a front without a proxy"])
def test_hostnames_whose_records_point_at_their_host_or_elsewhere_are_fine(mutate: Mutation) -> None:
    assert problems_after(mutate) == []
