/* fuzz/fuzz_stripe_sig.c - fuzz target over stripe_sig_verify, checked
 * against a plain reference reading of the contract in core/stripe_sig.h.
 * Half the inputs carry a genuine signature (made by the harness with a
 * secret the fuzzer never sees) among junk items, so OK and STALE are
 * reached; without it, accepting a header would be a forgery.
 * Input: mode, t (8 bytes), now (8), tolerance (2), repeat (1), then the
 * junk items up to LF, then the payload. */
#include "fuzz/fuzz.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/assert.h"
#include "core/stripe_sig.h"

#define FUZZ_SIG_JUNK_MAX (STRIPE_SIG_HEADER_MAX + 512) /* junk kept, repeats included */
#define FUZZ_SIG_HEADER_SIZE (2 * FUZZ_SIG_JUNK_MAX + 128)
#define FUZZ_SIG_TAMPER_MAX (1u << 16) /* payload bytes copied to tamper with */

enum fuzz_sig_mode {
	FUZZ_SIG_RAW,    /* the header is the junk alone */
	FUZZ_SIG_AFTER,  /* "t=..,v1=..," then the junk */
	FUZZ_SIG_BEFORE, /* the junk, then ",t=..,v1=.." */
	FUZZ_SIG_MODES
};

struct fuzz_sig_ref_item {
	const char *p;
	size_t len;
};

static bool fuzz_sig_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The contract, read literally: items split on ',', blanks around an item
 * dropped, each item "key=value"; "t" once, 1 to 19 digits within int64;
 * the first STRIPE_SIG_V1_MAX "v1" values are candidates. */
static enum stripe_sig_status fuzz_sig_reference(const char *header, const char *payload, size_t len,
                                                 int64_t now_s, int64_t tolerance_s)
{
	size_t hlen = strlen(header);
	if (hlen > STRIPE_SIG_HEADER_MAX)
		return STRIPE_SIG_TOO_LONG;
	if (hlen == 0)
		return STRIPE_SIG_MALFORMED;

	struct fuzz_sig_ref_item v1[STRIPE_SIG_V1_MAX];
	size_t nv1 = 0;
	bool have_t = false;
	int64_t t = 0;
	size_t start = 0;
	while (start <= hlen) {
		size_t end = start;
		while (end < hlen && header[end] != ',')
			end++;
		size_t a = start, b = end;
		while (a < b && fuzz_sig_blank(header[a]))
			a++;
		while (b > a && fuzz_sig_blank(header[b - 1]))
			b--;
		const char *eq = memchr(header + a, '=', b - a);
		if (a == b || eq == NULL)
			return STRIPE_SIG_MALFORMED;
		const char *key = header + a;
		size_t klen = (size_t)(eq - key);
		const char *val = eq + 1;
		size_t vlen = (size_t)(header + b - val);
		if (klen == 1 && key[0] == 't') {
			if (have_t || vlen == 0 || vlen > 19)
				return STRIPE_SIG_MALFORMED;
			unsigned long long v = 0;
			for (size_t i = 0; i < vlen; i++) {
				if (val[i] < '0' || val[i] > '9')
					return STRIPE_SIG_MALFORMED;
				v = v * 10 + (unsigned long long)(val[i] - '0');
			}
			if (v > (unsigned long long)INT64_MAX)
				return STRIPE_SIG_MALFORMED;
			t = (int64_t)v;
			have_t = true;
		} else if (klen == 2 && memcmp(key, "v1", 2) == 0 && nv1 < STRIPE_SIG_V1_MAX) {
			v1[nv1++] = (struct fuzz_sig_ref_item){val, vlen};
		}
		start = end + 1;
	}
	if (!have_t)
		return STRIPE_SIG_MALFORMED;
	if (nv1 == 0)
		return STRIPE_SIG_NO_V1;

	char good[STRIPE_SIG_HEX_LEN + 64];
	size_t n = stripe_sig_sign(FUZZ_SECRET, t, payload, len, good, sizeof good);
	ASSERT(n > 0);
	const char *hex = strstr(good, ",v1=");
	ASSERT(hex != NULL);
	hex += 4;
	/* CRYPTO_memcmp, not memcmp: libFuzzer watches memcmp's arguments and
	 * would copy the genuine signature into its next inputs. */
	bool match = false;
	for (size_t i = 0; i < nv1; i++)
		match |= v1[i].len == STRIPE_SIG_HEX_LEN && CRYPTO_memcmp(v1[i].p, hex, STRIPE_SIG_HEX_LEN) == 0;
	if (!match)
		return STRIPE_SIG_MISMATCH;
	/* In 128 bits nothing wraps. */
	__int128 skew = (__int128)now_s - (__int128)t;
	if (skew < 0)
		skew = -skew;
	return skew > (__int128)tolerance_s ? STRIPE_SIG_STALE : STRIPE_SIG_OK;
}

