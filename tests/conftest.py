import sys
from pathlib import Path

from helpers.postgres import postgres_fixture

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# A throwaway PostgreSQL server for the whole run (tests/helpers/postgres.py): skips where it is not installed.
postgres = postgres_fixture(scope="session", name="postgres")
