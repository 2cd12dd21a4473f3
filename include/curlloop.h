/* A libcurl multi handle driven by the daemon's loop through the multi-socket
 * interface (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION): no thread, no
 * blocking call. HTTP probes and the Kubernetes API client share the pattern. */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>

#include "loop.h"

typedef struct curl_loop curl_loop_t;
typedef struct curl_loop_transfer curl_loop_transfer_t;

/* Runs once when the transfer ends (rc as for curl_easy_perform()); the
 * transfer is already out of the multi handle then. */
typedef void (*curl_loop_done_cb)(curl_loop_transfer_t *t, CURLcode rc);

/* Embedded by the caller; `easy`, `done` and `userdata` are the caller's. */
struct curl_loop_transfer {
        CURL *easy;
        curl_loop_done_cb done;
        void *userdata;
        bool active;                /* in the multi handle */
};

int curl_loop_new(loop_t *loop, curl_loop_t **ret);
/* Every active transfer must have been removed first. */
void curl_loop_free(curl_loop_t *cl);
/* Starts the transfer (sets CURLOPT_PRIVATE); the callback never runs inside this call. */
int curl_loop_add(curl_loop_t *cl, curl_loop_transfer_t *t);
/* Stops an active transfer without calling `done`; accepts inactive ones. */
void curl_loop_remove(curl_loop_t *cl, curl_loop_transfer_t *t);
