#!/usr/bin/env python3
"""What a user of the API must never notice, checked through Kong on a molecule scenario's platform.

1. rollout: a new version of the app's pod template is rolled out (as a code change does: new ReplicaSet, every
   pod replaced) while a loop of reads and writes runs through Kong: zero failed requests.
2. app pod lost: one app pod is deleted while writes run: zero failed writes.
3. PostgreSQL primary lost: the pod labelled cnpg.io/instanceRole=primary is deleted while writes run; writes may
   fail while CloudNativePG fails over or restarts it, but every write the API acknowledged is listed afterwards.

With --while-absent STOP_FILE it only runs reads and writes until STOP_FILE exists, for work another process does
meanwhile (resources/upgrade.yml runs playbooks/upgrade.yml): zero failed requests, every acknowledged write listed.

Runs on the controller with the tooling venv (kubernetes client) and urllib; resources/verify.yml calls it with
the fetched kubeconfig and the base URL playbooks/verify.yml settled on. Exit 0 only if all three hold.
"""

import argparse
import datetime
import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

from kubernetes import client, config

APP_LABELS = "app.kubernetes.io/name=comments-api"
PRIMARY_LABELS = "cnpg.io/cluster={cluster},cnpg.io/instanceRole=primary"


def log(message: str) -> None:
    print(f"{datetime.datetime.now():%H:%M:%S} {message}", flush=True)


class Client:
    """The API as a client outside the cluster calls it: through Kong, a new connection per request.

    Over HTTPS the certificate is checked against ca_file (the CA the run produced), else the system's trust store.
    """

    def __init__(self, base_url: str, timeout: float, ca_file: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=ca_file or None) if base_url.startswith("https:") else None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.loads(error.read() or b"null")
            except ValueError:
                return error.code, None
        except (OSError, ValueError) as error:  # refused, reset, timed out, cut short
            return -1, f"{type(error).__name__}: {error}"


class Load:
    """Threads calling the API until stopped; every answer is recorded with its time."""

    def __init__(self, api: Client, content_id: str, writes_only: bool, threads: int = 2, pause: float = 0.05):
        self.api = api
        self.content_id = content_id
        self.writes_only = writes_only
        self.pause = pause
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.results: list[tuple[float, str, int, object]] = []  # (time, what, status, answer)
        self.acknowledged: dict[int, str] = {}  # comment id -> comment text, for every write answered SUCCESS
        self.counter = 0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(60)

    def _next(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def _run(self) -> None:
        while not self.stop_event.is_set():
            n = self._next()
            if self.writes_only or n % 2:
                text = f"resilience write {n}"
                status, answer = self.api.call(
                    "POST",
                    "/api/comment/new",
                    {"email": "resilience@example.com", "comment": text, "content_id": self.content_id},
                )
                ok = status == 200 and isinstance(answer, dict) and answer.get("status") == "SUCCESS"
                with self.lock:
                    self.results.append((time.monotonic(), "write", status if ok else -abs(status) or -1, answer))
                    if ok:
                        self.acknowledged[answer["id"]] = text
            else:
                status, answer = self.api.call("GET", f"/api/comment/list/{self.content_id}")
                # 404 until the first write lands is the API's right answer for a content without comments.
                ok = status == 200 or (
                    status == 404 and isinstance(answer, dict) and answer.get("status") == "NOT-FOUND"
                )
                with self.lock:
                    self.results.append((time.monotonic(), "read", status if ok else -abs(status) or -1, answer))
            time.sleep(self.pause)

    def failures(self, since: float = 0.0) -> list[tuple[float, str, int, object]]:
        with self.lock:
            return [r for r in self.results if r[2] < 0 and r[0] >= since]

    def count(self, since: float = 0.0, what: str | None = None, ok: bool | None = None) -> int:
        with self.lock:
            return sum(
                1
                for r in self.results
                if r[0] >= since and (what is None or r[1] == what) and (ok is None or (r[2] >= 0) == ok)
            )


def wait_for(predicate, timeout: float, what: str, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def describe(failures) -> str:
    shown = [
        f"{what} -> {'no answer' if status == -1 else 'HTTP ' + str(-status)}: {str(answer)[:120]}"
        for _, what, status, answer in failures[:5]
    ]
    more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
    return "; ".join(shown) + more


class Platform:
    def __init__(self, kubeconfig: str, namespace: str, deployment: str, cluster: str):
        api_client = config.new_client_from_config(config_file=kubeconfig)
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.namespace = namespace
        self.deployment = deployment
        self.cluster = cluster

    def app_pods(self) -> list:
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=APP_LABELS).items
        return [p for p in pods if p.metadata.deletion_timestamp is None]

    def deployment_settled(self) -> bool:
        d = self.apps.read_namespaced_deployment(self.deployment, self.namespace)
        s = d.status
        want = d.spec.replicas or 0
        return (
            (s.observed_generation or 0) >= d.metadata.generation
            and (s.updated_replicas or 0) == want
            and (s.replicas or 0) == want
            and (s.available_replicas or 0) == want
            and not s.unavailable_replicas
        )

    def primary(self):
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=PRIMARY_LABELS.format(cluster=self.cluster)
        ).items
        return next((p for p in pods if p.metadata.deletion_timestamp is None), None)

    def database_healthy(self) -> bool:
        c = self.custom.get_namespaced_custom_object(
            "postgresql.cnpg.io", "v1", self.namespace, "clusters", self.cluster
        )
        status = c.get("status", {})
        return status.get("readyInstances") == c["spec"]["instances"] and status.get("currentPrimary") == status.get(
            "targetPrimary"
        )


