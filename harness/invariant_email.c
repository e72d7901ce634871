/* harness/invariant_email.c - the quote e-mail's contract and the oracle that
 * decides which customer data is valid. Messages are read as a mail client
 * reads them, with GMime (RFC 5322 headers, RFC 2047 encoded-words); GMime
 * is used here only, never in core/. */
#include "harness/invariant.h"

#include <stdio.h>
#include <string.h>

#include <gmime/gmime.h>

#include "harness/invariant_int.h"

#define QE_FROM "Faultline Quotes <quotes@faultline.invalid>"

static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
static bool is_unicode_space(uint32_t c);

/* ---- the message as a mail client sees it ---------------------------------- */

/* The first name the greeting must use: the name up to its first Unicode
 * white space, leading white space skipped. */
static void first_name(const char *s, size_t n, size_t *start, size_t *len)
{
	size_t i = 0;
	uint32_t c;
	size_t k;
	while (i < n && (k = utf8_decode((const unsigned char *)s + i, n - i, &c)) > 0 &&
	       is_unicode_space(c))
		i += k;
	*start = i;
	while (i < n && (k = utf8_decode((const unsigned char *)s + i, n - i, &c)) > 0 &&
	       !is_unicode_space(c))
		i += k;
	*len = i - *start;
}

static bool mail_fail(char *why, size_t size, const char *fmt, const char *a)
{
	snprintf(why, size, fmt, a);
	return false;
}

/* The length of the first encoded-word (=?charset?enc?text?=) in a raw
 * header value longer than the 75 characters RFC 2047 section 2 allows;
 * 0 when none is. */
static size_t encoded_word_over_limit(const char *raw)
{
	const char *p = raw;
	while (p != NULL && (p = strstr(p, "=?")) != NULL) {
		const char *q = strchr(p + 2, '?');             /* after the charset */
		q = q != NULL ? strchr(q + 1, '?') : NULL;      /* after the encoding */
		const char *end = q != NULL ? strstr(q + 1, "?=") : NULL;
		if (end == NULL)
			return 0;
		size_t len = (size_t)(end + 2 - p);
		if (len > 75)
			return len;
		p = end + 2;
	}
	return 0;
}

/* Each field once, only the expected ones, each with exactly its own value. */
static bool mail_headers_ok(GMimeMessage *msg, const struct quote_spec *q, char *why, size_t size)
{
	static const char *const names[] = {"From", "To", "Subject", "Message-ID", "MIME-Version",
	                                    "Content-Type", "Content-Transfer-Encoding", "Date"};
	unsigned seen = 0;
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	int count = g_mime_header_list_get_count(hl);
	for (int i = 0; i < count; i++) {
		GMimeHeader *hd = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(hd);
		size_t k;
		for (k = 0; k < sizeof names / sizeof names[0]; k++) {
			if (g_ascii_strcasecmp(name, names[k]) == 0)
				break;
		}
		if (k == sizeof names / sizeof names[0])
			return mail_fail(why, size, "unexpected header '%.60s'", name);
		if (seen & (1u << k))
			return mail_fail(why, size, "header '%.60s' appears twice", name);
		seen |= 1u << k;
		size_t over = encoded_word_over_limit(g_mime_header_get_raw_value(hd));
		if (over > 0) {
			int w = snprintf(why, size, "header '%.30s' holds an encoded-word of %zu "
			                 "characters, over RFC 2047's 75", name, over);
			(void)w; /* a cut message still names the fault */
			return false;
		}
	}
	if ((seen & 7u) != 7u)
		return mail_fail(why, size, "%s", "missing From, To or Subject");
	char want[160];
	InternetAddressList *from = g_mime_message_get_from(msg);
	char *from_s = from != NULL ? internet_address_list_to_string(from, NULL, FALSE) : NULL;
	bool from_ok = from_s != NULL && strcmp(from_s, QE_FROM) == 0;
	g_free(from_s);
	if (!from_ok)
		return mail_fail(why, size, "%s", "From is not the sender's own");
	snprintf(want, sizeof want, "Your quote %s", q->ref);
	const char *subject = g_mime_message_get_subject(msg);
	if (subject == NULL || strcmp(subject, want) != 0)
		return mail_fail(why, size, "Subject '%.60s' is not the quote's own",
		                 subject != NULL ? subject : "");
	snprintf(want, sizeof want, "quote-%s@faultline.invalid", q->ref);
	const char *mid = g_mime_message_get_message_id(msg);
	if (mid == NULL || strcmp(mid, want) != 0)
		return mail_fail(why, size, "Message-ID '%.60s' is not the quote's own",
		                 mid != NULL ? mid : "");
	return true;
}

