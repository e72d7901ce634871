/* live/curl_loop.h - libcurl's multi interface on the run's event_base,
 * shared by the HTTP (stripe_live) and SMTP (mail_live) adapters. It owns
 * the easy handles it runs, bounds the transfers and the response bodies,
 * and calls back once per transfer from the loop. Not for blocking
 * transfers; not thread-safe. */
#ifndef SIM_LIVE_CURL_LOOP_H
#define SIM_LIVE_CURL_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "core/result.h"

struct event_base;
struct curl_loop;

#define CURL_LOOP_TRANSFERS_MAX 1024      /* upper bound of transfers_max */
#define CURL_LOOP_BODY_MAX (256u << 10)   /* response body bytes kept */

struct curl_loop_response {
	CURLcode code;      /* CURLE_OK when the transfer completed */
	long status;        /* the last HTTP status or SMTP reply code, 0 if
	                     * none came */
	const char *body;   /* NUL-terminated response body; "" when none */
	size_t body_len;
	bool body_too_big;  /* past CURL_LOOP_BODY_MAX: the transfer was cut,
	                     * code is CURLE_WRITE_ERROR */
	const char *error;  /* curl's message for code, "" when none */
};

/* easy is the transfer's handle: read it (curl_easy_getinfo,
 * curl_easy_header) but do not clean it up. r is borrowed for the call. */
typedef void curl_loop_done_fn(void *arg, CURL *easy,
                               const struct curl_loop_response *r);

/* base is borrowed and must outlive the loop. transfers_max in
 * 1 .. CURL_LOOP_TRANSFERS_MAX. NULL when out of memory. */
struct curl_loop *curl_loop_create(struct event_base *base, int transfers_max);

/* Accepts NULL. Abandons running transfers without calling back. Never from
 * inside one of its callbacks. */
void curl_loop_destroy(struct curl_loop *cl);

/* Runs the transfer configured on easy. Takes ownership of easy in every
 * case and sets its WRITEFUNCTION, WRITEDATA, PRIVATE, ERRORBUFFER and
 * NOSIGNAL. RESULT_OK: done runs exactly once, on a later pass of the loop,
 * and easy is cleaned up after done returns. RESULT_NOMEM: transfers_max
 * transfers are running or memory is short; easy is already cleaned up and
 * done will not run. */
enum result curl_loop_start(struct curl_loop *cl, CURL *easy,
                            curl_loop_done_fn *done, void *arg) MUST_USE;

/* Stops a transfer started on cl whose callback has not run: cleans easy
 * up; done will not run. */
void curl_loop_cancel(struct curl_loop *cl, CURL *easy);

/* Transfers started and not yet called back. */
int curl_loop_running(const struct curl_loop *cl);

#endif