def check_rollout(platform: Platform, api: Client, timeout: float) -> list[str]:
    old = {p.metadata.name for p in platform.app_pods()}
    log(f"rollout: {len(old)} app pod(s) now ({', '.join(sorted(old))}); starting reads and writes through Kong")
    with Load(api, f"resilience-rollout-{uuid.uuid4().hex[:8]}", writes_only=False) as load:
        time.sleep(5)
        started = time.monotonic()
        # A new pod template, as a new image tag makes it: the Deployment rolls every pod over.
        stamp = datetime.datetime.now(datetime.UTC).isoformat()
        platform.apps.patch_namespaced_deployment(
            platform.deployment,
            platform.namespace,
            {"spec": {"template": {"metadata": {"annotations": {"infra.comments/resilience-rollout": stamp}}}}},
        )
        log("rollout: new pod template applied; waiting for every old pod to be replaced")
        wait_for(
            lambda: platform.deployment_settled() and not old & {p.metadata.name for p in platform.app_pods()},
            timeout,
            "the rollout to finish",
        )
        took = time.monotonic() - started
        time.sleep(5)
    new = {p.metadata.name for p in platform.app_pods()}
    failures = load.failures()
    log(
        f"rollout: done in {took:.0f} s; pods now {', '.join(sorted(new))}; "
        f"{load.count()} requests ({load.count(what='write')} writes), {len(failures)} failed"
    )
    if failures:
        return [f"rollout: {len(failures)} request(s) failed: {describe(failures)}"]
    if load.count(ok=True) < 20:
        return [f"rollout: only {load.count(ok=True)} requests answered; the loop did not really run"]
    return []


def check_pod_loss(platform: Platform, api: Client, timeout: float) -> list[str]:
    problems = []
    content_id = f"resilience-loss-{uuid.uuid4().hex[:8]}"
    log(f"loss: writes to content {content_id} through Kong")
    with Load(api, content_id, writes_only=True) as load:
        time.sleep(5)

        victim = sorted(platform.app_pods(), key=lambda p: p.metadata.name)[0].metadata.name
        app_started = time.monotonic()
        log(f"loss: deleting app pod {victim}")
        platform.core.delete_namespaced_pod(victim, platform.namespace)
        wait_for(
            lambda: platform.deployment_settled() and victim not in {p.metadata.name for p in platform.app_pods()},
            timeout,
            f"a replacement for {victim}",
        )
        time.sleep(5)
        app_failures = load.failures(since=app_started)
        log(f"loss: app pod replaced; {load.count(since=app_started)} writes since, {len(app_failures)} failed")
        if app_failures:
            problems.append(f"app pod loss: {len(app_failures)} write(s) failed: {describe(app_failures)}")

        primary = wait_for(platform.primary, 60, "a PostgreSQL pod labelled cnpg.io/instanceRole=primary")
        db_started = time.monotonic()
        log(f"loss: deleting PostgreSQL primary {primary.metadata.name} (uid {primary.metadata.uid})")
        platform.core.delete_namespaced_pod(primary.metadata.name, platform.namespace)
        wait_for(
            lambda: (
                (p := platform.primary()) is not None
                and p.metadata.uid != primary.metadata.uid
                and platform.database_healthy()
            ),
            timeout,
            "CloudNativePG to have a healthy primary again",
        )
        recovered = time.monotonic()
        new_primary = platform.primary().metadata.name
        # Writes must be acknowledged again after the recovery, not only before the loss.
        wait_for(
            lambda: load.count(since=recovered, what="write", ok=True) >= 20,
            120,
            "writes to be acknowledged again after the failover",
            interval=1,
        )
        db_failures = load.failures(since=db_started)
        log(
            f"loss: primary is now {new_primary} after {recovered - db_started:.0f} s; "
            f"{load.count(since=db_started)} writes since the deletion, {len(db_failures)} refused or unanswered "
            "(allowed while the database is away)"
        )
    acknowledged = dict(load.acknowledged)

    status, listed = api.call("GET", f"/api/comment/list/{content_id}")
    if status != 200 or not isinstance(listed, list):
        return problems + [f"loss: listing content {content_id} gave HTTP {status}: {str(listed)[:200]}"]
    listed_by_id = {c["id"]: c["comment"] for c in listed}
    missing = sorted(i for i in acknowledged if i not in listed_by_id)
    altered = sorted(i for i in acknowledged if i in listed_by_id and listed_by_id[i] != acknowledged[i])
    log(
        f"loss: {len(acknowledged)} writes acknowledged, {len(listed)} listed, "
        f"{len(missing)} missing, {len(altered)} altered"
    )
    if missing:
        problems.append(f"loss: {len(missing)} acknowledged write(s) are not listed: ids {missing[:20]}")
    if altered:
        problems.append(f"loss: {len(altered)} acknowledged write(s) are listed with another text: ids {altered[:20]}")
    if [c["id"] for c in listed] != sorted(c["id"] for c in listed):
        problems.append("loss: the list is not in the order the comments were written")
    return problems


