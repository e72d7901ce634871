/* core/dedup.h - rejects a request resubmitted within ttl_ms, with one
 * SET "dedup:<request_key>" <token> NX PX ttl_ms in the key-value port.
 * One object per env; callbacks run on the env's loop; not thread-safe.
 * Not a store of responses: it answers only "new" or "duplicate". */
#ifndef CORE_DEDUP_H
#define CORE_DEDUP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/env.h"
#include "core/result.h"

#define DEDUP_KEY_MAX 200                  /* octets in a request key */
#define DEDUP_TTL_MS_MAX (86400u * 1000u)  /* one day */
#define DEDUP_RETRIES_MAX 1                /* hardened: SETs again after a timeout */

struct dedup_config {
	enum variant variant;
	uint64_t ttl_ms; /* 1 .. DEDUP_TTL_MS_MAX */
};

enum dedup_verdict { DEDUP_NEW, DEDUP_DUPLICATE };

/* failed_open: the answer NEW was given without Redis confirming it (the
 * store failed); the report counts duplicates let through this way.
 * rc is RESULT_OK, or RESULT_REJECT (verdict NEW) when request_key is empty
 * or longer than DEDUP_KEY_MAX. */
typedef void dedup_done_fn(void *arg, enum result rc, enum dedup_verdict verdict, bool failed_open);

struct dedup;

/* NULL when cfg is out of range. env is borrowed and must outlive the
 * object; cfg is copied. Aborts when out of memory. */
struct dedup *dedup_create(const struct core_env *env, const struct dedup_config *cfg);
/* Accepts NULL. Every check must have completed (asserted). */
void dedup_destroy(struct dedup *d);

/* Claims request_key (borrowed for the call) with a token unique to this
 * call. Calls done exactly once, never before returning; d may be destroyed
 * from done.
 *   all:      reply OK -> NEW; nil -> DUPLICATE.
 *   legacy:   timeout, connection loss or error reply -> DUPLICATE.
 *   seed:     timeout or connection loss -> NEW, failed_open, `[Dedup]`
 *             warning; an error reply -> DUPLICATE.
 *   hardened: after a timeout, SET NX once more; nil then -> GET: our token
 *             means our own lost write -> NEW; another value -> DUPLICATE;
 *             any failure left -> NEW, failed_open, `[Dedup]` warning. */
void dedup_check(struct dedup *d, const char *request_key, dedup_done_fn *done, void *arg);

#endif
