"""A stateful fake Kubernetes API server: discovery, Secrets and Deployments,
as Kubernetes' own API description (kubernetes.json) describes them;
tests/it/kubernetes.rs puts Prism in front of it, which validates every
request and response against that description, and drives it with the real
kubectl as well as with the kubernetes-secret target.

What it keeps of the API server's behaviour is what a client can tell
apart: a bearer token, one resourceVersion counter for every write, a PUT
with a stale resourceVersion refused with 409 Conflict, a create of an
existing name refused with 409 AlreadyExists, merge patches (the strategic
merge patch of a map is a merge patch), and a Deployment whose pod template
changed rolling out at once (a new generation, observed and updated).

GET /_fake/state (not through Prism) returns every Secret's data decoded
and every Deployment's rollout count, for the tests to read; POST
/_fake/interfere/N makes another writer change each of the next N Secrets
read, right after the read (its resourceVersion moves on), so that a write
made with what was read meets a 409 Conflict.

Usage: fake.py PORT TOKEN"""
import base64
import copy
import os
import re
import sys
import time
import uuid
from threading import Lock
from urllib.parse import urlsplit

# tests/prism/fake_server.py: what every vendor fake shares.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "prism"))
from fake_server import Handler, serve  # noqa: E402

port, token = int(sys.argv[1]), sys.argv[2]
lock = Lock()
version = [1000]
# (kind, namespace, name) -> object
objects = {}
# (namespace, name) -> how many times the Deployment's pod template changed
rollouts = {}
# How many more Secret reads another writer follows with a change.
interfering = [0]

RESOURCES = {
    "v1": [("secrets", "secret", "Secret")],
    "apps/v1": [("deployments", "deployment", "Deployment")],
}
VERBS = ["create", "delete", "get", "list", "patch", "update"]
OBJECT = re.compile(r"^/(?:api/v1|apis/apps/v1)/namespaces/([^/]+)/(secrets|deployments)(?:/([^/]+))?$")
NAMESPACE = re.compile(r"^/api/v1/namespaces/([^/]+)$")
KINDS = {"secrets": ("Secret", "v1"), "deployments": ("Deployment", "apps/v1")}


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def status(code, reason, message):
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}


def merge(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    target = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge(target.get(key), value)
    return target


def stored(kind, namespace, body, old=None):
    """`body` as the server keeps it: metadata filled in, stringData folded
    into data, a Deployment's generation and status brought up to date."""
    body = copy.deepcopy(body)
    meta = body.setdefault("metadata", {})
    version[0] += 1
    meta.update(namespace=namespace, resourceVersion=str(version[0]))
    meta["uid"] = old["metadata"]["uid"] if old else str(uuid.uuid4())
    meta["creationTimestamp"] = old["metadata"]["creationTimestamp"] if old else now()
    body["kind"], body["apiVersion"] = KINDS[kind]
    if kind == "secrets":
        body.setdefault("type", "Opaque")
        for key, value in (body.pop("stringData", None) or {}).items():
            body.setdefault("data", {})[key] = base64.b64encode(value.encode()).decode()
    else:
        generation = old["metadata"].get("generation", 1) if old else 1
        template_changed = old is None or old["spec"].get("template") != body["spec"].get("template")
        if old is not None and template_changed:
            generation += 1
            rollouts[(namespace, meta["name"])] = rollouts.get((namespace, meta["name"]), 0) + 1
        meta["generation"] = generation
        replicas = body["spec"].setdefault("replicas", 1)
        body["status"] = {"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                          "readyReplicas": replicas, "availableReplicas": replicas}
    return body


def discovery(path):
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{port}"}]}
    if path == "/apis":
        apps = {"groupVersion": "apps/v1", "version": "v1"}
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [{"name": "apps", "versions": [apps], "preferredVersion": apps}]}
    if path == "/version":
        return {"major": "1", "minor": "13", "gitVersion": "v1.13.4-rekey-fake", "gitCommit": "",
                "gitTreeState": "clean", "buildDate": "2019-02-28T13:30:26Z", "goVersion": "go1.11.5",
                "compiler": "gc", "platform": "linux/amd64"}
    for group, resources in RESOURCES.items():
        if path == ("/api/" if group == "v1" else "/apis/") + group:
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group, "resources": [
                {"name": name, "singularName": singular, "namespaced": True, "kind": kind, "verbs": VERBS}
                for name, singular, kind in resources]}
    return None


