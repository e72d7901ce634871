/* harness/work_webhook.c - Stripe's side of the webhook workload: events,
 * concurrent copies, retries on Stripe's schedule, bad signatures and stale
 * deliveries, and what each answer and the final orders say. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/assert.h"
#include "core/stripe_sig.h"
#include "core/webhook.h"
#include "sim/trace.h"

#include "harness/coverage.h"
#include "harness/world_int.h"

/* ---- webhook ------------------------------------------------------------------ */

/* Real deliveries are Stripe's (retried on failure); the others are one
 * request each, from whoever forged or mangled them. */
enum wh_kind { WH_REAL, WH_BAD_SIGNATURE, WH_STALE, WH_HOSTILE };

struct wh_attempt {
	struct world *w;
	size_t event;
	enum wh_kind kind;
	uint32_t attempt;           /* 0: first delivery, then retries */
	uint32_t copy;
	uint64_t start_us;
	int refs;                   /* pending timers + a running handler */
	bool settled;               /* Stripe has decided this attempt */
	bool reply_lost;            /* the answer never reaches Stripe */
	struct sched_timer timeout;
	bool timeout_pending;
	int status;
	struct fault_decision fd;
	bool faulted;
	uint64_t pg_faults;         /* postgres faults fired when it arrived */
	bool after_ack;             /* the event was acknowledged before it began */
};

static void wh_unref(struct wh_attempt *a)
{
	ASSERT(a->refs > 0);
	if (--a->refs == 0)
		world_work_free(a->w, a);
}

static void wh_attempt_start(void *arg);

static struct wh_attempt *wh_attempt_new(struct world *w, size_t event, enum wh_kind kind,
                                         uint32_t attempt, uint32_t copy)
{
	struct wh_attempt *a = world_work_new(w, sizeof *a);
	a->w = w;
	a->event = event;
	a->kind = kind;
	a->attempt = attempt;
	a->copy = copy;
	a->refs = 1;
	return a;
}

/* A retry, delay_us from now. First deliveries are arrivals (wh_schedule). */
static void wh_schedule_attempt(struct world *w, size_t event, enum wh_kind kind,
                                uint32_t attempt, uint32_t copy, uint64_t delay_us)
{
	sched_after(w->s, delay_us, wh_attempt_start,
	            wh_attempt_new(w, event, kind, attempt, copy));
}

struct wh_read {
	struct world *w;
	size_t event;
	uint64_t ack_us;
};

static void wh_on_ack_order(void *arg, bool known, bool paid)
{
	struct wh_read *rd = arg;
	struct world *w = rd->w;
	struct hist_wh_event *e = &w->h.events[rd->event];
	if (known && !paid && !e->ack_not_durable) {
		e->ack_not_durable = true;
		e->not_durable_us = rd->ack_us;
	}
	world_work_free(w, rd);
}

/* Stripe's view of one attempt: 2xx, or a failure and a retry later. */
static void wh_settle(struct wh_attempt *a, enum world_outcome o, int status)
{
	struct world *w = a->w;
	if (a->settled)
		return;
	a->settled = true;
	if (a->timeout_pending && sched_cancel(w->s, a->timeout)) {
		a->timeout_pending = false;
		wh_unref(a);
	}
	struct hist_wh_event *e = &w->h.events[a->event];
	world_request_end(w, "webhook", e->id, a->start_us, o);
	if (status >= 200 && status < 300) {
		if (!e->acked) {
			e->acked = true;
			e->ack_us = world_now_us(w);
		}
		/* eventually-applied: a 2xx promises the effect is durable now.
		 * (Read at once from the models; from a real server a moment
		 * later, which can only hide a violation, never invent one.) */
		if (a->kind == WH_REAL && e->kind == HIST_WH_PAYMENT && !e->ack_not_durable) {
			struct wh_read *rd = world_work_new(w, sizeof *rd);
			rd->w = w;
			rd->event = a->event;
			rd->ack_us = world_now_us(w);
			w->be.ops->read_order(w->be.ctx, e->order, wh_on_ack_order, rd);
		}
		return;
	}
	if (a->kind != WH_REAL || w->draining)
		return;
	if (a->attempt < w->sc->webhook.nretry) {
		wh_schedule_attempt(w, a->event, a->kind, a->attempt + 1, a->copy,
		                    w->sc->webhook.retry_us[a->attempt]);
	} else {
		w->out->outcomes[WO_WH_GAVE_UP]++;
	}
}

static enum world_outcome wh_outcome_of(int status)
{
	if (status >= 200 && status < 300)
		return WO_WH_2XX;
	if (status >= 400 && status < 500)
		return WO_WH_4XX;
	return WO_WH_5XX;
}

static void wh_on_stripe_timeout(void *arg)
{
	struct wh_attempt *a = arg;
	a->timeout_pending = false;
	wh_settle(a, WO_WH_TIMEOUT, 0);
	wh_unref(a);
}

