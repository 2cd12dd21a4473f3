/* The libFuzzer entry points every fuzz target defines, and what the plain
 * driver (standalone-main.c) calls when the targets are built without
 * -fsanitize=fuzzer (gcc, or ordinary CI runs of the corpora). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional: called once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A failed invariant: print where and abort, so libFuzzer records a crash
 * (assert() would vanish in a -Db_ndebug=true build). */
#define FUZZ_CHECK(cond)                                                                                    \
        do {                                                                                                \
                if (!(cond)) {                                                                              \
                        fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);  \
                        abort();                                                                            \
                }                                                                                           \
        } while (0)

struct json_object;
/* The fuzz input as one JSON document (at most 1 MiB, json-c's nesting
 * depth `depth`), or NULL when it is not one (the input is then skipped). */
struct json_object *fuzz_parse_json(const uint8_t *data, size_t size, int depth);