/* Exactly one recipient: the customer's address, with a display name that
 * decodes back to the customer's name. */
static bool mail_to_ok(GMimeMessage *msg, const struct quote_spec *q, char *why, size_t size)
{
	InternetAddressList *to = g_mime_message_get_to(msg);
	if (to == NULL || internet_address_list_length(to) != 1)
		return mail_fail(why, size, "%s", "To does not name exactly one recipient");
	InternetAddress *ia = internet_address_list_get_address(to, 0);
	if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
		return mail_fail(why, size, "%s", "To names a group, not a mailbox");
	/* the address as sent (A-labels), not the one a client shows */
	const char *addr = internet_address_mailbox_get_idn_addr(INTERNET_ADDRESS_MAILBOX(ia));
	if (addr == NULL || strlen(addr) != q->email_len || memcmp(addr, q->email, q->email_len) != 0)
		return mail_fail(why, size, "To address '%.60s' is not the customer's",
		                 addr != NULL ? addr : "");
	const char *name = internet_address_get_name(ia);
	if (name == NULL || strlen(name) != q->name_len || memcmp(name, q->name, q->name_len) != 0)
		return mail_fail(why, size, "To display name decodes to '%.60s', not the "
		                 "customer's name", name != NULL ? name : "");
	return true;
}

/* The greeting uses the first name. */
static bool mail_body_ok(GMimeMessage *msg, const struct quote_spec *q, char *why, size_t size)
{
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	if (body == NULL || !GMIME_IS_TEXT_PART(body))
		return mail_fail(why, size, "%s", "the body is not one text part");
	char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(body));
	size_t start, len;
	first_name(q->name, q->name_len, &start, &len);
	char want[SCENARIO_TEXT_MAX + 8];
	snprintf(want, sizeof want, "Hi %.*s,\r\n", (int)len, q->name + start);
	bool ok = text != NULL && strncmp(text, want, strlen(want)) == 0;
	g_free(text);
	if (!ok)
		return mail_fail(why, size, "%s", "the greeting does not use the first name");
	return true;
}

/* Reads one message of a valid quote; false with why filled. */
static bool mail_as_client(const struct hist_mail *m, const struct quote_spec *q, char *why,
                           size_t size)
{
	static bool ready;
	if (!ready) {
		g_mime_init();
		ready = true;
	}
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(m->data, m->len);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	GMimeMessage *msg = g_mime_parser_construct_message(p, NULL);
	bool ok = msg != NULL ? mail_headers_ok(msg, q, why, size) && mail_to_ok(msg, q, why, size) &&
	                                mail_body_ok(msg, q, why, size)
	                      : mail_fail(why, size, "%s", "GMime cannot parse it");
	if (msg != NULL)
		g_object_unref(msg);
	g_object_unref(p);
	g_object_unref(st);
	return ok;
}

static const struct hist_quote *quote_of(const struct history *h, const char *ref)
{
	for (size_t i = 0; i < h->nquotes; i++) {
		if (strcmp(h->quotes[i].spec->ref, ref) == 0)
			return &h->quotes[i];
	}
	return NULL;
}

/* ---- email-safe ----------------------------------------------------------- */

