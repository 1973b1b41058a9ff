"""Writes api.github.com.json: the operations of GitHub's own OpenAPI
description that the github-actions-secret target uses (Actions secrets of
a repository, an environment and an organisation, and their public keys),
with every component they refer to, unchanged. The full description
(@octokit/openapi on npm, which publishes github/rest-api-description) is
about 12 MB; Prism validates against this part of it.

Usage: npm install @octokit/openapi@23.0.2 && python3 subset.py node_modules/@octokit/openapi/generated/api.github.com.json
"""
import json
import sys

PATHS = [
    "/repos/{owner}/{repo}/actions/secrets/public-key",
    "/repos/{owner}/{repo}/actions/secrets/{secret_name}",
    "/repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key",
    "/repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}",
    "/orgs/{org}/actions/secrets/public-key",
    "/orgs/{org}/actions/secrets/{secret_name}",
]

full = json.load(open(sys.argv[1]))
subset = {key: full[key] for key in ("openapi", "info", "servers", "externalDocs") if key in full}
subset["info"]["x-rekey-subset"] = "the operations of " + ", ".join(PATHS) + ", from @octokit/openapi"
subset["paths"] = {path: full["paths"][path] for path in PATHS}
components = {}


def refer(node):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            _, _, kind, name = ref.split("/", 3)
            if name not in components.setdefault(kind, {}):
                components[kind][name] = full["components"][kind][name]
                refer(components[kind][name])
        for value in node.values():
            refer(value)
    elif isinstance(node, list):
        for value in node:
            refer(value)


refer(subset["paths"])
subset["components"] = components
json.dump(subset, open("api.github.com.json", "w"), indent=1, sort_keys=True)
print(f"{len(PATHS)} paths, {sum(len(v) for v in components.values())} components")
