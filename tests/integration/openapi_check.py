# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reads api/openapi.yaml and checks documents and HTTP exchanges against it.

Used by test_openapi.py. Only Debian 12 packages: python3-yaml and
python3-jsonschema (4.10; the code also runs on newer releases). OpenAPI 3.1
schemas are JSON Schema 2020-12, so response bodies are validated with
Draft202012Validator. The document itself is checked structurally
(check_document) because Debian ships no OpenAPI validator.
"""
import datetime
import json
import os
import re

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

SOURCE_DIR = os.environ.get("SOVD_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
SPEC_PATH = os.path.join(SOURCE_DIR, "api", "openapi.yaml")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                      r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?"
                           r"([Zz]|[+-]\d{2}:\d{2})$")


def _is_uuid(v):
    return not isinstance(v, str) or bool(_UUID_RE.match(v))


def _is_date_time(v):
    """RFC 3339 date-time (the JSON Schema 'date-time' format)."""
    if not isinstance(v, str):
        return True
    if not _DATE_TIME_RE.match(v):
        return False
    try:
        datetime.datetime.fromisoformat(v.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def format_checker():
    """The formats openapi.yaml uses, checked the same on every jsonschema release."""
    fc = FormatChecker(formats=())
    fc.checks("uuid")(_is_uuid)
    fc.checks("date-time")(_is_date_time)
    return fc


def _json_path(path):
    out = "$"
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _short(value, limit=120):
    s = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return s if len(s) <= limit else s[:limit] + "..."


def media_type(content_type):
    return (content_type or "").split(";", 1)[0].strip().lower()


class Spec:
    def __init__(self, path=SPEC_PATH):
        self.path = path
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self._fc = format_checker()

    # -- navigation ---------------------------------------------------------
    def pointer(self, ref):
        """Resolves a local '#/a/b' reference; raises KeyError when it does not."""
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise KeyError(f"only local references are supported: {ref!r}")
        node = self.doc
        for tok in ref[1:].split("/")[1:]:
            tok = tok.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list):
                node = node[int(tok)]
            elif isinstance(node, dict) and tok in node:
                node = node[tok]
            else:
                raise KeyError(f"unresolved reference {ref!r}")
        return node

    def resolve(self, obj):
        """Follows Reference Objects (not schemas: the validator resolves those)."""
        seen = set()
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            if ref in seen:
                raise KeyError(f"reference loop at {ref!r}")
            seen.add(ref)
            obj = self.pointer(ref)
        return obj

    def path_item(self, template):
        return self.resolve(self.doc["paths"][template])

    def operations(self):
        """{(METHOD, template): operation} for every operation of the document."""
        ops = {}
        for template in self.doc.get("paths", {}):
            item = self.path_item(template)
            for m in HTTP_METHODS:
                if m in item:
                    ops[(m.upper(), template)] = item[m]
        return ops

    def parameters(self, template, method):
        """Path-level parameters merged with the operation's (the latter win)."""
        item = self.path_item(template)
        params = {}
        for p in item.get("parameters", []) + item[method.lower()].get("parameters", []):
            p = self.resolve(p)
            params[(p["name"].lower() if p["in"] == "header" else p["name"], p["in"])] = p
        return list(params.values())

    def methods(self, template):
        item = self.path_item(template)
        return {m.upper() for m in HTTP_METHODS if m in item}

    def match(self, path):
        """The template serving a concrete path (literal segments beat {params})."""
        segs = path.split("/")
        best, best_score = None, -1
        for template in self.doc.get("paths", {}):
            tsegs = template.split("/")
            if len(tsegs) != len(segs):
                continue
            score = 0
            for t, s in zip(tsegs, segs):
                if t.startswith("{") and t.endswith("}"):
                    if not s:
                        break
                elif t == s:
                    score += 1
                else:
                    break
            else:
                if score > best_score:
                    best, best_score = template, score
        return best

    # -- schemas ------------------------------------------------------------
    def validator(self, schema):
        """A 2020-12 validator for a schema of this document: its '#/components/...'
        references resolve because the root carries the document's components."""
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": self.doc.get("components", {}),
                "allOf": [schema]}
        return Draft202012Validator(root, format_checker=self._fc)

    def schema_errors(self, schema, instance):
        """Readable messages, one per failing location, empty when valid."""
        errors = sorted(self.validator(schema).iter_errors(instance),
                        key=lambda e: (list(e.absolute_path), e.message))
        out = []
        for e in errors:
            msg = self._message(e)
            if len(msg) > 400:
                msg = msg[:400] + "..."
            out.append(f"{_json_path(e.absolute_path)}: {msg}")
        return out

    @staticmethod
    def _message(err):
        # allOf/oneOf/if-then errors hide the useful leaf; show the deepest ones.
        leaves = []

        def walk(e):
            if e.context:
                for c in e.context:
                    walk(c)
            else:
                leaves.append(e)
        walk(err)
        if len(leaves) == 1 and leaves[0] is err:
            return err.message
        parts = sorted({f"{_json_path(list(err.absolute_path) + list(c.relative_path))}: "
                        f"{c.message}" for c in leaves})
        return err.message if not parts else err.message[:160] + " [" + "; ".join(parts[:6]) + "]"

    def component_schema(self, name):
        return {"$ref": f"#/components/schemas/{name}"}

    # -- HTTP exchanges -----------------------------------------------------
    def check_response(self, method, path, status, headers, body):
        """Every way the response differs from openapi.yaml, as readable strings.

        @headers: a mapping with case-insensitive get() (http.client's message).
        @body: the raw bytes.
        """
        method = method.upper()
        path_only = path.split("?", 1)[0]
        template = self.match(path_only)
        comps = self.doc["components"]["responses"]
        msgs = []
        if template is None:
            where = f"no path of openapi.yaml matches {path_only}"
            if status != 404:
                msgs.append(f"{where}, so 404 was expected, got {status}")
            response = self.resolve(comps["NotFound"]) if status == 404 else None
        elif (method, template) not in self.operations():
            declared = sorted(self.methods(template))
            where = f"{method} is not an operation of {template} (it has {', '.join(declared)})"
            if status != 405:
                msgs.append(f"{where}, so 405 was expected, got {status}")
                response = None
            else:
                response = self.resolve(comps["MethodNotAllowed"])
                allow = {a.strip().upper() for a in (headers.get("Allow") or "").split(",")
                         if a.strip()}
                if allow and allow != set(declared):
                    msgs.append(f"Allow: {headers.get('Allow')!r} but openapi.yaml declares "
                                f"{', '.join(declared)} for {template}")
        else:
            op = self.operations()[(method, template)]
            responses = op["responses"]
            key = next((k for k in (str(status), f"{status // 100}XX", "default")
                        if k in responses), None)
            if key is None:
                msgs.append(f"status {status} is not declared for {method} {template} "
                            f"(declared: {', '.join(sorted(responses))})")
                response = None
            else:
                response = self.resolve(responses[key])
        if response is None:
            # Undeclared status: still say what the body looks like.
            if status >= 400 and media_type(headers.get("Content-Type")) == "application/problem+json":
                try:
                    msgs += [f"body {m}" for m in self.schema_errors(
                        self.component_schema("Problem"), json.loads(body))]
                except ValueError as e:
                    msgs.append(f"body is not JSON: {e}")
            return msgs
        return msgs + self._check_against(response, path, headers, body, method)

    def _check_against(self, response, path, headers, body, method):
        msgs = []
        for name, h in (response.get("headers") or {}).items():
            h = self.resolve(h)
            value = headers.get(name)
            if value is None:
                if h.get("required"):
                    msgs.append(f"header {name} is missing")
                continue
            if "schema" in h:
                msgs += [f"header {name}: {value!r} does not match its schema: {m}"
                         for m in self.schema_errors(h["schema"], value)]
        content = response.get("content")
        ctype = headers.get("Content-Type")
        if method == "HEAD":
            return msgs  # no body by definition (RFC 9110, 9.3.2)
        if not content:
            if body:
                msgs.append(f"a body ({len(body)} bytes, {ctype!r}) where openapi.yaml "
                            "declares none")
            return msgs
        mt = media_type(ctype)
        if mt not in content:
            msgs.append(f"Content-Type {ctype!r} is not one openapi.yaml declares "
                        f"({', '.join(content)})")
            return msgs
        if not mt.endswith("json"):
            # Text (GET /metrics): the schema is a string; it must at least be UTF-8.
            try:
                instance = body.decode("utf-8")
            except UnicodeDecodeError as e:
                msgs.append(f"body is not UTF-8 text ({e})")
                return msgs
        else:
            try:
                instance = json.loads(body)
            except ValueError as e:
                msgs.append(f"body is not JSON ({e}): {body[:200]!r}")
                return msgs
        schema = content[mt].get("schema")
        if schema is not None:
            msgs += [f"body {m}" for m in self.schema_errors(schema, instance)]
        if mt == "application/problem+json" and isinstance(instance, dict):
            rid = headers.get("X-Request-Id")
            if "request_id" in instance and rid is not None and instance["request_id"] != rid:
                msgs.append(f"problem request_id {instance['request_id']!r} differs from "
                            f"X-Request-Id {rid!r}")
            inst = instance.get("instance")
            if isinstance(inst, str) and inst not in (path, path.split("?", 1)[0]):
                msgs.append(f"problem instance {inst!r} is not the request path {path!r}")
        return msgs


