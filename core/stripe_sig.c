/* core/stripe_sig.c - Stripe-Signature parsing, HMAC-SHA256 through
 * OpenSSL's EVP_MAC, and the constant-time compare. Nothing here allocates
 * beyond what OpenSSL needs for one MAC context. */
#include "core/stripe_sig.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "core/assert.h"
#include "core/fmt.h"

#define STRIPE_SIG_MAC_LEN 32          /* bytes of SHA-256 */
#define STRIPE_SIG_T_DIGITS_MAX 19     /* INT64_MAX has 19 digits */
#define STRIPE_SIG_PREFIX_MAX 24       /* "<t>." */

/* The last secret's keyed HMAC context, one per thread. Keying (the
 * provider fetch, the digest lookup, the pads) costs several times the MAC
 * of a webhook body, and a process signs and verifies with one secret, so
 * the context is kept and re-initialised with the same key (OpenSSL's HMAC
 * reuses the key when EVP_MAC_init gets none). A secret longer than the
 * copy kept here is keyed afresh each time. The copy is wiped when
 * replaced; the context lives until the thread or process ends. */
#define STRIPE_SIG_KEY_CACHE_MAX 256

struct stripe_sig_keyed {
	EVP_MAC_CTX *ctx;
	size_t key_len;
	bool keyed;                         /* ctx holds key[0..key_len) */
	char key[STRIPE_SIG_KEY_CACHE_MAX];
};

static _Thread_local struct stripe_sig_keyed stripe_sig_cache;

/* A context ready for EVP_MAC_update, keyed with secret; NULL on failure. */
static EVP_MAC_CTX *stripe_sig_ctx(const char *secret)
{
	struct stripe_sig_keyed *c = &stripe_sig_cache;
	size_t klen = strlen(secret);
	if (c->ctx == NULL) {
		EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		c->ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
		EVP_MAC_free(mac); /* the context holds its own reference */
		if (c->ctx == NULL)
			return NULL;
	}
	if (c->keyed && klen == c->key_len && memcmp(secret, c->key, klen) == 0)
		return EVP_MAC_init(c->ctx, NULL, 0, NULL) == 1 ? c->ctx : NULL;

	OPENSSL_cleanse(c->key, sizeof c->key);
	c->keyed = false;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	if (EVP_MAC_init(c->ctx, (const unsigned char *)secret, klen, params) != 1)
		return NULL;
	if (klen <= sizeof c->key) {
		memcpy(c->key, secret, klen);
		c->key_len = klen;
		c->keyed = true;
	}
	return c->ctx;
}

/* hex gets STRIPE_SIG_HEX_LEN lowercase digits and a NUL. The message is
 * "<t>." then the payload, fed in two updates so the payload is not copied. */
static bool stripe_sig_hmac_hex(const char *secret, int64_t t,
                                const char *payload, size_t len,
                                char hex[STRIPE_SIG_HEX_LEN + 1])
{
	char prefix[STRIPE_SIG_PREFIX_MAX];
	struct fmt f;
	fmt_init(&f, prefix, sizeof prefix);
	fmt_i64(&f, t);
	fmt_mem(&f, ".", 1);
	ASSERT(!f.cut);

	unsigned char mac_out[STRIPE_SIG_MAC_LEN];
	size_t mac_len = 0;
	static const unsigned char empty[1];

	EVP_MAC_CTX *ctx = stripe_sig_ctx(secret);
	bool ok = ctx != NULL &&
	          EVP_MAC_update(ctx, (const unsigned char *)prefix, f.len) == 1 &&
	          EVP_MAC_update(ctx, len > 0 ? (const unsigned char *)payload
	                                      : empty, len) == 1 &&
	          EVP_MAC_final(ctx, mac_out, &mac_len, sizeof mac_out) == 1 &&
	          mac_len == STRIPE_SIG_MAC_LEN;
	if (!ok) {
		/* Whatever state the context is in, key it afresh next time. */
		stripe_sig_cache.keyed = false;
		return false;
	}

	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < STRIPE_SIG_MAC_LEN; i++) {
		hex[2 * i] = digits[mac_out[i] >> 4];
		hex[2 * i + 1] = digits[mac_out[i] & 0xf];
	}
	hex[STRIPE_SIG_HEX_LEN] = '\0';
	return true;
}

