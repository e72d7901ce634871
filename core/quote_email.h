/* core/quote_email.h - e-mails a quote to its customer through the mail
 * port: builds the message (headers, CRLF, UTF-8 text body), checks the
 * customer's name and address as far as the variant does, and in the
 * hardened variant sends at most one mail per quote. One object per env;
 * callbacks run on the env's loop; not thread-safe. Not a template engine. */
#ifndef CORE_QUOTE_EMAIL_H
#define CORE_QUOTE_EMAIL_H

#include <stddef.h>

#include "core/env.h"

#define QUOTE_EMAIL_REF_MAX 64        /* hardened: octets of a quote ref */
#define QUOTE_EMAIL_FIELD_MAX 1024    /* octets of any field put in a message */
#define QUOTE_EMAIL_MESSAGE_MAX 16384u /* octets of one whole message */

struct quote_email_config {
	enum variant variant;
	const char *from_address; /* copied; must be a valid address */
	const char *from_name;    /* copied; a valid display name */
};

struct quote {
	const char *ref;            /* NUL-terminated */
	const char *customer_name;  /* NULL = missing; any bytes */
	size_t name_len;
	const char *customer_email; /* NULL = missing; any bytes */
	size_t email_len;
};

enum quote_email_status {
	QUOTE_EMAIL_SENT,
	QUOTE_EMAIL_INVALID,      /* refused before sending; nothing sent */
	QUOTE_EMAIL_ALREADY_SENT, /* hardened: this quote was mailed (or handed
	                           * to a server that timed out) before */
	QUOTE_EMAIL_FAILED,       /* the mail (or its claim) failed */
	QUOTE_EMAIL_UNHANDLED,    /* legacy: the original died here */
};

const char *quote_email_status_name(enum quote_email_status st);

typedef void quote_email_done_fn(void *arg, enum quote_email_status st);

struct quote_email;

/* NULL when from_address or from_name is invalid or too long. env is
 * borrowed and must outlive the object. Aborts when out of memory. */
struct quote_email *quote_email_create(const struct core_env *env, const struct quote_email_config *cfg);
/* Accepts NULL. Every send must have completed (asserted). */
void quote_email_destroy(struct quote_email *qe);

/* Mails quote q (borrowed for the call). Calls done exactly once, never
 * before returning; qe may be destroyed from done.
 *   legacy:   NULL name -> UNHANDLED with a generic log line only; anything
 *             else is sent as is (empty names, CR/LF inside headers).
 *   seed:     NULL, empty or ASCII-white-space-only name or address ->
 *             INVALID, `[Email]` log with ref and address, no send.
 *   hardened: name and address checked (core/email_check.h), non-ASCII
 *             names as RFC 2047 words, first name split on Unicode white
 *             space; SQL_QUOTE_CLAIM first, with a token of the attempt;
 *             taken and marked sent -> ALREADY_SENT, taken but not marked
 *             -> FAILED; a sent mail or a send timeout marks the claim
 *             sent, a definite send failure or a claim of unknown outcome
 *             releases it (by its token).
 * Every variant: a mail port failure -> FAILED; so is a name or address
 * over QUOTE_EMAIL_FIELD_MAX or a message over QUOTE_EMAIL_MESSAGE_MAX
 * (logged), which the legacy and seed checks do not catch earlier. */
void quote_email_send(struct quote_email *qe, const struct quote *q, quote_email_done_fn *done, void *arg);

#endif
