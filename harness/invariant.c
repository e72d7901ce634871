/* sim/invariant.c - the invariant checkers and the quote-email oracle.
 * Pure functions over struct history; no model, no scheduler. */
#include "sim/invariant.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

static bool violate(struct inv_violation *v, uint64_t t_us, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool violate(struct inv_violation *v, uint64_t t_us, const char *fmt, ...)
{
	va_list ap;
	v->t_us = t_us;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof v->message, fmt, ap);
	va_end(ap);
	return false;
}

/* ---- ordering a history ------------------------------------------------- */

typedef uint64_t order_key_fn(const struct history *h, size_t i);

static const struct history *order_h;
static order_key_fn *order_major, *order_minor;

static int order_cmp(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	uint64_t x = order_major(order_h, i), y = order_major(order_h, j);
	if (x != y)
		return x < y ? -1 : 1;
	x = order_minor(order_h, i);
	y = order_minor(order_h, j);
	if (x != y)
		return x < y ? -1 : 1;
	return i < j ? -1 : i > j;
}

static void order_sort(const struct history *h, size_t *idx, size_t n, order_key_fn *major,
                       order_key_fn *minor)
{
	order_h = h;
	order_major = major;
	order_minor = minor;
	qsort(idx, n, sizeof *idx, order_cmp);
	order_h = NULL;
}

/* Indices 0..n-1 ordered by (major, minor, index); the caller frees them.
 * Histories are recorded in time order, so a stable counting sort on the
 * major key (a user or request number) is usually all it takes: O(n)
 * instead of a comparison sort, which was most of a run's checking time.
 * Each run of one major key is then checked, and sorted only when the
 * history was not in minor order (hand-made ones in tests). Major keys
 * too sparse to count fall back to the comparison sort. */
static size_t *order_indices(const struct history *h, size_t n, order_key_fn *major,
                             order_key_fn *minor)
{
	size_t *idx = malloc((n ? n : 1) * sizeof *idx);
	ASSERT(idx != NULL);
	uint64_t kmax = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t k = major(h, i);
		if (k > kmax)
			kmax = k;
	}
	if (n == 0 || kmax > 4 * (uint64_t)n + 1024) {
		for (size_t i = 0; i < n; i++)
			idx[i] = i;
		order_sort(h, idx, n, major, minor);
		return idx;
	}
	size_t nk = (size_t)kmax + 1;
	size_t *start = calloc(nk + 1, sizeof *start);
	ASSERT(start != NULL);
	for (size_t i = 0; i < n; i++)
		start[major(h, i) + 1]++;
	for (size_t k = 0; k < nk; k++)
		start[k + 1] += start[k];
	for (size_t i = 0; i < n; i++)
		idx[start[major(h, i)]++] = i;   /* start[k] ends as the end of run k */
	size_t from = 0;
	for (size_t k = 0; k < nk; k++) {
		size_t to = start[k];
		for (size_t j = from + 1; j < to; j++) {
			if (minor(h, idx[j - 1]) > minor(h, idx[j])) {
				order_sort(h, idx + from, to - from, major, minor);
				break;
			}
		}
		from = to;
	}
	free(start);
	return idx;
}

/* ---- exactly-once ------------------------------------------------------- */

static bool check_exactly_once(const struct history *h, struct inv_violation *v)
{
	for (size_t i = 0; i < h->nevents; i++) {
		const struct hist_wh_event *e = &h->events[i];
		if (e->forged && e->paid_count > 0)
			return violate(v, h->end_us, "forged event %s (bad signature) took effect on order %s",
			               e->id, e->order);
		if (e->paid_count > 1)
			return violate(v, e->ack_us ? e->ack_us : h->end_us,
			               "order %s marked paid %lld times by event %s", e->order,
			               e->paid_count, e->id);
	}
	return true;
}

/* ---- eventually-applied ------------------------------------------------- */

static bool check_eventually_applied(const struct history *h, struct inv_violation *v)
{
	for (size_t i = 0; i < h->nevents; i++) {
		const struct hist_wh_event *e = &h->events[i];
		if (e->forged)
			continue;
		if (e->ack_not_durable)
			return violate(v, e->not_durable_us,
			               "event %s answered 2xx while order %s was not paid", e->id,
			               e->order);
		if (e->acked && e->paid_count != 1)
			return violate(v, h->end_us,
			               "event %s was acknowledged but order %s was paid %lld times",
			               e->id, e->order, e->paid_count);
	}
	return true;
}

/* ---- no-lockout --------------------------------------------------------- */

static uint64_t rl_major(const struct history *h, size_t i)
{
	return h->rl_incr[i].user;
}

static uint64_t rl_minor(const struct history *h, size_t i)
{
	return h->rl_incr[i].t_us;
}