# -- the document itself -----------------------------------------------------
_X = re.compile(r"^x-")
_KEYS = {
    "root": {"openapi", "info", "jsonSchemaDialect", "servers", "paths", "webhooks",
             "components", "security", "tags", "externalDocs"},
    "info": {"title", "summary", "description", "termsOfService", "contact", "license",
             "version"},
    "license": {"name", "identifier", "url"},
    "server": {"url", "description", "variables"},
    "tag": {"name", "description", "externalDocs"},
    "components": {"schemas", "responses", "parameters", "examples", "requestBodies",
                   "headers", "securitySchemes", "links", "callbacks", "pathItems"},
    "path-item": {"$ref", "summary", "description", "servers", "parameters"} | set(HTTP_METHODS),
    "operation": {"tags", "summary", "description", "externalDocs", "operationId",
                  "parameters", "requestBody", "responses", "callbacks", "deprecated",
                  "security", "servers"},
    "parameter": {"name", "in", "description", "required", "deprecated", "allowEmptyValue",
                  "style", "explode", "allowReserved", "schema", "example", "examples",
                  "content"},
    "header": {"description", "required", "deprecated", "style", "explode", "schema",
               "example", "examples", "content"},
    "request-body": {"description", "content", "required"},
    "response": {"description", "headers", "content", "links"},
    "media-type": {"schema", "example", "examples", "encoding"},
    "reference": {"$ref", "summary", "description"},
}


