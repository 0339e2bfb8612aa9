"""The sample's release phase (stackyard's `release:`): creates its table once, records each release it
ran for, and says where it connected, as migration tools do (the deploy's log masks the URL's secret)."""

import os
import sys

import pymysql
from app import VERSION, mysql_login

print(f"migrating release {VERSION} on {os.environ.get('DATABASE_URL', '(MYSQL_* variables)')}", flush=True)
if os.environ.get("MIGRATION_FAILS") or "fail" in sys.argv[1:]:
    print("error: relation 'orders' does not exist", file=sys.stderr)
    sys.exit(3)
connection = pymysql.connect(**mysql_login(), connect_timeout=5)
with connection, connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS migrations (id INT AUTO_INCREMENT PRIMARY KEY, "
                   "version VARCHAR(32) NOT NULL, ran_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)")
    cursor.execute("INSERT INTO migrations (version) VALUES (%s)", (VERSION,))
    connection.commit()
print(f"migrated release {VERSION}", flush=True)
