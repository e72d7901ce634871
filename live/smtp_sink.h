/* live/smtp_sink.h - a minimal SMTP server on 127.0.0.1 that records
 * each message exactly as received (envelope and data) for the email-safe
 * invariant. Its own thread and event_base, so a client that blocks on it
 * (libcurl's wait for the reply to the final ".") cannot deadlock the run.
 * Not a relay: nothing is delivered anywhere; no AUTH, no TLS. */
#ifndef SIM_LIVE_SMTP_SINK_H
#define SIM_LIVE_SMTP_SINK_H

#include <stddef.h>
#include <stdint.h>

struct smtp_sink;

#define SMTP_SINK_LINE_MAX 1000          /* bytes of one line, CRLF included
                                          * (RFC 5321 text line limit) */
#define SMTP_SINK_RCPT_MAX 16            /* recipients of one message */
#define SMTP_SINK_MESSAGES_MAX 4096      /* messages kept */
#define SMTP_SINK_SESSIONS_MAX 256       /* upper bound of sessions_max */

struct smtp_sink_config {
	int port;                    /* 0: any free port */
	size_t message_max;          /* > 0: bytes of one message's data; past
	                              * it: 552 and the message is dropped */
	int sessions_max;            /* 1 .. SMTP_SINK_SESSIONS_MAX connections
	                              * at once; past it: 421 and close */
	uint64_t idle_timeout_us;    /* > 0: a silent client gets 421 */
	const char *reject_domain;   /* RCPT TO addresses @ this domain get
	                              * 550 (a scripted refusal); NULL: none */
};

struct smtp_sink_message {
	const char *helo;                     /* the EHLO/HELO argument */
	const char *from;                     /* MAIL FROM address, no <> */
	const char *rcpt[SMTP_SINK_RCPT_MAX]; /* RCPT TO addresses, no <> */
	int nrcpt;
	const char *data;                     /* after dot-unstuffing, without
	                                       * the final ".\r\n" line */
	size_t len;
};

/* Speaks EHLO/HELO, MAIL FROM, RCPT TO, DATA (dot-unstuffed), RSET, NOOP
 * and QUIT; anything else gets 502. Listens on 127.0.0.1 only and serves
 * from a thread of its own. NULL
 * with a message in err (errsize bytes) on a bad configuration, a port in
 * use, or out of memory. */
struct smtp_sink *smtp_sink_create(const struct smtp_sink_config *cfg,
                                   char *err, size_t errsize);
/* Accepts NULL. Stops the thread, closes every session. */
void smtp_sink_destroy(struct smtp_sink *ss);

int smtp_sink_port(const struct smtp_sink *ss);

/* Messages accepted, oldest first; a message is recorded before its 250
 * goes out. A message is borrowed until smtp_sink_clear or destroy.
 * i < smtp_sink_count. Callable from any thread. */
size_t smtp_sink_count(const struct smtp_sink *ss);
const struct smtp_sink_message *smtp_sink_message(const struct smtp_sink *ss,
                                                  size_t i);
void smtp_sink_clear(struct smtp_sink *ss);

#endif
