/* sim/models/mail_model.c - the outbox: one allocation per message holding
 * the message and its three strings, checks a strict SMTP server would make
 * on the envelope and the data, and a header-section reader that validates
 * the whole section before reporting any field. */
#include "sim/models/mail_model.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

#define MAIL_RECORDS_MIN 64u

struct mail_record {
	struct mail_message msg;  /* strings point into text */
	uint64_t accepted_us;
	char text[];              /* from NUL to NUL data NUL */
};

struct mail_model {
	struct mail_record **records;
	size_t count, cap;
	size_t bytes;             /* data bytes kept, <= MAIL_MODEL_BYTES_MAX */
	char *scratch;            /* one header field at a time: name NUL value NUL */
};

/* ---- envelope checks ----------------------------------------------------- */

/* As lenient as a real MTA's envelope (Postfix without
 * strict_rfc821_envelopes): any address with an '@', one-label and dotless
 * domains, odd dots, quoted local parts, IP literals and UTF-8 included;
 * only what cannot travel in an SMTP command line is refused (controls,
 * spaces, the envelope's own brackets, a comma between two addresses) and the RFC 5321 path limit. What
 * makes an address unfit for a quote is the core's own check to make. */
static bool mail_address_ok(const char *a)
{
	if (a == NULL)
		return false;
	size_t len = strnlen(a, MAIL_MODEL_ADDRESS_MAX + 1);
	if (len == 0 || len > MAIL_MODEL_ADDRESS_MAX || memchr(a, '@', len) == NULL)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)a[i];
		if (c <= ' ' || c == 0x7F || c == '<' || c == '>' || c == ',')
			return false;
	}
	return true;
}

/* CR only as the first half of CRLF, LF only as its second, never NUL. */
static bool mail_data_ok(const char *d, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (d[i] == '\0' || d[i] == '\n')
			return false;
		if (d[i] == '\r') {
			if (i + 1 == len || d[i + 1] != '\n')
				return false;
			i++;
		}
	}
	return true;
}

/* ---- accepting --------------------------------------------------------- */

int mail_model_accept(struct mail_model *m, uint64_t now_us,
                      const struct mail_message *msg)
{
	ASSERT(m != NULL);
	ASSERT(msg != NULL);
	ASSERT(msg->data != NULL || msg->len == 0);
	if (!mail_address_ok(msg->from) || !mail_address_ok(msg->to))
		return 501;
	if (msg->len > MAIL_MODEL_MESSAGE_MAX)
		return 552;
	if (!mail_data_ok(msg->data, msg->len))
		return 554;
	if (m->count == MAIL_MODEL_MESSAGES_MAX ||
	    msg->len > MAIL_MODEL_BYTES_MAX - m->bytes)
		return 452;
	if (m->count == m->cap) {
		size_t cap = m->cap * 2;
		if (cap > MAIL_MODEL_MESSAGES_MAX)
			cap = MAIL_MODEL_MESSAGES_MAX;
		struct mail_record **r = realloc(m->records, cap * sizeof *r);
		if (r == NULL)
			return 452;
		m->records = r;
		m->cap = cap;
	}
	size_t flen = strlen(msg->from);
	size_t tlen = strlen(msg->to);
	struct mail_record *rec =
		malloc(sizeof *rec + flen + 1 + tlen + 1 + msg->len + 1);
	if (rec == NULL)
		return 452;
	char *from = rec->text;
	char *to = from + flen + 1;
	char *data = to + tlen + 1;
	memcpy(from, msg->from, flen + 1);
	memcpy(to, msg->to, tlen + 1);
	if (msg->len > 0)
		memcpy(data, msg->data, msg->len);
	data[msg->len] = '\0';
	rec->msg = (struct mail_message){from, to, data, msg->len};
	rec->accepted_us = now_us;
	m->records[m->count++] = rec;
	m->bytes += msg->len;
	return 250;
}

/* ---- life cycle and inspection ------------------------------------------ */