def check_while(api: Client, stop_file: str, timeout: float) -> list[str]:
    """Reads and writes through Kong until stop_file exists (another process's work is under way, such as
    playbooks/upgrade.yml): zero failed requests, and every acknowledged write listed afterwards, with its text."""
    content_id = f"resilience-while-{uuid.uuid4().hex[:8]}"
    log(f"while: reads and writes to content {content_id} through Kong until {stop_file} exists")
    with Load(api, content_id, writes_only=False) as load:
        wait_for(lambda: os.path.exists(stop_file), timeout, f"{stop_file} (the end of the work)", interval=1)
        time.sleep(5)
    failures = load.failures()
    acknowledged = dict(load.acknowledged)
    log(f"while: {load.count()} requests ({load.count(what='write')} writes), {len(failures)} failed")
    problems = [f"while: {len(failures)} request(s) failed: {describe(failures)}"] if failures else []
    if load.count(ok=True) < 20:
        problems.append(f"while: only {load.count(ok=True)} requests answered; the loop did not really run")
    status, listed = api.call("GET", f"/api/comment/list/{content_id}")
    if status != 200 or not isinstance(listed, list):
        return problems + [f"while: listing content {content_id} gave HTTP {status}: {str(listed)[:200]}"]
    listed_by_id = {c["id"]: c["comment"] for c in listed}
    lost = sorted(i for i in acknowledged if listed_by_id.get(i) != acknowledged[i])
    log(f"while: {len(acknowledged)} writes acknowledged, {len(listed)} listed, {len(lost)} missing or altered")
    if lost:
        problems.append(f"while: {len(lost)} acknowledged write(s) are not listed as written: ids {lost[:20]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", help="required unless --while-absent")
    parser.add_argument(
        "--while-absent",
        metavar="STOP_FILE",
        help="only a request loop through Kong until STOP_FILE exists (molecule's upgrade step); no pod is touched",
    )
    parser.add_argument("--base-url", required=True, help="the API through Kong, e.g. https://192.168.57.200")
    parser.add_argument("--ca-file", help="CA certificate the edge's certificate chains to (empty: system store)")
    parser.add_argument("--namespace", default="comments")
    parser.add_argument("--deployment", default="comments-api")
    parser.add_argument("--cluster", default="comments-db", help="the CloudNativePG Cluster of the app")
    parser.add_argument("--timeout", type=float, default=600, help="seconds each rollout or recovery may take")
    parser.add_argument("--request-timeout", type=float, default=15)
    args = parser.parse_args()
    if not args.kubeconfig and not args.while_absent:
        parser.error("--kubeconfig is required (unless --while-absent)")

    api = Client(args.base_url, args.request_timeout, args.ca_file)
    status, answer = api.call("GET", "/api/comment/list/resilience-reachable")
    if status != 404:
        print(f"The API does not answer at {args.base_url}: HTTP {status} {answer}", file=sys.stderr)
        return 1

    problems = []
    if args.while_absent:
        try:
            problems += check_while(api, args.while_absent, args.timeout)
        except TimeoutError as error:
            problems.append(f"check_while: {error}")
    else:
        platform = Platform(args.kubeconfig, args.namespace, args.deployment, args.cluster)
        for check in (check_rollout, check_pod_loss):
            try:
                problems += check(platform, api, args.timeout)
            except TimeoutError as error:  # the platform did not recover in time: a failure, with what it waited for
                problems.append(f"{check.__name__}: {error}")
    for problem in problems:
        log(f"FAILED {problem}")
        print(problem, file=sys.stderr)
    log("all resilience checks passed" if not problems else f"{len(problems)} resilience check(s) failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
