"""Schemathesis hooks for .ci/fuzz: NDJSON, which schemathesis does not
speak, for `records:batch`. OpenAPI 3.1 cannot describe a sequence's items,
so the document gives one line's schema for the request and for the answer:
a generated body is sent as that one line, and the answer, one result line
per input line, is then that one line, checked against its schema."""

import json

import schemathesis

NDJSON = ("application/x-ndjson", "application/jsonl")


@schemathesis.serializer(*NDJSON)
def one_line(ctx, value):
    # json.dumps escapes newlines inside strings: one value, one line.
    return (json.dumps(value) + "\n").encode()


@schemathesis.deserializer(*NDJSON)
def result_lines(ctx, response):
    lines = [json.loads(line) for line in response.content.decode().splitlines() if line.strip()]
    # One line in, one result line out; anything else fails the schema.
    return lines[0] if len(lines) == 1 else lines
