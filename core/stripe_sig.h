/* core/stripe_sig.h - Stripe-Signature headers: sign and verify webhook
 * payloads with HMAC-SHA256 (header "t=<unix s>,v1=<hex>").
 * TEMPORARY copy in the core branch so the webhook builds; the stripe_sig
 * engineer's version replaces it at merge. Pure: no I/O, no clock. */
#ifndef CORE_STRIPE_SIG_H
#define CORE_STRIPE_SIG_H

#include <stddef.h>
#include <stdint.h>

enum stripe_sig_status { STRIPE_SIG_OK, STRIPE_SIG_MALFORMED, STRIPE_SIG_NO_V1, STRIPE_SIG_MISMATCH,
                         STRIPE_SIG_STALE, STRIPE_SIG_TOO_LONG };

/* Writes "t=<t>,v1=<hex>" and a NUL into out; returns its length, or 0 when
 * size is too small. */
size_t stripe_sig_sign(const char *secret, int64_t t, const char *payload, size_t len, char *out, size_t size);
/* Checks header against payload under secret, then the timestamp against
 * now_s within tolerance_s. */
enum stripe_sig_status stripe_sig_verify(const char *secret, const char *header, const char *payload,
                                         size_t len, int64_t now_s, int64_t tolerance_s);
const char *stripe_sig_status_name(enum stripe_sig_status s);

#define STRIPE_SIG_TOLERANCE_S 300

#endif
