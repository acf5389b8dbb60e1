/*
 * HMAC-SHA256 (RFC 2104) of many values in one call, written as lowercase hex.
 *
 * Ferry hashes PII inside DuckDB queries; in SQL an HMAC costs four SHA-256 blocks per
 * value plus string work. Here the SHA-256 states after the padded keys are computed once
 * per call and copied for each value, so a short value costs two blocks of OpenSSL's
 * SHA-256 (which uses the CPU's SHA instructions where it has them).
 *
 * Values arrive as an Arrow large_string array: a data buffer and count + 1 int64
 * offsets. Each digest is written as 64 hex characters at out + 64 * row. A null value's
 * slot is hashed like any other; the caller keeps it null through the validity bitmap.
 *
 * Built by scripts/setup: cc -O2 -shared -fPIC ... -lcrypto
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_CTX can be copied; EVP contexts cannot */
#include <openssl/sha.h>
#include <stdint.h>

#define HEX_CHARS (2 * SHA256_DIGEST_LENGTH)

static const char HEX[] = "0123456789abcdef";

static void keyed_state(SHA256_CTX *state, const unsigned char *padded_key)
{
    SHA256_Init(state);
    SHA256_Update(state, padded_key, SHA256_CBLOCK);
}

static void write_hex(const unsigned char *digest, char *out)
{
    for (int byte = 0; byte < SHA256_DIGEST_LENGTH; byte++) {
        out[2 * byte] = HEX[digest[byte] >> 4];
        out[2 * byte + 1] = HEX[digest[byte] & 15];
    }
}

/* inner_pad and outer_pad: the key xor 0x36 and xor 0x5c, 64 bytes each. */
void ferry_hmac_sha256_hex(const unsigned char *inner_pad, const unsigned char *outer_pad,
                           const char *data, const int64_t *offsets, int64_t count, char *out)
{
    SHA256_CTX inner, outer, state;
    unsigned char digest[SHA256_DIGEST_LENGTH];

    keyed_state(&inner, inner_pad);
    keyed_state(&outer, outer_pad);
    for (int64_t row = 0; row < count; row++) {
        state = inner;
        SHA256_Update(&state, data + offsets[row], (size_t)(offsets[row + 1] - offsets[row]));
        SHA256_Final(digest, &state);
        state = outer;
        SHA256_Update(&state, digest, sizeof digest);
        SHA256_Final(digest, &state);
        write_hex(digest, out + HEX_CHARS * row);
    }
}
