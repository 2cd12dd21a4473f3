#!/usr/bin/python3
"""Validate netcanary config files against the JSON Schema.

usage: validate.py SCHEMA FILE...

Config files may contain // and /* */ comments (json-c accepts them); they are
stripped by a small tokenizer that leaves string contents alone
("http://..." is not a comment). Duplicate object keys are reported too:
JSON parsers silently keep one of them, which hides mistakes.

Exit status: 0 every file valid, 1 any file invalid (each problem is printed as
"FILE: PATH: message"), 2 usage error or invalid schema.
"""

import json
import sys

try:
    from jsonschema import Draft202012Validator
except ImportError:  # pragma: no cover
    sys.stderr.write("validate.py: the jsonschema module is missing "
                     "(Debian: apt-get install python3-jsonschema)\n")
    sys.exit(2)


class CommentError(ValueError):
    pass


def strip_comments(text):
    """Replace // and /* */ comments outside strings by spaces.

    Newlines are kept, so json's line/column numbers still match the file.
    """
    out = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
        elif c == '"':
            in_string = True
            out.append(c)
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            if end < 0:
                end = n
            out.append(" " * (end - i))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                line = text.count("\n", 0, i) + 1
                raise CommentError("line %d: unterminated /* comment" % line)
            end += 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:end]))
            i = end
        else:
            out.append(c)
            i += 1
    return "".join(out)


def json_path(path):
    """["matrix", 3, "to"] -> "matrix[3].to" (the style netcanary uses)."""
    s = ""
    for p in path:
        if isinstance(p, int):
            s += "[%d]" % p
        elif s:
            s += "." + str(p)
        else:
            s = str(p)
    return s or "(root)"


def load(path, problems):
    """Parse one file; append "PATH: message" strings to problems on error."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        problems.append("(file): %s" % e)
        return None
    try:
        text = strip_comments(text)
    except CommentError as e:
        problems.append("(file): %s" % e)
        return None

    def no_duplicates(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                problems.append("(file): duplicate key %s" % json.dumps(k))
            seen.add(k)
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as e:
        problems.append("(file): invalid JSON: %s" % e)
        return None


def describe(err):
    """One line per schema error; for oneOf/anyOf, the closest sub-errors."""
    msg = err.message
    if len(msg) > 300:
        msg = msg[:300] + "..."
    lines = ["%s: %s" % (json_path(err.absolute_path), msg)]
    if err.validator in ("oneOf", "anyOf") and err.context:
        # Name the branch that came closest, so "both tcp and udp" or a bad
        # status item shows what failed rather than only "not valid under any".
        for sub in sorted(err.context, key=lambda e: (len(e.absolute_path), str(e.message)))[:4]:
            lines.append("    %s: %s" % (json_path(sub.absolute_path), sub.message[:200]))
    return lines


def main(argv):
    if len(argv) < 3:
        sys.stderr.write("usage: validate.py SCHEMA FILE...\n")
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
    except Exception as e:  # any problem with the schema itself
        sys.stderr.write("%s: invalid schema: %s\n" % (argv[1], e))
        return 2
    validator = Draft202012Validator(schema)

    status = 0
    for path in argv[2:]:
        problems = []
        doc = load(path, problems)
        if doc is not None:
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
            for err in errors:
                problems.extend(describe(err))
        if problems:
            status = 1
            for p in problems:
                print("%s: %s" % (path, p))
        else:
            print("%s: valid" % path)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
