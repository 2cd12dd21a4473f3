/* YAML to json-c trees, for Kubernetes manifests as users keep them
 * (`kubectl get -o yaml`, multi-document files with `---`). Pure: no I/O,
 * nothing logged. Needs libyaml at build time (meson feature `yaml`); without
 * it every parse returns -EOPNOTSUPP.
 *
 * What a scalar becomes (the YAML 1.2 core schema, as JSON sees it): plain
 * `null`, `Null`, `NULL`, `~` or nothing -> null; `true`/`false` (also
 * capitalised or upper case) -> boolean; decimal, 0x and 0o integers that fit
 * in 64 bits -> integer; decimal floats, .inf, .nan -> double; anything else,
 * and every quoted or block scalar or `!!str` one -> string. YAML 1.1's
 * yes/no/on/off stay strings. Mapping keys are strings (scalars only; a
 * duplicate key is an error). Aliases are refused (no expansion bombs);
 * anchors alone are ignored. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct json_object;

/* Nesting deeper than this is an error (-E2BIG). */
#define YAMLJSON_MAX_DEPTH 64
/* Default cap on documents in one stream. */
#define YAMLJSON_MAX_DOCUMENTS 200000

typedef struct yamljson_doc {
        struct json_object *root;  /* owned; never NULL (null documents are left out) */
        size_t line;               /* 1-based line of its `---` marker, else of its first content */
        size_t number;             /* 1-based position in the stream, empty documents counted */
} yamljson_doc_t;

/* Whether this build reads YAML. */
bool yamljson_supported(void);

/* Parses `len` bytes of a YAML stream. Documents that are empty or null
 * (nothing between `---` markers, a stream of only comments) are left out. At most
 * `max_docs` (0 = YAMLJSON_MAX_DOCUMENTS) documents, else -E2BIG. On a
 * syntax error -EINVAL with "line L column C: problem" in `err` (may be
 * NULL); -EOPNOTSUPP without libyaml; -ENOMEM. Returns the document count
 * (*ret NULL when 0; free with yamljson_docs_free()). */
int yamljson_parse(const char *text, size_t len, size_t max_docs, yamljson_doc_t **ret, strbuf_t *err);
void yamljson_docs_free(yamljson_doc_t *docs, size_t n);