static void wh_on_reply(void *arg)
{
	struct wh_attempt *a = arg;
	wh_settle(a, wh_outcome_of(a->status), a->status);
	wh_unref(a);
}

static void wh_on_conn_error(void *arg)
{
	struct wh_attempt *a = arg;
	wh_settle(a, WO_WH_CONN_ERROR, 0);
	wh_unref(a);
}

/* The statuses core/webhook.h documents for the route. */
static bool wh_status_documented(int status)
{
	return status == 200 || status == 400 || status == 500;
}

static void wh_on_handled(void *arg, int http_status)
{
	struct wh_attempt *a = arg;
	struct world *w = a->w;
	world_core_answered(w, "webhook_handle");
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	ASSERT(w->wh_events[a->event].handlers > 0);
	w->wh_events[a->event].handlers--;
	a->status = http_status;
	struct hist_wh_event *e = &w->h.events[a->event];
	uint64_t now = world_now_us(w);
	if (!wh_status_documented(http_status)) {
		/* A caller handles only what the route documents: anything else
		 * is an error nobody handles (no-unhandled-error). */
		char what[192];
		snprintf(what, sizeof what, "webhook event %s answered %d (the route documents "
		         "200, 400, 500)", e->id, http_status);
		world_note_unhandled(w, what);
	}
	e->handled++;
	if (http_status == 400) {
		if (e->refused++ == 0)
			e->refused_us = now;
	} else if (e->accepted++ == 0) {
		e->accepted_us = now;
	}
	/* webhook-ack: with no fault in the way, an event that is ignorable
	 * or already took effect must be acknowledged, or Stripe retries it
	 * for days. */
	bool fault_free = !a->faulted &&
	                  world_backend_faults(w, FAULT_TARGET_POSTGRES) == a->pg_faults;
	bool promised = e->kind != HIST_WH_PAYMENT || a->after_ack;
	if (!e->forged && fault_free && promised && (http_status < 200 || http_status >= 300) &&
	    e->ack_missed++ == 0) {
		e->ack_missed_us = now;
		e->ack_missed_status = http_status;
	}
	if (!a->reply_lost) {
		a->refs++;
		uint64_t leg = w->sc->stripe.latency.min_us / 2;
		sched_after(w->s, leg, wh_on_reply, a);
	}
	wh_unref(a); /* the handler's reference */
}

/* ---- the reference verdict ---------------------------------------------- */

/* Stripe's "verify signatures manually", written out here apart from
 * core/stripe_sig.c so the two check each other: split the header on ',',
 * each element "key=value" (blanks around an element tolerated, as the
 * route's header grammar documents), exactly one t of 1..19 digits, and
 * accepted iff some v1 equals the lowercase hex of HMAC-SHA256(secret,
 * "<t>.<payload>") and |now - t| <= tolerance. */
static bool wh_ref_hex(int64_t t, const char *payload, size_t len, char hex[65])
{
	char prefix[32];
	int n = snprintf(prefix, sizeof prefix, "%lld.", (long long)t);
	ASSERT(n > 0 && (size_t)n < sizeof prefix);
	char *msg = malloc((size_t)n + len + 1);
	ASSERT(msg != NULL);
	memcpy(msg, prefix, (size_t)n);
	if (len > 0)
		memcpy(msg + n, payload, len);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	bool ok = HMAC(EVP_sha256(), WEBHOOK_SECRET, (int)strlen(WEBHOOK_SECRET),
	               (const unsigned char *)msg, (size_t)n + len, mac, &mac_len) != NULL &&
	          mac_len == 32;
	free(msg);
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; ok && i < mac_len; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 0xf];
	}
	if (ok)
		hex[2 * mac_len] = '\0';
	return ok;
}