int fuzz_stripe_sig_one(const uint8_t *data, size_t size)
{
	struct fuzz_reader in = {data, size};
	uint8_t mode = fuzz_take_u8(&in);
	uint64_t t_raw = fuzz_take_u64(&in);
	uint64_t now_raw = fuzz_take_u64(&in);
	uint16_t tol_raw = fuzz_take_u16(&in);
	uint8_t repeat = fuzz_take_u8(&in);
	size_t junk_len, len;
	const uint8_t *junk = fuzz_take_line(&in, &junk_len);
	const uint8_t *payload = fuzz_take_bytes(&in, in.left, &len);

	/* t near now (seconds either side) half the time, so both sides of
	 * the tolerance are met; any int64 >= 0 otherwise. */
	int64_t now_s = (mode & 0x10) ? (int64_t)now_raw : FUZZ_NOW_S;
	int64_t t = (mode & 0x20) ? (int64_t)(t_raw >> 1) : FUZZ_NOW_S + (int16_t)t_raw;
	if (t < 0)
		t = 0;
	int64_t tolerance_s = (mode & 0x40) ? (int64_t)tol_raw * 1319 : tol_raw % 1024;

	/* The junk, NUL-cut like any C string header, repeated to reach the
	 * length limit without a huge input. */
	static char junk_s[FUZZ_SIG_JUNK_MAX + 1];
	size_t jn = strnlen((const char *)junk, junk_len);
	size_t jl = 0;
	for (unsigned r = 0; r <= (unsigned)(repeat % 64) && jn > 0 && jl + jn <= FUZZ_SIG_JUNK_MAX; r++) {
		memcpy(junk_s + jl, junk, jn);
		jl += jn;
	}
	junk_s[jl] = '\0';

	static char header[FUZZ_SIG_HEADER_SIZE];
	char sig[STRIPE_SIG_HEX_LEN + 64];
	const char *pl = len > 0 ? (const char *)payload : NULL;
	enum fuzz_sig_mode m = (enum fuzz_sig_mode)((mode & 0x0f) % FUZZ_SIG_MODES);
	if (m != FUZZ_SIG_RAW)
		ASSERT(stripe_sig_sign(FUZZ_SECRET, t, pl, len, sig, sizeof sig) > 0);
	switch (m) {
	case FUZZ_SIG_RAW:
		snprintf(header, sizeof header, "%s", junk_s);
		break;
	case FUZZ_SIG_AFTER:
		snprintf(header, sizeof header, "%s%s%s", sig, jl > 0 ? "," : "", junk_s);
		break;
	case FUZZ_SIG_BEFORE:
		snprintf(header, sizeof header, "%s%s%s", junk_s, jl > 0 ? "," : "", sig);
		break;
	case FUZZ_SIG_MODES:
		ASSERT(!"bad mode");
	}

	enum stripe_sig_status got = stripe_sig_verify(FUZZ_SECRET, header, pl, len, now_s, tolerance_s);
	enum stripe_sig_status want = fuzz_sig_reference(header, pl, len, now_s, tolerance_s);
	if (got != want)
		fprintf(stderr, "stripe_sig_verify: got %s, the contract says %s\n", stripe_sig_status_name(got),
		        stripe_sig_status_name(want));
	ASSERT(got == want);
	ASSERT(strcmp(stripe_sig_status_name(got), "?") != 0);

	/* A genuine signature in front of well-formed junk always verifies
	 * (or is merely stale): junk after it cannot push it out. */
	if (m == FUZZ_SIG_AFTER && got != STRIPE_SIG_MALFORMED && got != STRIPE_SIG_TOO_LONG)
		ASSERT(got == STRIPE_SIG_OK || got == STRIPE_SIG_STALE);

	/* One payload byte changed: the header verifies only if it also holds
	 * a genuine signature of the changed payload (the reference knows). */
	if (len > 0 && len <= FUZZ_SIG_TAMPER_MAX && (got == STRIPE_SIG_OK || got == STRIPE_SIG_STALE)) {
		static char tampered[FUZZ_SIG_TAMPER_MAX];
		memcpy(tampered, payload, len);
		tampered[len - 1] ^= 0x01;
		enum stripe_sig_status t2 = stripe_sig_verify(FUZZ_SECRET, header, tampered, len, now_s, tolerance_s);
		ASSERT(t2 == fuzz_sig_reference(header, tampered, len, now_s, tolerance_s));
		if (m == FUZZ_SIG_AFTER && strstr(junk_s, "v1=") == NULL)
			ASSERT(t2 == STRIPE_SIG_MISMATCH);
	}
	return 0;
}

#ifdef FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_stripe_sig_one(data, size);
}
#endif
