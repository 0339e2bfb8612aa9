"""Service plans in the shape of the seed systems, for the renderer tests."""

from __future__ import annotations

from components.render.layout import Paths, ServicePlan


def seed_plans(paths: Paths = Paths()) -> dict[str, list[ServicePlan]]:
    """host kind -> the services on it: mehko (compose + caddy), productivity (pm2 + nginx),
    material kai (systemd + nginx, three instances)."""
    return {
        "compose": [
            ServicePlan(name="api-gateway", runtime="compose", repo="https://github.com/mehko-ai/mehko-ai.git",
                        ref="main", port=3001, hostnames=("api.mehko.ai",), env_keys=("FIREBASE_PROJECT_ID",),
                        paths=paths),
            ServicePlan(name="ai-server", runtime="compose", repo="https://github.com/mehko-ai/mehko-ai.git",
                        ref="main", port=3000, env_keys=("OPENAI_API_KEY",), paths=paths),
            ServicePlan(name="fastapi-worker", runtime="compose", repo="https://github.com/mehko-ai/mehko-ai.git",
                        ref="main", port=8000, files=("/app/config/serviceAccountKey.json",), paths=paths),
        ],
        "pm2": [
            ServicePlan(name="flask-backend", runtime="pm2", language="python",
                        repo="https://github.com/example/productivity-system.git", ref="main",
                        command=".venv/bin/gunicorn --chdir backend --bind 127.0.0.1:$PORT app:app",
                        install=("uv pip install --python .venv/bin/python -r backend/requirements.txt gunicorn",),
                        port=5000, hostnames=("productivity.example.com",), paths=paths),
            ServicePlan(name="podfactory-sync", runtime="pm2", language="python",
                        repo="https://github.com/example/productivity-system.git", ref="main",
                        command=".venv/bin/python backend/sync_wrapper.py", health_path=None, paths=paths),
        ],
        "systemd": [
            ServicePlan(name="mivaa", runtime="systemd", language="python",
                        repo="https://github.com/creativeghq/mivaa-pdf-extractor.git", ref="main",
                        command=".venv/bin/uvicorn app.main:app --host 127.0.0.1 --port $PORT",
                        port=8000, instances=3, hostnames=("v1api.materialshub.gr",),
                        env_keys=("OPENAI_API_KEY", "SUPABASE_URL"), paths=paths),
        ],
    }