class _DocChecker:
    def __init__(self, spec, allow_unused=()):
        self.spec = spec
        self.allow_unused = set(allow_unused)
        self.doc = spec.doc
        self.errors = []
        self.used_refs = set()

    def err(self, where, msg):
        self.errors.append(f"{where}: {msg}")

    def keys(self, where, obj, kind, required=()):
        if not isinstance(obj, dict):
            self.err(where, f"must be an object, is {type(obj).__name__}")
            return False
        for k in obj:
            if k not in _KEYS[kind] and not _X.match(str(k)):
                self.err(where, f"unknown field {k!r} in a {kind} object")
        for k in required:
            if k not in obj:
                self.err(where, f"required field {k!r} missing")
        return True

    def ref_or(self, where, obj, kind, check):
        if isinstance(obj, dict) and "$ref" in obj:
            self.keys(where, obj, "reference")
            try:
                target = self.spec.resolve(obj)
            except (KeyError, ValueError, IndexError) as e:
                self.err(where, str(e))
                return
            # The target is checked where it is defined (components).
            return target
        check(where, obj)
        return obj

    def schema(self, where, schema):
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as e:
            self.err(where, f"not a valid JSON Schema 2020-12: {e.message}")
        for i, ex in enumerate(schema.get("examples", []) if isinstance(schema, dict) else []):
            for m in self.spec.schema_errors(schema, ex):
                self.err(f"{where}/examples/{i}", f"example does not validate: {m}")

    def parameter(self, where, p):
        if not self.keys(where, p, "parameter", ("name", "in")):
            return
        if p.get("in") not in ("query", "header", "path", "cookie"):
            self.err(where, f"'in' must be query, header, path or cookie, is {p.get('in')!r}")
        if p.get("in") == "path" and p.get("required") is not True:
            self.err(where, "a path parameter must have required: true")
        if ("schema" in p) == ("content" in p):
            self.err(where, "exactly one of schema and content")
        if "schema" in p:
            self.schema(f"{where}/schema", p["schema"])

    def header(self, where, h):
        if not self.keys(where, h, "header"):
            return
        if "schema" in h:
            self.schema(f"{where}/schema", h["schema"])

    def content(self, where, content):
        if not isinstance(content, dict) or not content:
            self.err(where, "content must be a non-empty map of media types")
            return
        for mt, obj in content.items():
            if not re.match(r"^[a-z]+/[a-z0-9.+-]+$", mt):
                self.err(f"{where}/{mt}", "not a media type")
            if self.keys(f"{where}/{mt}", obj, "media-type") and "schema" in obj:
                self.schema(f"{where}/{mt}/schema", obj["schema"])

    def request_body(self, where, rb):
        if self.keys(where, rb, "request-body", ("content",)) and "content" in rb:
            self.content(f"{where}/content", rb["content"])

    def response(self, where, r):
        if not self.keys(where, r, "response", ("description",)):
            return
        for name, h in (r.get("headers") or {}).items():
            if name.lower() == "content-type":
                self.err(f"{where}/headers/{name}", "Content-Type must not be a header here")
            self.ref_or(f"{where}/headers/{name}", h, "header", self.header)
        if "content" in r:
            self.content(f"{where}/content", r["content"])

    def operation(self, where, op, path_params, template):
        if not self.keys(where, op, "operation", ("responses",)):
            return
        params = dict(path_params)
        for i, p in enumerate(op.get("parameters", [])):
            p = self.ref_or(f"{where}/parameters/{i}", p, "parameter", self.parameter)
            if isinstance(p, dict) and "name" in p:
                key = (p["name"], p.get("in"))
                params[key] = p
        declared = {n for (n, i) in params if i == "path"}
        in_template = set(re.findall(r"\{([^}/]+)\}", template))
        for n in sorted(in_template - declared):
            self.err(where, f"path parameter {{{n}}} is not declared")
        for n in sorted(declared - in_template):
            self.err(where, f"path parameter {n!r} is not in the template")
        if "requestBody" in op:
            self.ref_or(f"{where}/requestBody", op["requestBody"], "request-body",
                        self.request_body)
        responses = op.get("responses") or {}
        if not responses:
            self.err(where, "no responses")
        for code, r in responses.items():
            if not re.match(r"^([1-5][0-9][0-9]|[1-5]XX|default)$", str(code)):
                self.err(f"{where}/responses/{code}", "not a status code, NXX or default")
            self.ref_or(f"{where}/responses/{code}", r, "response", self.response)

    def walk_refs(self, node, where):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                self.used_refs.add(ref)
                try:
                    self.spec.pointer(ref)
                except (KeyError, ValueError, IndexError) as e:
                    self.err(where, str(e))
            for k, v in node.items():
                self.walk_refs(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                self.walk_refs(v, f"{where}/{i}")

    def run(self):
        d = self.doc
        if not self.keys("#", d, "root", ("openapi", "info", "paths")):
            return self.errors
        if not re.match(r"^3\.1\.\d+$", str(d.get("openapi"))):
            self.err("#/openapi", f"must be 3.1.x, is {d.get('openapi')!r}")
        if self.keys("#/info", d.get("info"), "info", ("title", "version")):
            if "license" in d["info"]:
                self.keys("#/info/license", d["info"]["license"], "license", ("name",))
        for i, s in enumerate(d.get("servers", [])):
            self.keys(f"#/servers/{i}", s, "server", ("url",))
        tag_names = set()
        for i, t in enumerate(d.get("tags", [])):
            if self.keys(f"#/tags/{i}", t, "tag", ("name",)):
                tag_names.add(t.get("name"))
        comps = d.get("components", {})
        self.keys("#/components", comps, "components")
        for section, kind, check in (("responses", "response", self.response),
                                     ("parameters", "parameter", self.parameter),
                                     ("headers", "header", self.header),
                                     ("requestBodies", "request-body", self.request_body)):
            for name, obj in comps.get(section, {}).items():
                if not re.match(r"^[a-zA-Z0-9._-]+$", name):
                    self.err(f"#/components/{section}/{name}", "bad component name")
                self.ref_or(f"#/components/{section}/{name}", obj, kind, check)
        for name, schema in comps.get("schemas", {}).items():
            self.schema(f"#/components/schemas/{name}", schema)
        op_ids = {}
        for template, item in d.get("paths", {}).items():
            w = f"#/paths/{template}"
            if not template.startswith("/"):
                self.err(w, "a path must start with /")
            item = self.ref_or(w, item, "path-item", lambda *_: None)
            if not self.keys(w, item, "path-item"):
                continue
            path_params = {}
            for i, p in enumerate(item.get("parameters", [])):
                p = self.ref_or(f"{w}/parameters/{i}", p, "parameter", self.parameter)
                if isinstance(p, dict) and "name" in p:
                    path_params[(p["name"], p.get("in"))] = p
            methods = [m for m in HTTP_METHODS if m in item]
            if not methods:
                self.err(w, "no operation")
            for m in methods:
                op = item[m]
                self.operation(f"{w}/{m}", op, path_params, template)
                oid = op.get("operationId") if isinstance(op, dict) else None
                if oid is None:
                    self.err(f"{w}/{m}", "no operationId")
                elif oid in op_ids:
                    self.err(f"{w}/{m}", f"operationId {oid!r} also used by {op_ids[oid]}")
                else:
                    op_ids[oid] = f"{m.upper()} {template}"
                for t in op.get("tags", []) if isinstance(op, dict) else []:
                    if t not in tag_names:
                        self.err(f"{w}/{m}", f"tag {t!r} is not declared in #/tags")
        self.walk_refs(d, "#")
        for section, objs in comps.items():
            for name in objs or {}:
                ref = f"#/components/{section}/{name}"
                if ref not in self.used_refs and ref not in self.allow_unused:
                    self.err(ref, "defined but never referenced")
        return self.errors


def check_document(spec, allow_unused=()):
    """Structural errors of the OpenAPI 3.1 document (empty list when sound).

    @allow_unused: component references ('#/components/...') that may be
    defined without being referenced (those the tests use directly)."""
    return _DocChecker(spec, allow_unused).run()
