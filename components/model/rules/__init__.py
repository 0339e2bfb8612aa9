"""Rules that span fields: cross-references, duplicates, clashes and provider constraints, one module a
section of the stack file (hosts, dns, frontends, github, services, supabase) and one for the whole stack.

They run on whatever the reader could parse (fields it could not read are None) so that one
pass reports every problem: ``check`` returns them all.
"""

from .addresses import fqdn, has_ipv6
from .findings import Findings, RuntimeRules, SecretLookup, SecretState
from .stack import check

__all__ = ["Findings", "RuntimeRules", "SecretLookup", "SecretState", "check", "fqdn", "has_ipv6"]