size_t stripe_sig_sign(const char *secret, int64_t t, const char *payload,
                       size_t len, char *out, size_t size)
{
	ASSERT(secret != NULL);
	ASSERT(secret[0] != '\0');
	ASSERT(t >= 0);
	ASSERT(payload != NULL || len == 0);
	ASSERT(out != NULL || size == 0);
	if (size > 0)
		out[0] = '\0';
	char hex[STRIPE_SIG_HEX_LEN + 1];
	if (!stripe_sig_hmac_hex(secret, t, payload, len, hex))
		return 0;
	if (size == 0)
		return 0;
	int n = snprintf(out, size, "t=%lld,v1=%s", (long long)t, hex);
	if (n < 0 || (size_t)n >= size) {
		out[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* 1 to STRIPE_SIG_T_DIGITS_MAX decimal digits that fit an int64_t. */
static bool parse_t(const char *s, size_t len, int64_t *out)
{
	if (len == 0 || len > STRIPE_SIG_T_DIGITS_MAX)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

struct sig_item {
	const char *p;
	size_t len;
};

enum stripe_sig_status stripe_sig_verify(const char *secret, const char *header,
                                         const char *payload, size_t len,
                                         int64_t now_s, int64_t tolerance_s)
{
	ASSERT(secret != NULL);
	ASSERT(secret[0] != '\0');
	ASSERT(payload != NULL || len == 0);
	ASSERT(tolerance_s >= 0);
	if (header == NULL)
		return STRIPE_SIG_MALFORMED;
	size_t hlen = strnlen(header, STRIPE_SIG_HEADER_MAX + 1);
	if (hlen > STRIPE_SIG_HEADER_MAX)
		return STRIPE_SIG_TOO_LONG;
	if (hlen == 0)
		return STRIPE_SIG_MALFORMED;

	bool have_t = false;
	int64_t t = 0;
	struct sig_item v1[STRIPE_SIG_V1_MAX];
	size_t nv1 = 0;
	size_t pos = 0;
	/* One item per pass; every pass consumes at least its separator. */
	for (size_t items = 0; items <= hlen && pos <= hlen; items++) {
		const char *comma = memchr(header + pos, ',', hlen - pos);
		size_t end = comma != NULL ? (size_t)(comma - header) : hlen;
		size_t a = pos, b = end;
		while (a < b && is_blank(header[a]))
			a++;
		while (b > a && is_blank(header[b - 1]))
			b--;
		pos = end + 1;
		if (a == b)
			return STRIPE_SIG_MALFORMED;
		const char *item = header + a;
		const char *eq = memchr(item, '=', b - a);
		if (eq == NULL)
			return STRIPE_SIG_MALFORMED;
		size_t klen = (size_t)(eq - item);
		const char *val = eq + 1;
		size_t vlen = b - a - klen - 1;
		if (klen == 1 && item[0] == 't') {
			if (have_t || !parse_t(val, vlen, &t))
				return STRIPE_SIG_MALFORMED;
			have_t = true;
		} else if (klen == 2 && item[0] == 'v' && item[1] == '1') {
			if (nv1 < STRIPE_SIG_V1_MAX)
				v1[nv1++] = (struct sig_item){val, vlen};
		}
		/* Any other scheme (v0, a future v2) is not ours to judge. */
		if (comma == NULL)
			break;
	}
	if (!have_t)
		return STRIPE_SIG_MALFORMED;
	if (nv1 == 0)
		return STRIPE_SIG_NO_V1;

	char want[STRIPE_SIG_HEX_LEN + 1];
	if (!stripe_sig_hmac_hex(secret, t, payload, len, want))
		return STRIPE_SIG_MISMATCH;
	/* Compare every candidate, match or not, so timing does not tell an
	 * attacker which entry came close. */
	bool match = false;
	for (size_t i = 0; i < nv1; i++) {
		if (v1[i].len == STRIPE_SIG_HEX_LEN &&
		    CRYPTO_memcmp(v1[i].p, want, STRIPE_SIG_HEX_LEN) == 0)
			match = true;
	}
	if (!match)
		return STRIPE_SIG_MISMATCH;

	/* |now - t| without overflow: t >= 0, now_s may be anything. */
	uint64_t skew = now_s >= t ? (uint64_t)now_s - (uint64_t)t
	                           : (uint64_t)t - (uint64_t)now_s;
	if (skew > (uint64_t)tolerance_s)
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
