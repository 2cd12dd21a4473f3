/* Fuzz target: the UDP echo datagram (responder and UDP probe). A datagram is
 * accepted exactly when it is 24 bytes starting with the magic, and then the
 * nonce is its last 16 bytes; whatever udp_echo_build() makes is accepted. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t nonce[UDP_ECHO_NONCE_LEN];
        memset(nonce, 0xA5, sizeof nonce);
        int r = udp_echo_parse(data, size, nonce);
        bool want = size == UDP_ECHO_LEN && memcmp(data, UDP_ECHO_MAGIC, UDP_ECHO_MAGIC_LEN) == 0;
        FUZZ_CHECK(r == 0 || r == -EBADMSG);
        FUZZ_CHECK((r == 0) == want);
        if (r == 0)
                FUZZ_CHECK(memcmp(nonce, data + UDP_ECHO_MAGIC_LEN, UDP_ECHO_NONCE_LEN) == 0);
        else {
                /* Out-parameters are written only on success. */
                for (size_t i = 0; i < sizeof nonce; i++)
                        FUZZ_CHECK(nonce[i] == 0xA5);
        }

        /* Any 16 bytes of the input as a nonce: build, parse back. */
        uint8_t in[UDP_ECHO_NONCE_LEN] = { 0 }, out[UDP_ECHO_NONCE_LEN], dgram[UDP_ECHO_LEN];
        memcpy(in, data, size < sizeof in ? size : sizeof in);
        udp_echo_build(dgram, in);
        FUZZ_CHECK(udp_echo_parse(dgram, sizeof dgram, out) == 0);
        FUZZ_CHECK(memcmp(in, out, sizeof in) == 0);
        /* One byte short or long is not an echo. */
        FUZZ_CHECK(udp_echo_parse(dgram, sizeof dgram - 1, out) == -EBADMSG);
        return 0;
}
