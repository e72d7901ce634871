/* core/webhook.h - Stripe's payment_intent.succeeded webhook marks the
 * matching order paid. Verifies the Stripe-Signature, parses the event
 * (jansson) and applies it through the SQL port. One object per env;
 * callbacks run on the env's loop; not thread-safe. Not an HTTP server:
 * the caller turns the status into a response. */
#ifndef CORE_WEBHOOK_H
#define CORE_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "core/env.h"

#define WEBHOOK_PAYLOAD_MAX (64u * 1024u) /* octets of one event body */
#define WEBHOOK_ID_MAX 255                /* octets of an event or object id */
#define WEBHOOK_SECRET_MAX 256            /* octets of the signing secret */
#define WEBHOOK_TOLERANCE_S_MAX 86400     /* largest signature age accepted */

struct webhook_config {
	enum variant variant;
	const char *secret;  /* signing secret, copied */
	int64_t tolerance_s; /* 0 .. WEBHOOK_TOLERANCE_S_MAX */
};

/* http_status: 200 handled (applied, already applied, or ignored type);
 * 400 bad signature or malformed event (nothing written); 500 failed, the
 * sender should retry. */
typedef void webhook_done_fn(void *arg, int http_status);

struct webhook;

/* NULL when cfg is out of range (no secret, secret too long, tolerance out
 * of range). env is borrowed and must outlive the object. Aborts when out
 * of memory. */
struct webhook *webhook_create(const struct core_env *env, const struct webhook_config *cfg);
/* Accepts NULL. Every delivery must have completed (asserted). */
void webhook_destroy(struct webhook *wh);

/* Handles one delivery; signature_header and payload are borrowed for the
 * call. Calls done exactly once, never before returning; wh may be
 * destroyed from done.
 *   legacy:   upsert the event, SELECT processed_at; NULL -> mark the order
 *             paid, mark processed. Concurrent copies both pay.
 *   seed:     INSERT ... ON CONFLICT DO NOTHING; a conflict is a duplicate
 *             (`[Webhook]` log); new -> mark paid, mark processed, each in
 *             autocommit. A failure after the insert loses the event.
 *   hardened: BEGIN; claim the event; mark the order paid if pending and
 *             record the effect; mark processed; COMMIT; only then 200.
 *             Any failure rolls back and answers 500. */
void webhook_handle(struct webhook *wh, const char *signature_header, const char *payload, size_t len,
                    webhook_done_fn *done, void *arg);

#endif
