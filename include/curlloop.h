/* A libcurl multi handle driven by the daemon's loop through the multi-socket
 * interface (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION): no thread, no
 * blocking call. HTTP probes and the Kubernetes API client share the pattern. */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>

#include "loop.h"

typedef struct curlloop curlloop_t;
typedef struct curlloop_transfer curlloop_transfer_t;

/* Runs once when the transfer ends (rc as for curl_easy_perform()); the
 * transfer is already out of the multi handle then. */
typedef void (*curlloop_done_cb)(curlloop_transfer_t *t, CURLcode rc);

/* Embedded by the caller; `easy`, `done` and `userdata` are the caller's. */
struct curlloop_transfer {
        CURL *easy;
        curlloop_done_cb done;
        void *userdata;
        bool active;                /* in the multi handle */
};

int curlloop_new(loop_t *loop, curlloop_t **ret);
/* Every active transfer must have been removed first. */
void curlloop_free(curlloop_t *cl);
/* Starts the transfer (sets CURLOPT_PRIVATE); the callback never runs inside this call. */
int curlloop_add(curlloop_t *cl, curlloop_transfer_t *t);
/* Stops an active transfer without calling `done`; accepts inactive ones. */
void curlloop_remove(curlloop_t *cl, curlloop_transfer_t *t);
