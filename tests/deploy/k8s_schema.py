"""Validate values against the Dagster chart's vendored ``values.schema.json`` offline.

The chart's schema points Kubernetes-typed fields (resources, tolerations, env, volumes, ...)
at ``kubernetesjsonschema.dev/<version>/_definitions.json``, which cannot be fetched here.
Those references resolve to schemas generated from the models of the ``kubernetes`` client
that dagster-k8s itself builds pods with: every object is closed (no unknown keys), every
field typed, so a typo such as ``request:`` or ``nodeSelectors:`` fails.
"""

import json
import re
from pathlib import Path

import jsonschema
import kubernetes.client
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

CHART_DIR = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "dagster-chart"
K8S_DEFINITIONS = re.compile(r"https://kubernetesjsonschema\.dev/v[\d.]+/_definitions\.json")
PRIMITIVES = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "object": {},
    "datetime": {"type": "string"},
    "date": {"type": "string"},
}
# Quantities ("500m", "2Gi", 1) are strings in the client's models but numbers are valid YAML.
QUANTITY_MAPS = {("V1ResourceRequirements", "limits"), ("V1ResourceRequirements", "requests")}


def _model_name(definition: str) -> str:
    """``io.k8s.api.core.v1.ResourceRequirements`` -> ``V1ResourceRequirements``."""
    version, kind = definition.split(".")[-2:]
    return version[0].upper() + version[1:] + kind


def _type_schema(openapi_type: str, owner: str, attr: str) -> dict:
    if openapi_type in PRIMITIVES:
        return PRIMITIVES[openapi_type]
    if match := re.fullmatch(r"list\[(.+)\]", openapi_type):
        return {"type": "array", "items": _type_schema(match[1], owner, attr)}
    if match := re.fullmatch(r"dict\(str, (.+)\)|dict\[str, (.+)\]", openapi_type):
        if (owner, attr) in QUANTITY_MAPS:
            return {"type": "object", "additionalProperties": {"type": ["string", "number"]}}
        return {
            "type": "object",
            "additionalProperties": _type_schema(match[1] or match[2], owner, attr),
        }
    return {"$ref": f"#/definitions/{openapi_type}"}


def kubernetes_definitions() -> dict:
    """A closed JSON schema per model class of the kubernetes client, by its class name."""
    definitions = {}
    for name in dir(kubernetes.client):
        model = getattr(kubernetes.client, name)
        if not (isinstance(model, type) and hasattr(model, "openapi_types")):
            continue
        definitions[name] = {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                model.attribute_map[attr]: _type_schema(kind, name, attr)
                for attr, kind in model.openapi_types.items()
            },
        }
    return definitions


def _retrieve(definitions: dict):
    def retrieve(uri: str) -> Resource:
        if not K8S_DEFINITIONS.fullmatch(uri):
            raise LookupError(f"no offline copy of {uri}")
        return Resource.from_contents({"definitions": definitions}, default_specification=DRAFT7)

    return retrieve


def _merged_keys_optional(schema: dict) -> dict:
    """Helm validates values merged over the chart's defaults, so a key we do not set is
    still present, except inside list items (lists replace, they do not merge): those keep
    their required keys."""
    in_lists = set(re.findall(r'"items": \{"\$ref": "#/definitions/(\w+)"\}', json.dumps(schema)))

    def strip(node, keep: bool):
        if isinstance(node, dict):
            return {k: strip(v, keep) for k, v in node.items() if k != "required" or keep}
        if isinstance(node, list):
            return [strip(v, keep) for v in node]
        return node

    out = strip({k: v for k, v in schema.items() if k != "definitions"}, keep=False)
    out["definitions"] = {
        name: strip(body, keep=name in in_lists) for name, body in schema["definitions"].items()
    }
    return out


def chart_validator() -> jsonschema.Draft7Validator:
    schema = _merged_keys_optional(json.loads((CHART_DIR / "values.schema.json").read_text()))
    definitions = kubernetes_definitions()
    # the chart names definitions io.k8s.api.core.v1.X; the generated ones are V1X
    aliased = {**definitions}
    for text in re.findall(r"#/definitions/(io\.k8s\.[\w.]+)", json.dumps(schema)):
        model = _model_name(text)
        if model in definitions:
            aliased[text] = definitions[model]
    registry = Registry(retrieve=_retrieve(aliased))
    return jsonschema.Draft7Validator(schema, registry=registry)


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """Inside ``anyOf`` (a value or null), the branch error that got furthest names the fault."""
    if not error.context:
        return error
    return max((_deepest(e) for e in error.context), key=lambda e: len(e.absolute_path))


def chart_errors(values: dict) -> list[str]:
    """Every violation of the chart's schema, as ``path: message`` lines."""
    errors = []
    for error in chart_validator().iter_errors(values):
        detail = _deepest(error)
        where = ".".join(str(p) for p in detail.absolute_path) or "(top)"
        errors.append(f"{where}: {detail.message}")
    return errors