/* INCR indices ordered by (user, time, order applied). Caller frees. */
static size_t *rl_order(const struct history *h)
{
	return order_indices(h, h->nrl_incr, rl_major, rl_minor);
}

static bool check_no_lockout(const struct history *h, struct inv_violation *v)
{
	int64_t window_ms = (int64_t)(h->rl_window_us / 1000);
	for (size_t i = 0; i < h->nrl_ttl; i++) {
		const struct hist_rl_ttl *o = &h->rl_ttl[i];
		if (o->pttl_ms == -1)
			return violate(v, o->t_us, "rate-limit key of user u%u has no TTL: locked out "
			               "until someone deletes it", o->user);
		if (o->pttl_ms > window_ms)
			return violate(v, o->t_us, "rate-limit key of user u%u has a TTL of %lld ms, "
			               "longer than the %lld ms window", o->user,
			               (long long)o->pttl_ms, (long long)window_ms);
	}
	for (size_t i = 0; i < h->nrl; i++) {
		const struct hist_rl_request *r = &h->rl[i];
		if (r->probe && r->done && r->verdict == HIST_RL_REJECT)
			return violate(v, r->end_us, "user u%u waited out the window and was still "
			               "rejected", r->user);
	}
	/* At most limit admissions per window while Redis is healthy: a window
	 * starts at the INCR that answered 1; admissions are INCRs that
	 * answered <= limit. A key that vanished early starts a new window
	 * inside the old one, and the admissions of both then count. Only
	 * INCRs with no Redis fault since the window began are judged. */
	size_t *idx = rl_order(h);
	for (size_t ii = 0; ii < h->nrl_incr; ii++) {
		const struct hist_rl_incr *w = &h->rl_incr[idx[ii]];
		if (w->count != 1)
			continue;
		uint64_t admitted = 0;
		uint64_t last = w->t_us;
		for (size_t jj = ii; jj < h->nrl_incr; jj++) {
			const struct hist_rl_incr *a = &h->rl_incr[idx[jj]];
			if (a->user != w->user || a->t_us >= w->t_us + h->rl_window_us)
				break;
			if (a->faults != w->faults)
				continue;
			if (a->count >= 1 && a->count <= (long long)h->rl_limit) {
				admitted++;
				last = a->t_us;
			}
		}
		if (admitted > h->rl_limit) {
			free(idx);
			return violate(v, last, "user u%u admitted %llu times in one %llu ms window "
			               "(limit %u) while Redis was healthy", w->user,
			               (unsigned long long)admitted,
			               (unsigned long long)(h->rl_window_us / 1000), h->rl_limit);
		}
	}
	free(idx);
	return true;
}

/* ---- request-dedup ------------------------------------------------------ */

static uint64_t dd_major(const struct history *h, size_t i)
{
	return h->dd[i].request;
}

static uint64_t dd_minor(const struct history *h, size_t i)
{
	return h->dd[i].seq;
}

/* The copies' indices ordered by (request, seq): each request's copies form
 * one run, its first copy first. Caller frees. */
static size_t *dd_order(const struct history *h)
{
	return order_indices(h, h->ndd, dd_major, dd_minor);
}

/* A copy may be rejected as a duplicate only when another copy of the same
 * request had claimed the key (its SET NX applied and answered OK) before
 * the rejection. A copy rejected after its own write, or after no write at
 * all (a timeout called "duplicate"), was rejected falsely. */
static bool check_no_false_duplicate(const struct history *h, struct inv_violation *v)
{
	size_t *idx = dd_order(h);
	bool ok = true;
	for (size_t g = 0; g < h->ndd && ok;) {
		size_t e = g;
		while (e < h->ndd && h->dd[idx[e]].request == h->dd[idx[g]].request)
			e++;
		for (size_t a = g; a < e && ok; a++) {
			const struct hist_dd_request *r = &h->dd[idx[a]];
			if (!r->done || !r->duplicate)
				continue;
			bool other_claimed = false;
			for (size_t b = g; b < e && !other_claimed; b++) {
				const struct hist_dd_request *o = &h->dd[idx[b]];
				other_claimed = b != a && o->claimed && o->claimed_us <= r->end_us;
			}
			if (!other_claimed)
				ok = violate(v, r->end_us, "request req-%u was rejected as a duplicate "
				             "although no other copy had claimed it%s", r->request,
				             r->claimed ? " (its own write was mistaken for another's)"
				                        : "");
		}
		g = e;
	}
	free(idx);
	return ok;
}

