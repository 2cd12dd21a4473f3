/* Helpers every fuzz target may use (linked into each, fuzz.h). */
#include <json.h>

#include "fuzz.h"

struct json_object *fuzz_parse_json(const uint8_t *data, size_t size, int depth) {
        if (size > (1u << 20))
                return NULL;
        json_tokener *tok = json_tokener_new_ex(depth);
        if (!tok)
                return NULL;
        struct json_object *root = json_tokener_parse_ex(tok, (const char *) data, (int) size);
        bool ok = root && json_tokener_get_error(tok) == json_tokener_success;
        json_tokener_free(tok);
        if (!ok) {
                json_object_put(root);
                return NULL;
        }
        return root;
}