struct mail_model *mail_model_create(void)
{
	struct mail_model *m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->records = malloc(MAIL_RECORDS_MIN * sizeof *m->records);
	m->scratch = malloc(MAIL_MODEL_MESSAGE_MAX + 2);
	if (m->records == NULL || m->scratch == NULL) {
		mail_model_destroy(m);
		return NULL;
	}
	m->cap = MAIL_RECORDS_MIN;
	return m;
}

void mail_model_destroy(struct mail_model *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->count; i++)
		free(m->records[i]);
	free(m->records);
	free(m->scratch);
	free(m);
}

size_t mail_model_count(const struct mail_model *m)
{
	ASSERT(m != NULL);
	return m->count;
}

const struct mail_message *mail_model_get(const struct mail_model *m, size_t i)
{
	ASSERT(m != NULL);
	ASSERT(i < m->count);
	return &m->records[i]->msg;
}

uint64_t mail_model_accepted_us(const struct mail_model *m, size_t i)
{
	ASSERT(m != NULL);
	ASSERT(i < m->count);
	return m->records[i]->accepted_us;
}

/* ---- the header section --------------------------------------------------- */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 5322 ftext: printable US-ASCII except the colon. */
static bool is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* Hands the field built in scratch (name at 0, value from vstart, vlen
 * bytes) to fn with the value trimmed. */
static void header_emit(char *scratch, size_t vstart, size_t vlen,
                        mail_model_header_fn *fn, void *arg)
{
	char *v = scratch + vstart;
	size_t a = 0, b = vlen;
	while (a < b && is_wsp(v[a]))
		a++;
	while (b > a && is_wsp(v[b - 1]))
		b--;
	v[b] = '\0';
	fn(arg, scratch, v + a);
}

/* One pass over the header section. With fn NULL it only validates. Lines
 * end with CRLF (accept guarantees there is no bare CR or LF); the last
 * line may end at the end of data. */
static bool header_pass(const struct mail_message *msg, char *scratch,
                        mail_model_header_fn *fn, void *arg)
{
	const char *d = msg->data;
	size_t len = msg->len;
	size_t pos = 0;
	bool open = false;        /* a field is being built */
	size_t vstart = 0, vlen = 0;
	/* Each pass consumes one line of at least its CRLF or the rest. */
	for (size_t lines = 0; lines <= len && pos < len; lines++) {
		const char *cr = memmem(d + pos, len - pos, "\r\n", 2);
		size_t eol = cr != NULL ? (size_t)(cr - d) : len;
		size_t next = cr != NULL ? eol + 2 : len;
		const char *line = d + pos;
		size_t llen = eol - pos;
		pos = next;
		if (llen == 0)
			break; /* the empty line: the body follows */
		if (is_wsp(line[0])) {
			if (!open)
				return false; /* a continuation of nothing */
			if (fn != NULL)
				memcpy(scratch + vstart + vlen, line, llen);
			vlen += llen;
			continue;
		}
		if (open && fn != NULL)
			header_emit(scratch, vstart, vlen, fn, arg);
		size_t n = 0;
		while (n < llen && is_ftext((unsigned char)line[n]))
			n++;
		if (n == 0 || n == llen || line[n] != ':')
			return false;
		vstart = n + 1;
		vlen = llen - n - 1;
		if (fn != NULL) {
			memcpy(scratch, line, n);
			scratch[n] = '\0';
			memcpy(scratch + vstart, line + n + 1, vlen);
		}
		open = true;
	}
	if (open && fn != NULL)
		header_emit(scratch, vstart, vlen, fn, arg);
	return true;
}

bool mail_model_headers(const struct mail_model *m, size_t i,
                        mail_model_header_fn *fn, void *arg)
{
	ASSERT(m != NULL);
	ASSERT(fn != NULL);
	ASSERT(i < m->count);
	const struct mail_message *msg = &m->records[i]->msg;
	/* Validate first so that a malformed section reports nothing. */
	if (!header_pass(msg, NULL, NULL, NULL))
		return false;
	/* A field's name, NUL and value never exceed the message's bytes, so
	 * scratch (MAIL_MODEL_MESSAGE_MAX + 2) always holds it. */
	return header_pass(msg, m->scratch, fn, arg);
}