static bool check_dedup_effective(const struct history *h, struct inv_violation *v)
{
	size_t *idx = dd_order(h);
	bool ok = true;
	for (size_t g = 0; g < h->ndd && ok;) {
		size_t e = g;
		while (e < h->ndd && h->dd[idx[e]].request == h->dd[idx[g]].request)
			e++;
		const struct hist_dd_request *first = &h->dd[idx[g]];
		for (size_t a = g + 1; a < e && ok; a++) {
			const struct hist_dd_request *r = &h->dd[idx[a]];
			if (!r->done || r->duplicate || !first->done)
				continue;
			if (first->duplicate || first->failed_open || r->failed_open || !r->healthy)
				continue;
			/* The first copy's key was written between its start and end
			 * and lives ttl from then: a copy entirely inside that span
			 * must see it. */
			if (r->start_us >= first->end_us && r->end_us < first->start_us + h->dd_ttl_us)
				ok = violate(v, r->end_us, "a true duplicate of req-%u was accepted within "
				             "the TTL while Redis was healthy", r->request);
		}
		g = e;
	}
	free(idx);
	return ok;
}

/* ---- stripe-customer ---------------------------------------------------- */

static bool check_no_orphan(const struct history *h, struct inv_violation *v)
{
	for (size_t i = 0; i < h->ncust; i++) {
		const struct hist_customer_user *u = &h->cust[i];
		if (u->ncustomers > 1)
			return violate(v, u->last_created_us, "user %s has %u Stripe customers "
			               "(mapped: %s): %u orphaned", u->user, u->ncustomers,
			               u->mapped[0] ? u->mapped : "none",
			               u->ncustomers - (u->mapped[0] ? 1 : 0));
		if (u->ncustomers == 1 && strcmp(u->customers[0], u->mapped) != 0)
			return violate(v, u->last_created_us, "Stripe customer %s of user %s is not "
			               "the one mapped (%s): orphaned", u->customers[0], u->user,
			               u->mapped[0] ? u->mapped : "none");
	}
	return true;
}

/* ---- email-safe ----------------------------------------------------------- */

static bool check_email_safe(const struct history *h, struct inv_violation *v)
{
	for (size_t i = 0; i < h->nmails; i++) {
		const struct hist_mail *m = &h->mails[i];
		if (!m->headers_ok)
			return violate(v, m->t_us, "mail for quote %s carries an injected or malformed "
			               "header: %s", m->quote_ref, m->bad_header);
	}
	for (size_t i = 0; i < h->nquotes; i++) {
		const struct hist_quote *q = &h->quotes[i];
		const char *ref = q->spec->ref;
		if (q->unhandled > 0)
			return violate(v, q->last_us, "quote %s: the request died with an unhandled "
			               "error", ref);
		if (!q->valid && q->mails > 0)
			return violate(v, q->last_us, "quote %s with invalid customer data was sent "
			               "(%u mails)", ref, q->mails);
		if (!q->valid && !q->logged)
			return violate(v, q->last_us, "quote %s was refused without an [Email] log line "
			               "naming it", ref);
		if (q->valid && q->mails > 1)
			return violate(v, q->last_us, "quote %s was sent %u times", ref, q->mails);
		if (q->valid && q->mails == 0 && !q->faults_touched)
			return violate(v, q->last_us, "quote %s with valid data was never sent", ref);
	}
	return true;
}

/* ---- always --------------------------------------------------------------- */

static bool check_no_unhandled(const struct history *h, struct inv_violation *v)
{
	if (h->unhandled > 0)
		return violate(v, h->first_unhandled_us, "%llu unhandled error(s); first: %s",
		               (unsigned long long)h->unhandled, h->first_unhandled);
	return true;
}

static bool check_no_hung(const struct history *h, struct inv_violation *v)
{
	if (h->hung > 0)
		return violate(v, h->first_hung_us, "%llu request(s) left without an answer past "
		               "their deadline; first: %s", (unsigned long long)h->hung,
		               h->first_hung);
	return true;
}

bool invariant_check(enum invariant_id inv, const struct history *h,
                     struct inv_violation *v)
{
	ASSERT(h != NULL && v != NULL);
	switch (inv) {
	case INV_EXACTLY_ONCE: return check_exactly_once(h, v);
	case INV_EVENTUALLY_APPLIED: return check_eventually_applied(h, v);
	case INV_NO_LOCKOUT: return check_no_lockout(h, v);
	case INV_NO_FALSE_DUPLICATE: return check_no_false_duplicate(h, v);
	case INV_DEDUP_EFFECTIVE: return check_dedup_effective(h, v);
	case INV_NO_ORPHAN: return check_no_orphan(h, v);
	case INV_EMAIL_SAFE: return check_email_safe(h, v);
	case INV_NO_UNHANDLED: return check_no_unhandled(h, v);
	case INV_NO_HUNG: return check_no_hung(h, v);
	case INV_COUNT: break;
	}
	ASSERT(!"unknown invariant");
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
