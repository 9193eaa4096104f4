"""`fengqiao bench intake --seconds 30 --concurrency 32`: the REST intake under load, against a trivial endpoint.

1. A scratch installation in a temporary folder (SQLite, or ``--database-url`` for PostgreSQL — an empty,
   throw-away database): migrations, the county demo (areas, grids, centres), one county centre-staff user
   with an API token.
2. gunicorn serves it on 127.0.0.1 (``--workers``, ``--threads``). The default is the deployment we recommend for
   this CPU-bound API: ``sync`` workers, one per core (measured: with 2 cores, 2 workers answer more, and sooner,
   than 3 or 4, which only take turns on the same cores; a database on another host, whose queries wait on the
   network, can use one or two more). Each worker takes a connection only when it is
   free, so requests wait in the kernel's accept queue in arrival order; ``gthread`` workers pin keep-alive
   connections to a worker, and a worker that happens to hold more of them answers them later (a long tail).
3. ``--concurrency`` client threads, each with its own keep-alive connection, call ``GET /healthz`` for
   ``--health-seconds`` and then ``POST /api/v1/matters/`` for ``--seconds`` (a realistic snap report: title,
   description, a point in the county, a client token). Latencies are measured per request.
4. Every 2xx intake answer names a matter: the bench checks that each one is in the database (and that no
   other bench matter is), so a lost write is caught.

The last line: ``intake: N matters/s, p99 X ms (ratio R to the health endpoint)`` where R is intake throughput
over health-endpoint throughput measured the same way in the same run.
"""

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SETUP = r"""
import json, random
from django.contrib.auth.models import Permission
from fengqiao.accounts.models import Role, User
from fengqiao.accounts.services import grant_area_role
from fengqiao.areas.models import Area, Grid
from fengqiao.security.services.tokens import issue

county = Area.objects.get(code=Grid.objects.order_by("id").first().area.ancestor_codes()[2])
user, _ = User.objects.get_or_create(username="bench-intake")
grant_area_role(actor="bench", user=user, area=county, role=Role.CENTRE_STAFF)
for codename in ("add_matter", "view_matter"):
    user.user_permissions.add(Permission.objects.get(content_type__app_label="matters", codename=codename))
_token, token = issue(actor="bench", user=user, name="bench")
grids = Grid.objects.filter(area__path__startswith=county.path)
grids = list(grids.values_list("min_lon", "min_lat", "max_lon", "max_lat")[:500])
print(json.dumps({"token": token, "county": county.code, "boxes": grids}))
"""

VERIFY = r"""
import json, sys
from fengqiao.matters.models import Matter
ids = set(json.load(open(sys.argv[-1])))
found = set(Matter.objects.filter(pk__in=ids).values_list("pk", flat=True))
total = Matter.objects.filter(client_token__startswith="bench-").count()
print(json.dumps({"missing": len(ids - found), "found": len(found), "bench_rows": total}))
"""


def add_arguments(parser):
    parser.add_argument("--seconds", type=float, default=30, help="intake phase length (default 30)")
    parser.add_argument("--health-seconds", type=float, default=None, help="health phase (default: seconds / 3)")
    parser.add_argument("--concurrency", type=int, default=32, help="client threads (default 32)")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: one per core)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"], help="gunicorn workers")
    parser.add_argument("--database-url", default="", help="an EMPTY throw-away PostgreSQL database to use")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manage(env, *args, stdin=None, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "fengqiao.cli", *args], env=env, input=stdin, capture_output=True, text=True
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"fengqiao {' '.join(args[:2])} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result.stdout


