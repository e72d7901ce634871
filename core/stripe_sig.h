/* core/stripe_sig.h - Stripe webhook signatures: the simulator signs the
 * deliveries it makes, core's webhook handler verifies them. The header is
 * "t=<unix seconds>,v1=<hex>[,v1=...][,v0=...]" where v1 is the lowercase
 * hex of HMAC-SHA256(endpoint secret, "<t>.<payload>"). Pure computation on
 * OpenSSL libcrypto: no I/O, no clock (the caller passes now_s). */
#ifndef CORE_STRIPE_SIG_H
#define CORE_STRIPE_SIG_H

#include <stddef.h>
#include <stdint.h>

#define STRIPE_SIG_HEADER_MAX 4096     /* bytes of header read, NUL excluded */
#define STRIPE_SIG_V1_MAX 8            /* v1 entries considered */
#define STRIPE_SIG_TOLERANCE_S 300     /* Stripe libraries' default */
#define STRIPE_SIG_HEX_LEN 64          /* hex digits of one v1 signature */

enum stripe_sig_status {
	STRIPE_SIG_OK,
	STRIPE_SIG_MALFORMED, /* empty, no t, t not a decimal integer, t twice,
	                       * an item without '=', an empty item */
	STRIPE_SIG_NO_V1,     /* well formed but not one v1 entry */
	STRIPE_SIG_MISMATCH,  /* no v1 entry matches the payload and secret */
	STRIPE_SIG_STALE,     /* a signature matches but |now - t| > tolerance */
	STRIPE_SIG_TOO_LONG,  /* header over STRIPE_SIG_HEADER_MAX bytes */
};

/* Writes "t=<t>,v1=<hex>" (NUL-terminated) into out and returns its length;
 * returns 0 (and out[0] = '\0' when size > 0) if size is too small or the
 * HMAC cannot be computed. secret is non-empty, t >= 0, payload may hold
 * any bytes (NULL only when len is 0). */
size_t stripe_sig_sign(const char *secret, int64_t t, const char *payload,
                       size_t len, char *out, size_t size);

/* Verifies header (external input; NULL counts as malformed) against the
 * payload at wall time now_s, allowing tolerance_s >= 0 seconds of skew
 * either way. Items are comma-separated "key=value" with spaces and tabs
 * around an item ignored; keys are case-sensitive; unknown schemes (v0 ...)
 * are ignored; only the first STRIPE_SIG_V1_MAX v1 entries are compared, in
 * constant time, and any match passes. t is 1 to 19 decimal digits. The
 * tolerance is checked only after a signature matches, as Stripe's
 * libraries do, so STALE means "authentic but old (or from the future)".
 * If the HMAC cannot be computed the result is MISMATCH: fail closed. */
enum stripe_sig_status stripe_sig_verify(const char *secret, const char *header,
                                         const char *payload, size_t len,
                                         int64_t now_s, int64_t tolerance_s);

/* "ok", "malformed", "no_v1", "mismatch", "stale", "too_long". */
const char *stripe_sig_status_name(enum stripe_sig_status s);

#endif
