/* process_* metrics as the Prometheus client libraries export them, read from
 * /proc/self at scrape time. */
#pragma once

#include "metrics.h"

int procmetrics_register(metrics_t *m);