class Fake(Handler):
    def json_body(self):
        """Whether the request's body is JSON: kubectl's typed commands send
        protobuf, which this fake does not speak (`kubectl create -f` sends
        JSON)."""
        kind = self.headers.get("content-type", "application/json").split(";")[0]
        return kind == "application/json" or kind.endswith("+json")

    def route(self):
        path = urlsplit(self.path).path.rstrip("/")
        if path.startswith("/_fake/interfere/"):
            interfering[0] = int(path.rsplit("/", 1)[1])
            return self.reply(200, {"interfering": interfering[0]})
        if path == "/_fake/state":
            with lock:
                return self.reply(200, {
                    "secrets": {f"{ns}/{name}": {k: base64.b64decode(v).decode() for k, v in (o.get("data") or {}).items()}
                                for (kind, ns, name), o in objects.items() if kind == "secrets"},
                    "rollouts": {f"{ns}/{name}": count for (ns, name), count in rollouts.items()},
                })
        if self.headers.get("authorization") != f"Bearer {token}":
            return self.reply(*status(401, "Unauthorized", "Unauthorized"))
        found = discovery(path)
        if found is not None and self.command == "GET":
            return self.reply(200, found)
        namespace = NAMESPACE.match(path)
        if namespace and self.command == "GET":
            # Every namespace exists (kubectl asks, to explain a NotFound).
            return self.reply(200, {"kind": "Namespace", "apiVersion": "v1", "metadata": {
                "name": namespace.group(1), "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, namespace.group(1))),
                "resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Active"}})
        match = OBJECT.match(path)
        if not match:
            return self.reply(*status(404, "NotFound", f"the server could not find the requested resource {path}"))
        if self.command in ("POST", "PUT", "PATCH") and not self.json_body():
            return self.reply(*status(415, "UnsupportedMediaType", "this fake reads JSON bodies only"))
        with lock:
            return self.reply(*self.act(*match.groups()))

    def act(self, namespace, kind, name):
        key = (kind, namespace, name)
        held = objects.get(key)
        singular = KINDS[kind][0].lower()
        missing = status(404, "NotFound", f'{kind} "{name}" not found')
        if name is None:
            if self.command == "GET":
                items = [o for (k, ns, _), o in sorted(objects.items()) if k == kind and ns == namespace]
                return 200, {"kind": KINDS[kind][0] + "List", "apiVersion": KINDS[kind][1],
                             "metadata": {"resourceVersion": str(version[0])}, "items": items}
            if self.command == "POST":
                body = self.json()
                name = body.get("metadata", {}).get("name")
                if (kind, namespace, name) in objects:
                    return status(409, "AlreadyExists", f'{kind} "{name}" already exists')
                objects[(kind, namespace, name)] = stored(kind, namespace, body)
                return 201, objects[(kind, namespace, name)]
            return status(405, "MethodNotAllowed", f"{self.command} is not allowed on {kind}")
        if self.command == "GET":
            if held and kind == "secrets" and interfering[0] > 0:
                interfering[0] -= 1
                answer = copy.deepcopy(held)
                objects[key] = stored(kind, namespace, held, held)  # another writer's change
                return 200, answer
            return (200, held) if held else missing
        if self.command == "PUT":
            body = self.json()
            expected = body.get("metadata", {}).get("resourceVersion")
            if held is None:
                return missing
            if expected and expected != held["metadata"]["resourceVersion"]:
                return status(409, "Conflict", f'Operation cannot be fulfilled on {kind} "{name}": the object has been modified; please apply your changes to the latest version and try again')
            objects[key] = stored(kind, namespace, body, held)
            return 200, objects[key]
        if self.command == "PATCH":
            if held is None:
                return missing
            if self.headers.get("content-type", "").split(";")[0] not in (
                    "application/merge-patch+json", "application/strategic-merge-patch+json"):
                return status(415, "UnsupportedMediaType", "this fake applies merge patches only")
            objects[key] = stored(kind, namespace, merge(held, self.json()), held)
            return 200, objects[key]
        if self.command == "DELETE":
            if held is None:
                return missing
            del objects[key]
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                         "details": {"name": name, "kind": kind}}
        return status(405, "MethodNotAllowed", f"{self.command} is not allowed on a {singular}")



serve(port, Fake)