static bool wh_ref_accepts(const char *header, const char *payload, size_t len, int64_t now_s)
{
	size_t hlen = strlen(header);
	if (hlen == 0 || hlen > STRIPE_SIG_HEADER_MAX)
		return false;
	bool have_t = false;
	long long t = 0;
	const char *v1[STRIPE_SIG_V1_MAX];
	size_t v1_len[STRIPE_SIG_V1_MAX];
	size_t nv1 = 0;
	const char *p = header, *end = header + hlen;
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *a = p, *b = comma != NULL ? comma : end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		const char *eq = memchr(a, '=', (size_t)(b - a));
		if (eq == NULL)
			return false; /* an empty element or one without '=' */
		size_t klen = (size_t)(eq - a), vlen = (size_t)(b - eq - 1);
		if (klen == 1 && a[0] == 't') {
			if (have_t || vlen == 0 || vlen > 19)
				return false; /* which timestamp was signed? refuse */
			char digits[20];
			memcpy(digits, eq + 1, vlen);
			digits[vlen] = '\0';
			char *stop;
			errno = 0;
			t = strtoll(digits, &stop, 10);
			if (*stop != '\0' || errno != 0 || digits[0] < '0' || digits[0] > '9')
				return false;
			have_t = true;
		} else if (klen == 2 && memcmp(a, "v1", 2) == 0 && nv1 < STRIPE_SIG_V1_MAX) {
			v1[nv1] = eq + 1;
			v1_len[nv1++] = vlen;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	char want[65];
	if (!have_t || !wh_ref_hex(t, payload, len, want))
		return false;
	bool match = false;
	for (size_t i = 0; i < nv1; i++)
		match |= v1_len[i] == 64 && memcmp(v1[i], want, 64) == 0;
	long long skew = now_s >= t ? now_s - t : t - now_s;
	return match && skew <= STRIPE_SIG_TOLERANCE_S;
}

/* ---- what is delivered ------------------------------------------------------ */

/* The hostile Stripe-Signature shapes (a secret rotation, an attacker, a
 * sloppy proxy). H(x) is the v1 for timestamp x; T is now; tol the
 * tolerance. Which ones must pass is the reference's call, not this table's. */
enum wh_shape {
	SH_PLAIN,           /* t=T,v1=H(T) */
	SH_VALID_LAST,      /* t=T,v1=<other>,v1=H(T) */
	SH_VALID_FIRST,     /* t=T,v1=H(T),v1=<other> */
	SH_VALID_ABSENT,    /* t=T,v1=<other>,v1=<other> */
	SH_V1_EMPTY,        /* t=T,v1= */
	SH_V1_TRUNCATED,    /* t=T,v1=<half of H(T)> */
	SH_NO_T,            /* v1=H(T) */
	SH_NO_T_ZERO,       /* v1=H(0): what a parser that defaults t to 0 checks */
	SH_T_TWICE,         /* t=T,t=T,v1=H(T) */
	SH_T_REPLAYED,      /* t=T-2tol,v1=H(T-2tol),t=T */
	SH_FUTURE,          /* t=T+tol+1,v1=H(T+tol+1) */
	SH_PAST,            /* t=T-tol-1,v1=H(T-tol-1) */
	SH_EDGE_PAST,       /* t=T-tol,v1=H(T-tol) */
	SH_EDGE_FUTURE,     /* t=T+tol,v1=H(T+tol) */
	SH_T_NOT_NUMBER,    /* t=T<x>,v1=H(T) */
	SH_T_SIGNED,        /* t=+T,v1=H(T) */
	SH_V0_ONLY,         /* t=T,v0=H(T) */
	SH_UNKNOWN_ONLY,    /* t=T,v2=H(T),x1=H(T),v1x=H(T) */
	SH_BLANKS,          /* " t=T ,\tv1=H(T) " */
	SH_KEY_BLANK,       /* t=T,v1 =H(T) */
	SH_KEYS_UPPER,      /* T=T,V1=H(T) */
	SH_HEX_UPPER,       /* t=T,v1=<H(T) in capitals> */
	SH_EMPTY_ITEM,      /* t=T,,v1=H(T) */
	SH_BLANK_ITEM,      /* "t=T, \t,v1=H(T)": an element of blanks only */
	SH_TRAILING_COMMA,  /* t=T,v1=H(T), */
	SH_V1_LONG,         /* t=T,v1=H(T)00: the right digits and two more */
	SH_V1_NINE_T_LAST,  /* v1=H(T),v1=<other> x8,t=T: t after the v1 limit */
	SH_V0_MANY_V1_LAST, /* t=T,v0=H(T) x8,v1=H(T): the limit counts v1 only */
	SH_TOO_LONG,        /* t=T,v1=H(T),v0=H(T)...: over STRIPE_SIG_HEADER_MAX */
	SH_COUNT
};

static const char *const wh_shape_names[SH_COUNT] = {
	"plain", "valid v1 last", "valid v1 first", "no valid v1", "empty v1", "truncated v1",
	"no t", "no t, v1 for t=0", "t twice", "old t replayed with a fresh t",
	"t beyond the tolerance ahead", "t beyond the tolerance behind",
	"t exactly the tolerance behind", "t exactly the tolerance ahead", "non-numeric t",
	"t with a sign", "v0 only", "unknown schemes only", "blanks around items",
	"blank inside a key", "upper-case keys", "upper-case hex", "empty element",
	"element of blanks only", "trailing comma", "v1 with two digits more",
	"nine v1, t last", "eight v0, then the valid v1", "header over 4096 octets",
};

/* Bodies at the edges of what the route documents (webhook.h: at most
 * WEBHOOK_PAYLOAD_MAX octets; ids are plain tokens). */
enum wh_body {
	BODY_AT_LIMIT,      /* padded to exactly WEBHOOK_PAYLOAD_MAX octets */
	BODY_OVER_LIMIT,    /* one octet more */
	BODY_ID_SPACE,      /* an event id with a space in it */
	BODY_INTENT_EMPTY,  /* data.object.id "" */
	BODY_NOT_JSON,
	BODY_TRAILING_NL,   /* the JSON and a newline, signed as sent */
	BODY_NUL_TAIL,      /* the JSON, a NUL and more bytes, signed as sent:
	                     * not JSON as a whole */
	BODY_COUNT
};

static const char *const wh_body_names[BODY_COUNT] = {
	"body at the size limit", "body one octet over the limit", "event id with a space",
	"empty payment intent id", "body not JSON", "body ending in a newline",
	"JSON, a NUL, more bytes",
};

static const char *const wh_other_types[] = {
	"payment_intent.payment_failed", "charge.refunded", "payment_intent.canceled",
	"payment_intent.created", "payment_intent", "balance.available",
};

#define WH_TYPE_PAID "payment_intent.succeeded"
#define WH_BODY_MAX (WEBHOOK_PAYLOAD_MAX + 1)

/* The body of event i into buf (WH_BODY_MAX + 1 octets); returns its length. */
static size_t wh_payload(const struct world *w, size_t event, char *buf)
{
	const struct hist_wh_event *e = &w->h.events[event];
	const struct wh_event *ev = &w->wh_events[event];
	char id[HIST_ID_MAX + 4];
	snprintf(id, sizeof id, ev->body == BODY_ID_SPACE ? "%s x" : "%s", e->id);
	char object[2 * HIST_ID_MAX + 96];
	if (strcmp(ev->type, "balance.available") == 0)
		/* Not every object has an id (a balance has none). */
		snprintf(object, sizeof object, "{\"object\":\"balance\",\"livemode\":false}");
	else if (strcmp(ev->type, "charge.refunded") == 0)
		snprintf(object, sizeof object, "{\"id\":\"ch_%s\",\"object\":\"charge\","
		         "\"payment_intent\":\"%s\"}", e->id + 4, ev->intent);
	else
		snprintf(object, sizeof object, "{\"id\":\"%s\",\"object\":\"payment_intent\","
		         "\"status\":\"%s\"}", ev->body == BODY_INTENT_EMPTY ? "" : ev->intent,
		         strcmp(ev->type, WH_TYPE_PAID) == 0 ? "succeeded" : "requires_payment_method");
	int n = snprintf(buf, WH_BODY_MAX + 1,
	                 "{\"id\":\"%s\",\"object\":\"event\",\"type\":\"%s\",\"created\":%lld,"
	                 "\"data\":{\"object\":%s}%s", id, ev->type, (long long)WORLD_WALL_EPOCH_S,
	                 object, ev->body == BODY_NOT_JSON ? "" : "}");
	ASSERT(n > 0 && (size_t)n < WH_BODY_MAX);
	size_t len = (size_t)n;
	if (ev->body == BODY_AT_LIMIT || ev->body == BODY_OVER_LIMIT) {
		/* JSON allows white space before the closing brace. */
		size_t want = ev->body == BODY_AT_LIMIT ? WEBHOOK_PAYLOAD_MAX : WH_BODY_MAX;
		memset(buf + len - 1, ' ', want - len);
		buf[want - 1] = '}';
		buf[want] = '\0';
		len = want;
	}
	if (ev->body == BODY_TRAILING_NL) {
		buf[len++] = '\n';
		buf[len] = '\0';
	}
	if (ev->body == BODY_NUL_TAIL) {
		memcpy(buf + len, "\0{\"x\":1}", 8);
		len += 8;
		buf[len] = '\0';
	}
	return len;
}

/* Appends count items "<key><value>" to out, which holds n octets so far;
 * returns the new length (as snprintf counts, so a cut shows as >= size). */
static int wh_put_items(char *out, size_t size, int n, const char *key, const char *value,
                        int count)
{
	for (int k = 0; k < count && n > 0 && (size_t)n < size; k++)
		n += snprintf(out + n, size - (size_t)n, "%s%s", key, value);
	return n;
}

/* The Stripe-Signature for one delivery of shape sh at wall time now_s. */
static void wh_header(enum wh_shape sh, int64_t now_s, const char *payload, size_t len,
                      char *out, size_t size)
{
	const int64_t tol = STRIPE_SIG_TOLERANCE_S;
	int64_t t = now_s;
	switch (sh) {
	case SH_T_REPLAYED: t = now_s - 2 * tol; break;
	case SH_FUTURE: t = now_s + tol + 1; break;
	case SH_PAST: t = now_s - tol - 1; break;
	case SH_EDGE_PAST: t = now_s - tol; break;
	case SH_EDGE_FUTURE: t = now_s + tol; break;
	case SH_NO_T_ZERO: t = 0; break;
	default: break;
	}
	char h[STRIPE_SIG_HEX_LEN + 1], other[STRIPE_SIG_HEX_LEN + 1];
	bool ok = wh_ref_hex(t, payload, len, h);
	ASSERT(ok);
	/* Another endpoint's signature: right length, wrong key. */
	memcpy(other, h, sizeof other);
	for (size_t i = 0; i < STRIPE_SIG_HEX_LEN; i++)
		other[i] = "0123456789abcdef"[(other[i] - (other[i] <= '9' ? '0' : 'a' - 10) + 7) & 15];
	long long T = (long long)t, N = (long long)now_s;
	int n = 0;
	switch (sh) {
	case SH_PLAIN:
	case SH_FUTURE:
	case SH_PAST:
	case SH_EDGE_PAST:
	case SH_EDGE_FUTURE: n = snprintf(out, size, "t=%lld,v1=%s", T, h); break;
	case SH_VALID_LAST: n = snprintf(out, size, "t=%lld,v1=%s,v1=%s", T, other, h); break;
	case SH_VALID_FIRST: n = snprintf(out, size, "t=%lld,v1=%s,v1=%s", T, h, other); break;
	case SH_VALID_ABSENT:
		n = snprintf(out, size, "t=%lld,v1=%s,v1=%.63s%c", T, other, h,
		             h[63] == '0' ? '1' : '0');
		break;
	case SH_V1_EMPTY: n = snprintf(out, size, "t=%lld,v1=", T); break;
	case SH_V1_TRUNCATED: n = snprintf(out, size, "t=%lld,v1=%.32s", T, h); break;
	case SH_NO_T:
	case SH_NO_T_ZERO: n = snprintf(out, size, "v1=%s", h); break;
	case SH_T_TWICE: n = snprintf(out, size, "t=%lld,t=%lld,v1=%s", T, T, h); break;
	case SH_T_REPLAYED: n = snprintf(out, size, "t=%lld,v1=%s,t=%lld", T, h, N); break;
	case SH_T_NOT_NUMBER: n = snprintf(out, size, "t=%lldx,v1=%s", T, h); break;
	case SH_T_SIGNED: n = snprintf(out, size, "t=+%lld,v1=%s", T, h); break;
	case SH_V0_ONLY: n = snprintf(out, size, "t=%lld,v0=%s", T, h); break;
	case SH_UNKNOWN_ONLY:
		n = snprintf(out, size, "t=%lld,v2=%s,x1=%s,v1x=%s", T, h, h, h);
		break;
	case SH_BLANKS: n = snprintf(out, size, " t=%lld ,\tv1=%s ", T, h); break;
	case SH_KEY_BLANK: n = snprintf(out, size, "t=%lld,v1 =%s", T, h); break;
	case SH_KEYS_UPPER: n = snprintf(out, size, "T=%lld,V1=%s", T, h); break;
	case SH_HEX_UPPER:
		for (size_t i = 0; i < STRIPE_SIG_HEX_LEN; i++)
			h[i] = (char)toupper((unsigned char)h[i]);
		n = snprintf(out, size, "t=%lld,v1=%s", T, h);
		break;
	case SH_EMPTY_ITEM: n = snprintf(out, size, "t=%lld,,v1=%s", T, h); break;
	case SH_BLANK_ITEM: n = snprintf(out, size, "t=%lld, \t,v1=%s", T, h); break;
	case SH_TRAILING_COMMA: n = snprintf(out, size, "t=%lld,v1=%s,", T, h); break;
	case SH_V1_LONG: n = snprintf(out, size, "t=%lld,v1=%s00", T, h); break;
	case SH_V0_MANY_V1_LAST:
		n = snprintf(out, size, "t=%lld", T);
		n = wh_put_items(out, size, n, ",v0=", h, STRIPE_SIG_V1_MAX);
		n = wh_put_items(out, size, n, ",v1=", h, 1);
		break;
	case SH_TOO_LONG:
		n = snprintf(out, size, "t=%lld,v1=%s", T, h);
		n = wh_put_items(out, size, n, ",v0=", h, STRIPE_SIG_HEADER_MAX / (4 + STRIPE_SIG_HEX_LEN));
		break;
	case SH_V1_NINE_T_LAST:
		n = snprintf(out, size, "v1=%s", h);
		n = wh_put_items(out, size, n, ",v1=", other, STRIPE_SIG_V1_MAX);
		if (n > 0 && (size_t)n < size)
			n += snprintf(out + n, size - (size_t)n, ",t=%lld", T);
		break;
	case SH_COUNT: ASSERT(!"wh_header: bad shape"); break;
	}
	ASSERT(n > 0 && (size_t)n < size);
}

static void wh_arrive(void *arg)
{
	struct wh_attempt *a = arg;
	struct world *w = a->w;
	if (w->draining) {
		wh_unref(a);
		return;
	}
	/* Even when Stripe already gave up on this attempt, the request that
	 * is on its way is still handled: the endpoint cannot know. */
	struct wh_event *ev = &w->wh_events[a->event];
	struct hist_wh_event *e = &w->h.events[a->event];
	if (ev->handlers > 0)
		w->out->race_seen = true; /* two copies in the handler at once */
	ev->handlers++;
	/* A delivery is a function of its event, its kind and the second it
	 * arrives in: copies of one event that arrive in the same second get
	 * the same body, header and reference verdict, so the last delivery's
	 * are kept and reused (signing and the reference's HMAC per copy were
	 * most of a webhook's cost). The endpoint still verifies each copy. */
	struct wh_memo *m = &w->wh_memo;
	if (m->body == NULL) {
		m->body = malloc(WH_BODY_MAX + 1);
		ASSERT(m->body != NULL);
		m->event = SIZE_MAX;
	}
	if (m->event != a->event) {
		m->len = wh_payload(w, a->event, m->body);
		m->event = a->event;
		m->header_valid = false;
	}
	const char *payload = m->body;
	size_t len = m->len;
	int64_t now_s = WORLD_WALL_EPOCH_S + (int64_t)(world_now_us(w) / 1000000);
	if (!m->header_valid || m->now_s != now_s || m->kind != (int)a->kind) {
		char header[WH_HEADER_MAX];
		if (ev->shape >= 0) {
			wh_header((enum wh_shape)ev->shape, now_s, payload, len, header, sizeof header);
		} else {
			int64_t t = a->kind == WH_STALE ? now_s - 2 * STRIPE_SIG_TOLERANCE_S : now_s;
			size_t hl = stripe_sig_sign(a->kind == WH_BAD_SIGNATURE ? WEBHOOK_BAD_SECRET :
			                                                          WEBHOOK_SECRET,
			                            t, payload, len, header, sizeof header);
			ASSERT(hl > 0);
		}
		ASSERT(strlen(header) < sizeof m->header);
		memcpy(m->header, header, strlen(header) + 1);
		/* signature-sound: the reference decides, not the shape's name. */
		bool body_ok = len <= WEBHOOK_PAYLOAD_MAX && ev->body != BODY_ID_SPACE &&
		               ev->body != BODY_INTENT_EMPTY && ev->body != BODY_NOT_JSON &&
		               ev->body != BODY_NUL_TAIL;
		m->forged = !(body_ok && wh_ref_accepts(header, payload, len, now_s));
		m->now_s = now_s;
		m->kind = (int)a->kind;
		m->header_valid = true;
	}
	e->forged = m->forged;
	a->pg_faults = world_backend_faults(w, FAULT_TARGET_POSTGRES);
	a->after_ack = e->acked;
	/* The arrival's reference passes to the running handler. */
	w->core_busy++;
	bool was = world_core_enter(w);
	webhook_handle(w->wh, m->header, payload, len, wh_on_handled, a);
	world_core_leave(w, was);
}

static void wh_note_fault(struct world *w, const struct wh_attempt *a)
{
	w->out->fault_fired = true;
	w->out->faults[a->fd.rule->kind]++;
	if (TRACE_ON(w->tr)) {
		trace_begin(w->tr, world_now_us(w), "fault");
		trace_str(w->tr, "target", "webhook");
		trace_str(w->tr, "op", "deliver");
		trace_str(w->tr, "kind", fault_kind_name(a->fd.rule->kind));
		trace_uint(w->tr, "rule", a->fd.index);
		trace_str(w->tr, "event", w->h.events[a->event].id);
		trace_end(w->tr);
	}
}

static void wh_attempt_start(void *arg)
{
	struct wh_attempt *a = arg;
	struct world *w = a->w;
	if (w->draining) {
		wh_unref(a);
		return;
	}
	a->start_us = world_now_us(w);
	world_request_begin(w, "webhook", w->h.events[a->event].id);
	/* Stripe waits endpoint_timeout for an answer, then counts a failure. */
	a->refs++;
	a->timeout = sched_after(w->s, w->sc->webhook.endpoint_timeout_us, wh_on_stripe_timeout, a);
	a->timeout_pending = true;
	uint64_t leg = w->sc->stripe.latency.min_us / 2;
	w->out->cov.issued[FAULT_TARGET_WEBHOOK][coverage_op_index(FAULT_TARGET_WEBHOOK, "deliver")]++;
	a->faulted = fault_plan_decide(&w->plan, &w->work, FAULT_TARGET_WEBHOOK, "deliver",
	                               world_now_us(w), &a->fd);
	if (a->faulted)
		wh_note_fault(w, a);
	switch (a->faulted ? a->fd.rule->kind : FAULT_KIND_COUNT) {
	case FAULT_ERROR:
	case FAULT_CONN_LOST:
	case FAULT_RESTART:
	case FAULT_POOL_EXHAUSTED:
		sched_after(w->s, leg, wh_on_conn_error, a); /* takes the start ref */
		return;
	case FAULT_TIMEOUT_NOT_APPLIED:
		wh_unref(a); /* never arrives: Stripe's timeout decides */
		return;
	case FAULT_STALL:
		if (!a->fd.rule->stall_applied) {
			wh_unref(a);
			return;
		}
		a->reply_lost = true;
		break;
	case FAULT_TIMEOUT_APPLIED:
		a->reply_lost = true;
		break;
	case FAULT_SERVER_ERROR:
		/* A proxy in front of the endpoint answers without calling it. */
		a->status = a->fd.rule->status ? a->fd.rule->status : 502;
		sched_after(w->s, 2 * leg, wh_on_reply, a);
		return;
	case FAULT_LATENCY:
		leg += a->fd.latency_us;
		break;
	default:
		break;
	}
	sched_after(w->s, leg, wh_arrive, a); /* the start ref travels along */
}

/* One event of the workload: its id, the order it names (owner: the event
 * that owns that order; SIZE_MAX none), type and delivery shape. */
static void wh_event_init(struct world *w, size_t i, const char *tag, size_t owner,
                          enum hist_wh_kind kind, const char *type)
{
	struct hist_wh_event *e = &w->h.events[i];
	struct wh_event *ev = &w->wh_events[i];
	e->kind = kind;
	ev->type = type;
	ev->shape = -1;
	ev->body = -1;
	snprintf(e->id, sizeof e->id, "evt_%s%zu", tag, i);
	if (owner == SIZE_MAX) {
		snprintf(ev->intent, sizeof ev->intent, "pi_unknown%zu", i);
		ev->owner = i;
		return;
	}
	ev->owner = owner;
	snprintf(e->order, sizeof e->order, "ord_%zu", owner);
	snprintf(ev->intent, sizeof ev->intent, "pi_%zu", owner);
	if (owner == i)
		w->be.ops->seed_order(w->be.ctx, e->order, ev->intent);
}

static void wh_event_deliver(struct world *w, size_t i, enum wh_kind kind, uint32_t copies)
{
	uint64_t at = world_uniform_us(w, w->sc->webhook.spread_us);
	for (uint32_t c = 0; c < copies; c++)
		world_arrival_add(w, at + (c ? world_uniform_us(w, w->sc->webhook.copy_spread_us) : 0),
		                  wh_attempt_start, wh_attempt_new(w, i, kind, 0, c));
}

void wh_schedule(struct world *w)
{
	const __typeof__(w->sc->webhook) *sw = &w->sc->webhook;
	/* The first three groups keep the layout older scenarios were traced with. */
	size_t real = sw->events, bad = real + sw->bad_signatures, stale = bad + sw->stale_signatures;
	size_t second = stale + sw->second_events, other = second + sw->other_types;
	size_t unknown = other + sw->unknown_orders, shapes = unknown + sw->signatures;
	size_t total = shapes + sw->payloads;
	uint32_t copies = sw->copies ? sw->copies : 1;
	ASSERT(total <= WORLD_REQUESTS_MAX);
	w->h.nevents = total;
	w->h.events = calloc(total ? total : 1, sizeof *w->h.events);
	w->wh_events = calloc(total ? total : 1, sizeof *w->wh_events);
	ASSERT(w->h.events != NULL && w->wh_events != NULL);
	/* The effect record is part of what the hardened handler documents
	 * (core/webhook.h: "record the effect"); the others promise none. */
	w->h.wh_effects_promised = w->cfg->variants[FIX_WEBHOOK] == VARIANT_HARDENED;
	for (size_t i = 0; i < total; i++) {
		struct hist_wh_event *e = &w->h.events[i];
		struct wh_event *ev = &w->wh_events[i];
		if (i < real) {
			wh_event_init(w, i, "", i, HIST_WH_PAYMENT, WH_TYPE_PAID);
			wh_event_deliver(w, i, WH_REAL, copies);
		} else if (i < stale) {
			bool forged = i < bad;
			/* Every second forgery is of a type that needs no work: the
			 * signature is checked before the type decides anything. */
			bool other_type = forged && (i - real) % 2 == 1;
			wh_event_init(w, i, forged ? "forged" : "stale", i,
			              other_type ? HIST_WH_OTHER_TYPE : HIST_WH_PAYMENT,
			              other_type ? wh_other_types[0] : WH_TYPE_PAID);
			snprintf(e->shape, sizeof e->shape, "%s", forged ? "wrong secret" : "stale t");
			wh_event_deliver(w, i, forged ? WH_BAD_SIGNATURE : WH_STALE, 1);
		} else if (i < second) {
			/* Another event for an order that already has one. */
			wh_event_init(w, i, "second", i - stale, HIST_WH_PAYMENT, WH_TYPE_PAID);
			wh_event_deliver(w, i, WH_REAL, copies);
		} else if (i < other) {
			wh_event_init(w, i, "other", i, HIST_WH_OTHER_TYPE,
			              wh_other_types[(i - second) % (sizeof wh_other_types / sizeof wh_other_types[0])]);
			wh_event_deliver(w, i, WH_REAL, copies);
		} else if (i < unknown) {
			wh_event_init(w, i, "unknown", SIZE_MAX, HIST_WH_UNKNOWN_ORDER, WH_TYPE_PAID);
			wh_event_deliver(w, i, WH_REAL, copies);
		} else if (i < shapes) {
			wh_event_init(w, i, "sig", i, HIST_WH_PAYMENT, WH_TYPE_PAID);
			ev->shape = (int)((i - unknown) % SH_COUNT);
			snprintf(e->shape, sizeof e->shape, "%s", wh_shape_names[ev->shape]);
			wh_event_deliver(w, i, WH_HOSTILE, 1);
		} else {
			wh_event_init(w, i, "body", i, HIST_WH_PAYMENT, WH_TYPE_PAID);
			ev->body = (int)((i - shapes) % BODY_COUNT);
			snprintf(e->shape, sizeof e->shape, "%s", wh_body_names[ev->body]);
			wh_event_deliver(w, i, WH_HOSTILE, 1);
		}
	}
}

/* The event whose number ends name after prefix, or SIZE_MAX. */
static size_t wh_index_of(const struct world *w, const char *name, const char *prefix)
{
	size_t plen = strlen(prefix);
	if (strncmp(name, prefix, plen) != 0)
		return SIZE_MAX;
	const char *digits = name + strlen(name);
	while (digits > name + plen && isdigit((unsigned char)digits[-1]))
		digits--;
	if (*digits == '\0')
		return SIZE_MAX;
	char *end;
	unsigned long long i = strtoull(digits, &end, 10);
	if (*end != '\0' || i >= w->h.nevents)
		return SIZE_MAX;
	return (size_t)i;
}

static void on_order_final(void *arg, const char *order_id, bool paid, long long paid_count)
{
	struct world *w = arg;
	(void)paid;
	size_t i = wh_index_of(w, order_id, "ord_");
	if (i == SIZE_MAX || strcmp(w->h.events[i].order, order_id) != 0)
		return;
	w->h.events[i].paid_count = paid_count;
}

static void on_payment_final(void *arg, const char *event_id, const char *order_id)
{
	struct world *w = arg;
	size_t i = wh_index_of(w, event_id, "evt_");
	size_t o = wh_index_of(w, order_id, "ord_");
	if (i == SIZE_MAX || o == SIZE_MAX || strcmp(w->h.events[i].id, event_id) != 0 ||
	    strcmp(w->h.events[o].order, order_id) != 0 || w->wh_events[i].owner != o) {
		if (w->h.wh_stray_effects++ == 0)
			snprintf(w->h.first_stray_effect, sizeof w->h.first_stray_effect,
			         "event %.36s paid order %.36s", event_id, order_id);
		return;
	}
	w->h.events[i].effects++;
	w->h.events[o].order_effects++;
}

static void on_event_final(void *arg, const char *event_id, bool processed)
{
	struct world *w = arg;
	size_t i = wh_index_of(w, event_id, "evt_");
	if (i == SIZE_MAX || strcmp(w->h.events[i].id, event_id) != 0) {
		if (w->h.wh_stray_records++ == 0)
			snprintf(w->h.first_stray_record, sizeof w->h.first_stray_record, "%s", event_id);
		return;
	}
	w->h.events[i].records++;
	w->h.events[i].processed |= processed;
}

void wh_snapshot(struct world *w)
{
	for (size_t i = 0; i < w->h.nevents; i++) {
		w->h.events[i].paid_count = 0;
		w->h.events[i].effects = w->h.events[i].order_effects = 0;
		w->h.events[i].records = 0;
		w->h.events[i].processed = false;
	}
	w->h.wh_stray_effects = 0;
	w->h.wh_stray_records = 0;
	w->be.ops->foreach_order(w->be.ctx, on_order_final, w);
	w->be.ops->foreach_payment(w->be.ctx, on_payment_final, w);
	w->be.ops->foreach_event(w->be.ctx, on_event_final, w);
	/* Events that name another event's order see that order's state. */
	for (size_t i = 0; i < w->h.nevents; i++) {
		struct hist_wh_event *e = &w->h.events[i];
		size_t o = w->wh_events[i].owner;
		if (o != i && e->order[0] != '\0') {
			e->paid_count = w->h.events[o].paid_count;
			e->order_effects = w->h.events[o].order_effects;
		}
	}
}

void wh_note_log(struct world *w, const char *msg)
{
	for (size_t i = 0; i < w->h.nevents; i++) {
		if (w->h.events[i].kind == HIST_WH_UNKNOWN_ORDER && !w->h.events[i].logged &&
		    world_mentions(msg, w->h.events[i].id))
			w->h.events[i].logged = true;
	}
}
