/* live/mail_live.h - the mail port (core/env.h struct mail_port) over
 * SMTP with libcurl, through the shared curl_loop: to the built-in sink
 * (smtp_sink.h) at smtp://127.0.0.1:PORT or to any SMTP server URL. Not for
 * the simulated runs; no AUTH; not thread-safe. */
#ifndef SIM_LIVE_MAIL_LIVE_H
#define SIM_LIVE_MAIL_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/env.h"

struct curl_loop;
struct sched;
struct mail_live;

#define MAIL_LIVE_URL_MAX 512             /* bytes of the server URL */
#define MAIL_LIVE_ADDRESS_MAX 254         /* RFC 5321 path limit */
#define MAIL_LIVE_MESSAGE_MAX (1u << 20)  /* bytes of one message */

struct mail_live_config {
	const char *url;      /* "smtp://HOST:PORT" or "smtps://..."; copied */
	uint64_t timeout_us;  /* >= 1000: deadline of one send, connect
	                       * included */
};

/* cl and s are borrowed and must outlive the adapter. NULL with a message
 * in err on a bad configuration or out of memory. */
struct mail_live *mail_live_create(struct curl_loop *cl, struct sched *s,
                                   const struct mail_live_config *cfg,
                                   char *err, size_t errsize);

/* Accepts NULL. Sends still running are cancelled without callbacks. Never
 * from inside one of its callbacks. */
void mail_live_destroy(struct mail_live *ml);

/* Known limit of libcurl (curl issue #8555): it reads the reply to the
 * final "." (and to QUIT when it closes a connection) in a blocking call,
 * so each send holds the loop for that one round trip, at most timeout_us.
 * A server on the same thread would deadlock: smtp_sink has its own.
 *
 * Fills *out with the port. Its contract (core/env.h) holds; the message's
 * data is copied, so it is borrowed only for the call. Outcomes:
 *  - OUTCOME_OK, smtp_code 250: the server accepted the message;
 *  - OUTCOME_ERROR with the server's 4xx/5xx code (the first refusal ends
 *    the transaction), or smtp_code 0 when nothing was sent because an
 *    address has control characters or <>, or is past its limit, or the
 *    message is past MAIL_LIVE_MESSAGE_MAX;
 *  - OUTCOME_TIMEOUT when the deadline passed (the message may or may not
 *    have been accepted);
 *  - OUTCOME_CONN_LOST when the connection was refused, reset or closed
 *    without a refusal code, or the curl_loop is at its bound (not sent). */
void mail_live_port(struct mail_live *ml, struct mail_port *out);

/* Sends whose callback has not run yet. */
uint64_t mail_live_pending(const struct mail_live *ml);

#endif
