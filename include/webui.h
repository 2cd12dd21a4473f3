/* The status page: one self-contained HTML page, its script and stylesheet,
 * compiled into the binary (src/web/, embedded at build time by
 * src/web/embed.py). The page renders itself from GET /api/v1/matrix, which
 * the agent serves; this module only serves static bytes. Every asset is sent
 * with a strict Content-Security-Policy (same origin only, no inline code). */
#pragma once

#include "httpd.h"

/* Registers "/" (the page) and "/<asset>" for every embedded asset
 * ("/index.html", "/app.js", "/style.css", "/favicon.svg") on `h`.
 * Register it after any other "/" route: httpd lets the last one win.
 * Returns 0, -ENOMEM, or -ENOENT from a build that embedded no index.html. */
int webui_install(httpd_t *h);
