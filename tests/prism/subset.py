"""Cuts a vendor's API description down to the operations a target uses,
with every component or definition they refer to, unchanged. The full
descriptions are megabytes; Prism validates against the part kept as test
data beside each fake.

Usage: subset.py FULL.json OUT.json PATH...
  tests/github/api.github.com.json:
    npm install @octokit/openapi@23.0.2 && python3 subset.py \\
      node_modules/@octokit/openapi/generated/api.github.com.json ../github/api.github.com.json \\
      /repos/{owner}/{repo}/actions/secrets/public-key /repos/{owner}/{repo}/actions/secrets/{secret_name} \\
      /repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key \\
      /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name} \\
      /orgs/{org}/actions/secrets/public-key /orgs/{org}/actions/secrets/{secret_name}
  tests/kubernetes/kubernetes.json (Kubernetes' swagger.json of v1.13.4, as
  npm's kubernetes-client 9.0.0 ships it in lib/specs):
    npm install kubernetes-client@9.0.0 && gunzip -k node_modules/kubernetes-client/lib/specs/swagger-1.13.json.gz &&
    python3 subset.py node_modules/kubernetes-client/lib/specs/swagger-1.13.json ../kubernetes/kubernetes.json \\
      /api/ /api/v1/ /apis/ /apis/apps/v1/ /version/ \\
      /api/v1/namespaces/{namespace}/secrets /api/v1/namespaces/{namespace}/secrets/{name} \\
      /apis/apps/v1/namespaces/{namespace}/deployments /apis/apps/v1/namespaces/{namespace}/deployments/{name}
"""
import json
import sys

source, out, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
full = json.load(open(source))
# The description's header (Swagger 2 keeps its security scheme there), then
# the paths and what they refer to: OpenAPI 3's `components`, Swagger 2's
# `definitions`.
HEADER = ("openapi", "swagger", "info", "servers", "externalDocs", "securityDefinitions", "security")
subset = {key: full[key] for key in HEADER if key in full}
subset["info"]["x-rekey-subset"] = "the operations of " + ", ".join(paths) + f", from {source.split('node_modules/')[-1]}"
subset["paths"] = {path: full["paths"][path] for path in paths}
# Kubernetes names its discovery paths with a trailing slash (`/api/`) and
# serves them without (`/api`), which is what kubectl asks for: both kept.
for path in paths:
    if path.endswith("/") and path != "/":
        subset["paths"][path.rstrip("/")] = full["paths"][path]
referred = {}


def refer(node):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            parts = ref[2:].split("/")
            target, at = full, referred
            for part in parts[:-1]:
                target, at = target[part], at.setdefault(part, {})
            if parts[-1] not in at:
                at[parts[-1]] = target[parts[-1]]
                refer(at[parts[-1]])
        for value in node.values():
            refer(value)
    elif isinstance(node, list):
        for value in node:
            refer(value)


refer(subset["paths"])
subset.update(referred)
json.dump(subset, open(out, "w"), indent=1, sort_keys=True)
print(f"{len(paths)} paths, {sum(len(v) for v in referred.values())} referred")
