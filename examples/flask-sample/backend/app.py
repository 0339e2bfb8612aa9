"""A Flask API in the shape of seed 003's flask-backend: PM2 runs it under gunicorn, with MySQL
(MariaDB) and Redis on the same host. /health is healthy only when both accept its passwords, given as
connection URLs (DATABASE_URL, REDIS_URL) or as separate variables (seed 003's MYSQL_*, REDIS_PASSWORD)."""

import logging
import os
from urllib.parse import unquote, urlsplit

import pymysql
import redis
from flask import Flask, jsonify, request

VERSION = "1"

app = Flask(__name__)

# Seed 004's LOG_FILE: one line per request, appended (the file is rotated by copy and truncate).
if os.environ.get("LOG_FILE"):
    logging.basicConfig(filename=os.environ["LOG_FILE"], level=logging.INFO,
                        format="%(asctime)s %(process)d %(message)s")


@app.after_request
def log_request(response):
    logging.getLogger("requests").info("%s %s %s", request.method, request.path, response.status_code)
    return response


def mysql_login() -> dict:
    """DATABASE_URL (mysql://user:password@host:port/database, each part percent-encoded) when set, as
    stackyard's `{accessory: mysql, output: url}` gives it; else the MYSQL_* variables."""
    if "DATABASE_URL" in os.environ:
        url = urlsplit(os.environ["DATABASE_URL"])
        return {"host": url.hostname, "port": url.port or 3306, "user": unquote(url.username or ""),
                "password": unquote(url.password or ""), "database": unquote(url.path.lstrip("/"))}
    return {"host": os.environ.get("MYSQL_HOST", "127.0.0.1"), "user": os.environ["MYSQL_USER"],
            "password": os.environ["MYSQL_PASSWORD"], "database": os.environ["MYSQL_DATABASE"]}


def mysql_ok() -> str | None:
    try:
        connection = pymysql.connect(**mysql_login(), connect_timeout=3)
        with connection, connection.cursor() as cursor:
            cursor.execute("select 1")
        return None
    except Exception as err:  # the kind of failure only: never a password
        return type(err).__name__


def redis_ok() -> str | None:
    try:
        if "REDIS_URL" in os.environ:  # redis-py decodes the URL's percent-encoded password itself
            client = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=3)
        else:
            client = redis.Redis(host="127.0.0.1", port=6379, password=os.environ["REDIS_PASSWORD"], socket_timeout=3)
        client.ping()
        return None
    except Exception as err:
        return type(err).__name__


@app.get("/health")
def health():
    problems = {name: error for name, error in (("mysql", mysql_ok()), ("redis", redis_ok())) if error}
    body = {"status": "ok" if not problems else "failing", "version": VERSION, "problems": problems,
            "instance": os.environ.get("PORT")}
    return jsonify(body), 200 if not problems else 503


@app.get("/")
def index():
    return jsonify(service="flask-sample", version=VERSION)


@app.post("/upload")
def upload():
    """Takes a file as the request body (seed 004's PDF uploads): how the proxy's body limit is tested."""
    return jsonify(received=len(request.get_data()))