bool inv_check_email_safe(const struct history *h, struct inv_violation *v)
{
	if (h->email_log_raw > 0)
		return inv_violate(v, h->email_log_raw_us, "%u [Email] log line(s) carry a raw control "
		               "character (customer data must be logged escaped)", h->email_log_raw);
	for (size_t i = 0; i < h->nmails; i++) {
		const struct hist_mail *m = &h->mails[i];
		const struct hist_quote *q = quote_of(h, m->quote_ref);
		char why[128];
		if (m->data == NULL || q == NULL || !q->valid)
			continue; /* an invalid quote's mail is named below */
		if (!mail_as_client(m, q->spec, why, sizeof why))
			return inv_violate(v, m->t_us, "mail for quote %s, read as a mail client "
			               "reads it: %s", m->quote_ref, why);
	}
	for (size_t i = 0; i < h->nmails; i++) {
		const struct hist_mail *m = &h->mails[i];
		if (!m->headers_ok)
			return inv_violate(v, m->t_us, "mail for quote %s carries an injected or malformed "
			               "header: %s", m->quote_ref, m->bad_header);
	}
	for (size_t i = 0; i < h->nquotes; i++) {
		const struct hist_quote *q = &h->quotes[i];
		const char *ref = q->spec->ref;
		if (q->unhandled > 0)
			return inv_violate(v, q->last_us, "quote %s: the request died with an unhandled "
			               "error", ref);
		if (!q->valid && q->port_sends > 0)
			return inv_violate(v, q->last_us, "quote %s with invalid customer data reached "
			               "the mail port (%u sends)", ref, q->port_sends);
		if (!q->valid && q->mails > 0)
			return inv_violate(v, q->last_us, "quote %s with invalid customer data was sent "
			               "(%u mails)", ref, q->mails);
		if (!q->valid && !q->logged)
			return inv_violate(v, q->last_us, "quote %s was refused without an [Email] log line "
			               "naming it", ref);
		/* "already sent" is a promise that a mail went (or was handed to
		 * a server that then timed out): a claim whose owner never mailed
		 * must not pass for one, fault or no fault. */
		if (q->unsent_answers > 0)
			return inv_violate(v, q->unsent_us, "quote %s was answered sent or already sent "
			               "(%u times) but no attempt had handed it to the mail server",
			               ref, q->unsent_answers);
		/* The other way round: a mail the server accepted went, and the
		 * attempt that sent it says so, whatever happened after. */
		if (q->accepted > 0 && q->sent_answers == 0)
			return inv_violate(v, q->accepted_us, "quote %s: the mail server accepted its mail "
			               "but no request for it was answered sent", ref);
		if (q->valid && q->mails > 1)
			return inv_violate(v, q->last_us, "quote %s was sent %u times", ref, q->mails);
		if (q->valid && q->mails == 0 && !q->faults_touched)
			return inv_violate(v, q->last_us, "quote %s with valid data was never sent", ref);
	}
	return true;
}

/* ---- the quote oracle ----------------------------------------------------- */

/* Decodes one UTF-8 code point; returns its length or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	size_t len;
	uint32_t c;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (c < min_for_len[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static bool is_unicode_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 ||
	       c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
	       c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

static bool is_control(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

static bool oracle_name_ok(const char *s, size_t n)
{
	/* The route's limit: 256 octets (not characters) of name. */
	if (n > 256)
		return false;
	bool visible = false;
	for (size_t i = 0; i < n;) {
		uint32_t c;
		size_t len = utf8_decode((const unsigned char *)s + i, n - i, &c);
		if (len == 0)
			return false;
		/* Tab, CR, LF and NEL are white space but also control
		 * characters: never in a name that goes into a header. */
		if (is_control(c))
			return false;
		if (!is_unicode_space(c))
			visible = true;
		i += len;
	}
	return visible;
}

static bool oracle_label_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

static bool oracle_email_ok(const char *s, size_t n)
{
	if (n == 0 || n > 254)
		return false;
	const char *at = NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '(' ||
		    c == ')' || c == ',' || c == ';' || c == ':' || c == '\\' || c == '[' ||
		    c == ']')
			return false;
		if (c == '@') {
			if (at != NULL)
				return false;
			at = s + i;
		}
	}
	if (at == NULL)
		return false;
	size_t local = (size_t)(at - s);
	size_t domain = n - local - 1;
	if (local == 0 || local > 64 || domain == 0 || domain > 255)
		return false;
	/* RFC 5322 dot-atom: dots only between atoms, never first, last or
	 * doubled. (A quoted local part, which RFC 5321 4.1.2 tells hosts
	 * not to need, and address literals are refused above by '"' and
	 * '['; a non-ASCII address needs SMTPUTF8, RFC 6531, which the
	 * sender does not speak.) */
	if (s[0] == '.' || s[local - 1] == '.')
		return false;
	for (size_t i = 1; i < local; i++) {
		if (s[i] == '.' && s[i - 1] == '.')
			return false;
	}
	const char *d = at + 1;
	size_t labels = 0, start = 0;
	for (size_t i = 0; i <= domain; i++) {
		if (i == domain || d[i] == '.') {
			if (!oracle_label_ok(d + start, i - start))
				return false;
			labels++;
			start = i + 1;
		}
	}
	return labels >= 2;
}

/* A quote reference is the product's token: 1..64 of [A-Za-z0-9._-], so
 * it fits a Message-ID's dot-atom-text (RFC 5322 3.6.4) and a Subject. */
static bool oracle_ref_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool oracle_quote_valid(const struct quote_spec *q)
{
	if (q->expect >= 0)
		return q->expect == 1;
	if (!oracle_ref_ok(q->ref))
		return false;
	if (q->name_null || q->email_null)
		return false;
	return oracle_name_ok(q->name, q->name_len) && oracle_email_ok(q->email, q->email_len);
}
