#!/usr/bin/env python3
"""tests/json_schema_check.py - checks JSON documents against a JSON Schema
(draft 2020-12) using the standard library only. It implements the subset of
keywords docs/report.schema.json uses: type, required, properties,
additionalProperties, items, enum, minimum, minItems, maxItems; title,
description and $schema are annotations. Any other keyword is refused, so
the schema cannot quietly use something this checker ignores.

usage: json_schema_check.py SCHEMA DOCUMENT...
exit: 0 every document valid, 1 a document invalid, 2 bad usage or schema
"""
import json
import sys

ANNOTATIONS = {"$schema", "$id", "title", "description"}
KEYWORDS = {"type", "required", "properties", "additionalProperties", "items",
            "enum", "minimum", "minItems", "maxItems"}
MAX_ERRORS = 20     # per document: the first ones are the useful ones


class SchemaError(Exception):
    pass


def type_matches(value, name):
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    raise SchemaError(f"unknown type {name!r}")


def check(value, schema, path, errors):
    if schema is True:
        return
    if schema is False:
        errors.append(f"{path}: not allowed here")
        return
    if not isinstance(schema, dict):
        raise SchemaError(f"schema at {path} is not an object")
    unknown = set(schema) - KEYWORDS - ANNOTATIONS
    if unknown:
        raise SchemaError(f"schema at {path} uses unsupported keywords {sorted(unknown)}")

    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_matches(value, t) for t in types):
            errors.append(f"{path}: expected {' or '.join(types)}, got {json.dumps(value)[:60]}")
            return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {json.dumps(value)[:60]} is not one of {schema['enum']}")
    if "minimum" in schema and type_matches(value, "number") and value < schema["minimum"]:
        errors.append(f"{path}: {value} is below the minimum {schema['minimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: required property {key!r} is missing")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                check(item, props[key], f"{path}.{key}", errors)
            else:
                check(item, extra, f"{path}.{key}", errors)
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: {len(value)} items, fewer than {schema['minItems']}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: {len(value)} items, more than {schema['maxItems']}")
        if "items" in schema:
            for i, item in enumerate(value):
                check(item, schema["items"], f"{path}[{i}]", errors)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{argv[1]}: {e}", file=sys.stderr)
        return 2
    status = 0
    for name in argv[2:]:
        try:
            with open(name, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"{name}: {e}", file=sys.stderr)
            status = 1
            continue
        errors = []
        try:
            check(doc, schema, "$", errors)
        except SchemaError as e:
            print(f"{argv[1]}: {e}", file=sys.stderr)
            return 2
        for e in errors[:MAX_ERRORS]:
            print(f"{name}: {e}", file=sys.stderr)
        if errors:
            status = 1
        else:
            print(f"{name}: valid")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
