"""Turns methods of a Google API Discovery document (Google's own
description of its REST APIs) into an OpenAPI 3.0 document Prism can
validate against. Each method becomes one operation at its `flatPath`, where
every path segment is a parameter of its own (the `{+name}` form of `path`
spans slashes, which OpenAPI path parameters cannot); its query parameters,
Google's standard parameters, request and response schemas are kept, and so
is the OAuth 2.0 security the document declares. Schemas are carried over
unchanged but for the JSON Schema spelling of `$ref` and the dropped
annotations (`id`, `enumDescriptions`, …) that OpenAPI has no place for.

Usage: discovery.py DISCOVERY.json OUT.json METHOD-ID...
  tests/gcp/iam.json (iam.v1.json, revision 20261023, of the
  google-api-python-client 2.202.0 wheel on PyPI,
  googleapiclient/discovery_cache/documents):
    python3 discovery.py iam.v1.json iam.json \\
      iam.projects.serviceAccounts.keys.create iam.projects.serviceAccounts.keys.list \\
      iam.projects.serviceAccounts.keys.get iam.projects.serviceAccounts.keys.delete
"""
import json
import re
import sys

DROPPED = {"id", "enumDescriptions", "enumDeprecated", "annotations", "location", "repeated", "required"}


def methods(resource):
    for method in resource.get("methods", {}).values():
        yield method
    for child in resource.get("resources", {}).values():
        yield from methods(child)


def schema(node, refs):
    """A Discovery schema in OpenAPI's spelling; names it refers to go in `refs`."""
    if isinstance(node, list):
        return [schema(item, refs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref":
            refs.add(value)
            out[key] = f"#/components/schemas/{value}"
        elif key == "properties":
            out[key] = {name: schema(prop, refs) for name, prop in value.items()}
        elif key not in DROPPED:
            out[key] = schema(value, refs)
    return out


def parameter(name, spec, location, refs):
    body = schema(spec, refs)
    description = body.pop("description", None)
    if spec.get("repeated"):
        body = {"type": "array", "items": body}
    out = {"name": name, "in": location, "schema": body}
    if description:
        out["description"] = description
    if location == "path" or spec.get("required"):
        out["required"] = True
    return out


def main():
    discovery, out_path, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
    doc = json.load(open(discovery))
    found = {m["id"]: m for m in methods(doc)}
    missing = [w for w in wanted if w not in found]
    if missing:
        sys.exit(f"no such method in {discovery}: {', '.join(missing)}")
    refs, paths = set(), {}
    standard = [parameter(n, s, "query", refs) for n, s in sorted(doc.get("parameters", {}).items())]
    scopes = list(doc.get("auth", {}).get("oauth2", {}).get("scopes", {}))
    for method_id in wanted:
        method = found[method_id]
        flat = "/" + method["flatPath"]
        path_names = re.findall(r"\{([^}]+)\}", flat)
        params = [parameter(n, {"type": "string"}, "path", refs) for n in path_names]
        for name, spec in method.get("parameters", {}).items():
            if spec.get("location") == "query":
                params.append(parameter(name, spec, "query", refs))
        operation = {"operationId": method_id, "description": method.get("description", ""),
                     "parameters": params + standard, "security": [{"Oauth2": method.get("scopes", scopes)}]}
        if "request" in method:
            operation["requestBody"] = {"content": {"application/json": {
                "schema": schema(method["request"], refs)}}}
        response = {"description": "Successful response"}
        if "response" in method:
            response["content"] = {"application/json": {"schema": schema(method["response"], refs)}}
        operation["responses"] = {"200": response}
        paths.setdefault(flat, {})[method["httpMethod"].lower()] = operation
    schemas, todo = {}, list(refs)
    while todo:
        name = todo.pop()
        if name in schemas:
            continue
        more = set()
        schemas[name] = schema(doc["schemas"][name], more)
        todo.extend(more - set(schemas))
    api = {
        "openapi": "3.0.0",
        "info": {"title": doc["title"], "version": doc["version"], "description": doc.get("description", ""),
                 "x-discovery-revision": doc["revision"]},
        "servers": [{"url": doc["rootUrl"].rstrip("/")}],
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": {"Oauth2": {
            "type": "oauth2", "flows": {"clientCredentials": {
                "tokenUrl": "https://oauth2.googleapis.com/token", "scopes": {s: s for s in scopes}}}}}},
    }
    with open(out_path, "w") as out:
        json.dump(api, out, indent=1)
        out.write("\n")


main()
