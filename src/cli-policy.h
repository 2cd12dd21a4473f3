/* `netcanary policy matrix|explain` (contract §11). */
#pragma once

/* argv[0] is "policy". Returns the process exit status: matrix 0 (printed),
 * explain 0 allowed / 1 denied, 2 usage or object errors (printed on stderr). */
int cli_policy(int argc, char **argv);
