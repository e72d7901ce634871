/* harness/invariant_email.c - the quote e-mail's contract and the oracle that
 * decides which customer data is valid. */
#include "harness/invariant.h"

#include "harness/invariant_int.h"

/* ---- email-safe ----------------------------------------------------------- */

bool inv_check_email_safe(const struct history *h, struct inv_violation *v)
{
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
		if (!q->valid && q->mails > 0)
			return inv_violate(v, q->last_us, "quote %s with invalid customer data was sent "
			               "(%u mails)", ref, q->mails);
		if (!q->valid && !q->logged)
			return inv_violate(v, q->last_us, "quote %s was refused without an [Email] log line "
			               "naming it", ref);
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

bool oracle_quote_valid(const struct quote_spec *q)
{
	if (q->expect >= 0)
		return q->expect == 1;
	if (q->name_null || q->email_null)
		return false;
	return oracle_name_ok(q->name, q->name_len) && oracle_email_ok(q->email, q->email_len);
}