class Client(threading.Thread):
    def __init__(self, port, phase, token, boxes, stop_at, seed):
        super().__init__(daemon=True)
        self.port, self.phase, self.token, self.boxes, self.stop_at = port, phase, token, boxes, stop_at
        self.random = random.Random(seed)
        self.seed = seed
        self.latencies, self.ok, self.errors, self.ids = [], 0, {}, []

    def _connect(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def _body(self, n):
        box = self.random.choice(self.boxes) if self.boxes else (113.4, 23.8, 113.6, 24.0)
        lon = self.random.uniform(box[0], box[2])
        lat = self.random.uniform(box[1], box[3])
        return json.dumps(
            {
                "channel": "snap",
                "title": "路灯不亮",
                "description": f"村口第{n}盏路灯晚上不亮，影响出行安全。",
                "lon": round(lon, 6),
                "lat": round(lat, 6),
                "client_token": f"bench-{self.seed}-{n}",
            },
            ensure_ascii=False,
        ).encode()

    def run(self):
        conn = self._connect()
        n = 0
        while time.perf_counter() < self.stop_at:
            n += 1
            if self.phase == "health":
                method, path, body, headers = "GET", "/healthz", None, {}
            else:
                method, path, body = "POST", "/api/v1/matters/", self._body(n)
                headers = {"Authorization": f"Token {self.token}", "Content-Type": "application/json"}
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
                conn.close()
                conn = self._connect()
                continue
            self.latencies.append(time.perf_counter() - started)
            if 200 <= response.status < 300:
                self.ok += 1
                if self.phase == "intake":
                    self.ids.append(json.loads(payload)["id"])
            else:
                key = f"HTTP {response.status}"
                self.errors[key] = self.errors.get(key, 0) + 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = self._connect()
        conn.close()


def _cpu_seconds(root_pid):
    """User + system CPU seconds of `root_pid` and its children (the gunicorn workers), from /proc (Linux)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    try:
        pids = [root_pid] + [int(p) for p in Path(f"/proc/{root_pid}/task/{root_pid}/children").read_text().split()]
    except OSError:
        return None
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _phase(out, name, port, token, boxes, seconds, concurrency, server_pid=None):
    stop_at = time.perf_counter() + seconds
    clients = [Client(port, name, token, boxes, stop_at, seed=i) for i in range(concurrency)]
    server_cpu = _cpu_seconds(server_pid) if server_pid else None
    client_cpu = time.process_time()
    started = time.perf_counter()
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu
    if server_cpu is not None:
        server_cpu = _cpu_seconds(server_pid) - server_cpu
    latencies = sorted(x for c in clients for x in c.latencies)
    ok = sum(c.ok for c in clients)
    errors = {}
    for c in clients:
        for k, v in c.errors.items():
            errors[k] = errors.get(k, 0) + v
    p = (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000) if latencies else (lambda q: 0)
    rate = ok / elapsed
    done = max(1, sum(len(c.latencies) for c in clients))
    cpu = f"; CPU per request: client {client_cpu / done * 1000:.2f} ms"
    if server_cpu is not None:
        cpu += f", server {server_cpu / done * 1000:.2f} ms"
    out(
        f"{name}: {ok} ok in {elapsed:.1f} s = {rate:.0f}/s; p50 {p(0.5):.1f} ms, p90 {p(0.9):.1f} ms, "
        f"p99 {p(0.99):.1f} ms, max {p(1.0):.1f} ms; errors {errors or 'none'}{cpu}"
    )
    return rate, p(0.99), [i for c in clients for i in c.ids], errors


def run(
    out,
    *,
    seconds=30,
    health_seconds=None,
    concurrency=32,
    workers=None,
    threads=4,
    worker_class="sync",
    database_url="",
    keep=False,
    **_,
):
    scratch = Path(tempfile.mkdtemp(prefix="fengqiao-bench-intake-"))
    env = {**os.environ, "FENGQIAO_DATA_DIR": str(scratch), "FENGQIAO_KEY_DIR": str(scratch / "keys")}
    env.pop("FENGQIAO_DATABASE_URL", None)
    if database_url:
        env["FENGQIAO_DATABASE_URL"] = database_url
    env["FENGQIAO_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    env["FENGQIAO_DEBUG"] = "0"
    workers = workers or os.cpu_count() or 1
    threads = threads if worker_class == "gthread" else 1  # gunicorn turns sync workers with threads into gthread
    server = log = None
    try:
        t0 = time.perf_counter()
        _manage(env, "migrate", "--noinput")
        _manage(env, "demo", "--no-serve")
        setup = json.loads(_manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
        kind = "PostgreSQL" if database_url else "SQLite"
        out(f"setup: scratch {scratch} ({kind}) in {time.perf_counter() - t0:.1f} s")
        port = _free_port()
        log = (scratch / "gunicorn.log").open("w")
        server = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "fengqiao.wsgi",
                "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
                "--worker-class", worker_class, "--keep-alive", "30", "--backlog", "2048",
                "--log-level", "warning", "--preload",
            ],
            env=env, stdout=subprocess.DEVNULL, stderr=log,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.time() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise RuntimeError(f"gunicorn did not start; see {scratch / 'gunicorn.log'}")
            time.sleep(0.2)
        out(f"server: gunicorn on 127.0.0.1:{port}, {workers} workers x {threads} threads ({worker_class})")
        # Warm every worker up (the first locate in a process builds its index).
        _phase(lambda line: None, "intake", port, setup["token"], setup["boxes"], 2.0, concurrency)
        health_rate, _hp99, _ids, _errors = _phase(
            out,
            "health",
            port,
            setup["token"],
            setup["boxes"],
            health_seconds or max(seconds / 3, 3),
            concurrency,
            server.pid,
        )
        rate, p99, ids, errors = _phase(
            out, "intake", port, setup["token"], setup["boxes"], seconds, concurrency, server.pid
        )
        ids_file = scratch / "ids.json"
        ids_file.write_text(json.dumps(ids))
        check = json.loads(
            _manage(env, "shell", "-c", VERIFY.replace("sys.argv[-1]", repr(str(ids_file)))).strip().splitlines()[-1]
        )
        out(
            f"check: {len(ids)} matters answered 2xx, {check['found']} found in the database, "
            f"{check['missing']} missing; {check['bench_rows']} bench matters in all (warm-up included)"
        )
        if check["missing"] or len(set(ids)) != len(ids):
            out("LOST WRITES: some 2xx answers name matters that are not in the database")
        out(f"intake: {rate:.0f} matters/s, p99 {p99:.0f} ms (ratio {rate / health_rate:.2f} to the health endpoint)")
        return {"rate": rate, "p99": p99, "health_rate": health_rate, "missing": check["missing"], "errors": errors}
    finally:
        if log is not None:
            log.close()
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if keep:
            out(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
