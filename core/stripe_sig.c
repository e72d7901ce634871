/* core/stripe_sig.c - HMAC-SHA256 signing and checking of Stripe-Signature
 * headers through libcrypto. TEMPORARY stand-in with the agreed API; the
 * stripe_sig engineer's file replaces it at merge. */
#include "core/stripe_sig.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/assert.h"

#define STRIPE_SIG_HEADER_MAX 4096          /* bytes of one header */
#define STRIPE_SIG_PAYLOAD_MAX (1u << 20)   /* bytes of one signed payload */
#define STRIPE_SIG_HEX_LEN 64               /* SHA-256 in hex */

/* hex of HMAC-SHA256(secret, "<t>.<payload>") into hex (65 bytes). */
static int stripe_sig_compute(const char *secret, int64_t t, const char *payload, size_t len,
                              char hex[STRIPE_SIG_HEX_LEN + 1])
{
	char prefix[32];
	int plen = snprintf(prefix, sizeof prefix, "%" PRId64 ".", t);
	ASSERT(plen > 0);
	unsigned char *msg = malloc((size_t)plen + len + 1);
	if (msg == NULL)
		return -1;
	memcpy(msg, prefix, (size_t)plen);
	if (len > 0)
		memcpy(msg + plen, payload, len);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	unsigned char *r = HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, (size_t)plen + len,
	                        mac, &mac_len);
	free(msg);
	if (r == NULL || mac_len != STRIPE_SIG_HEX_LEN / 2)
		return -1;
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < mac_len; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[STRIPE_SIG_HEX_LEN] = '\0';
	return 0;
}

size_t stripe_sig_sign(const char *secret, int64_t t, const char *payload, size_t len, char *out, size_t size)
{
	char hex[STRIPE_SIG_HEX_LEN + 1];

	ASSERT(secret != NULL);
	ASSERT(out != NULL);
	if (len > STRIPE_SIG_PAYLOAD_MAX || stripe_sig_compute(secret, t, payload, len, hex) != 0)
		return 0;
	int n = snprintf(out, size, "t=%" PRId64 ",v1=%s", t, hex);
	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}

enum stripe_sig_status stripe_sig_verify(const char *secret, const char *header, const char *payload,
                                         size_t len, int64_t now_s, int64_t tolerance_s)
{
	ASSERT(secret != NULL);
	if (header == NULL)
		return STRIPE_SIG_MALFORMED;
	size_t hlen = strnlen(header, STRIPE_SIG_HEADER_MAX + 1);
	if (hlen > STRIPE_SIG_HEADER_MAX || len > STRIPE_SIG_PAYLOAD_MAX)
		return STRIPE_SIG_TOO_LONG;

	/* Items are key=value separated by commas; several v1 may appear while
	 * a secret is being rolled. */
	bool have_t = false;
	int64_t t = 0;
	const char *v1[8];
	size_t v1_len[8];
	int nv1 = 0;
	const char *p = header;
	const char *end = header + hlen;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *item_end = comma != NULL ? comma : end;
		const char *eq = memchr(p, '=', (size_t)(item_end - p));
		if (eq == NULL)
			return STRIPE_SIG_MALFORMED;
		size_t klen = (size_t)(eq - p);
		const char *val = eq + 1;
		size_t vlen = (size_t)(item_end - val);
		if (klen == 1 && p[0] == 't') {
			if (vlen == 0 || vlen > 18)
				return STRIPE_SIG_MALFORMED;
			int64_t v = 0;
			for (size_t i = 0; i < vlen; i++) {
				if (val[i] < '0' || val[i] > '9')
					return STRIPE_SIG_MALFORMED;
				v = v * 10 + (val[i] - '0');
			}
			t = v;
			have_t = true;
		} else if (klen == 2 && p[0] == 'v' && p[1] == '1') {
			if (nv1 < 8) {
				v1[nv1] = val;
				v1_len[nv1] = vlen;
				nv1++;
			}
		}
		p = comma != NULL ? comma + 1 : end;
	}
	if (!have_t)
		return STRIPE_SIG_MALFORMED;
	if (nv1 == 0)
		return STRIPE_SIG_NO_V1;

	char hex[STRIPE_SIG_HEX_LEN + 1];
	if (stripe_sig_compute(secret, t, payload, len, hex) != 0)
		return STRIPE_SIG_MISMATCH;
	bool match = false;
	for (int i = 0; i < nv1; i++) {
		if (v1_len[i] == STRIPE_SIG_HEX_LEN && CRYPTO_memcmp(v1[i], hex, STRIPE_SIG_HEX_LEN) == 0)
			match = true;
	}
	if (!match)
		return STRIPE_SIG_MISMATCH;
	int64_t age = now_s - t;
	if (age > tolerance_s || -age > tolerance_s)
		return STRIPE_SIG_STALE;
	return STRIPE_SIG_OK;
}

const char *stripe_sig_status_name(enum stripe_sig_status s)
{
	switch (s) {
	case STRIPE_SIG_OK: return "ok";
	case STRIPE_SIG_MALFORMED: return "malformed";
	case STRIPE_SIG_NO_V1: return "no_v1";
	case STRIPE_SIG_MISMATCH: return "mismatch";
	case STRIPE_SIG_STALE: return "stale";
	case STRIPE_SIG_TOO_LONG: return "too_long";
	}
	return "?";
}
