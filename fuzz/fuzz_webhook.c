/* fuzz/fuzz_webhook.c - fuzz target over the payment webhook end to end
 * (webhook_handle on tests/support/fake_env): hostile signature headers and
 * event bodies, half of them signed by the harness so the JSON parser and
 * the SQL path are reached, with SQL faults and redelivery. Checks that a
 * delivery that fails the signature or the parse never reaches the
 * database, that every delivery is answered once with 200, 400 or 500, and
 * that a paid event pays its order at most once (seed, hardened).
 * Input: mode, fault, stale (2 bytes), pad (2), then the header (or, when
 * signed, extra items after the signature) up to LF, then the body. */
#include "fuzz/fuzz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/assert.h"
#include "core/stripe_sig.h"
#include "core/webhook.h"
#include "tests/support/fake_env.h"

#define FUZZ_WH_ORDER "ord_fuzz"
#define FUZZ_WH_INTENT "pi_fuzz"   /* the one order's payment intent */
#define FUZZ_WH_PAID "payment_intent.succeeded"
#define FUZZ_WH_ID_MAX 255         /* WEBHOOK_ID_MAX */
#define FUZZ_WH_TYPE_MAX 128       /* webhook.c's bound on an event type */
#define FUZZ_WH_HEADER_SIZE (STRIPE_SIG_HEADER_MAX + 256)
#define FUZZ_WH_BODY_SIZE (WEBHOOK_PAYLOAD_MAX + 1024)

enum fuzz_wh_mode_bits {
	FUZZ_WH_SIGN = 0x04,   /* the harness signs the body */
	FUZZ_WH_TWICE = 0x08,  /* Stripe delivers it again afterwards */
	FUZZ_WH_PAD = 0x30,    /* both set: spaces up to around the limit */
	FUZZ_WH_STALE = 0x40,  /* signed at now + stale offset */
};

struct fuzz_wh_answer {
	int calls;
	int status;
};

static void fuzz_wh_on_done(void *arg, int http_status)
{
	struct fuzz_wh_answer *a = arg;
	a->calls++;
	a->status = http_status;
}

/* An id as webhook.c accepts it: 1..max octets, printable ASCII, no space. */
static bool fuzz_wh_id_ok(json_t *v, size_t max)
{
	const char *s = json_string_value(v);
	if (s == NULL)
		return false;
	size_t len = json_string_length(v);
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

enum fuzz_wh_event { FUZZ_WH_BAD, FUZZ_WH_OTHER_TYPE, FUZZ_WH_PAYMENT };

/* The fake database must store any id the webhook accepts whole: one cut
 * short would make two events one (or one event two) and every exactly-once
 * check below meaningless. */
_Static_assert(FAKE_STR_MAX > WEBHOOK_ID_MAX, "fake_env keys must hold a whole webhook id");

/* What the body is, by the contract of core/webhook.h: an object with an
 * id and a type, and for a payment data.object.id. */
static enum fuzz_wh_event fuzz_wh_classify(const char *body, size_t len, bool *ours)
{
	json_error_t err;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
	enum fuzz_wh_event ev = FUZZ_WH_BAD;
	*ours = false;
	if (root == NULL)
		return FUZZ_WH_BAD;
	json_t *type = json_object_get(root, "type");
	if (json_is_object(root) && fuzz_wh_id_ok(json_object_get(root, "id"), FUZZ_WH_ID_MAX) &&
	    fuzz_wh_id_ok(type, FUZZ_WH_TYPE_MAX)) {
		if (strcmp(json_string_value(type), FUZZ_WH_PAID) != 0) {
			ev = FUZZ_WH_OTHER_TYPE;
		} else {
			json_t *id = json_object_get(json_object_get(json_object_get(root, "data"), "object"), "id");
			if (fuzz_wh_id_ok(id, FUZZ_WH_ID_MAX)) {
				ev = FUZZ_WH_PAYMENT;
				*ours = strcmp(json_string_value(id), FUZZ_WH_INTENT) == 0;
			}
		}
	}
	json_decref(root);
	return ev;
}

static int fuzz_wh_deliver(struct fake_env *fe, struct webhook *wh, const char *header, const char *body,
                           size_t len)
{
	struct fuzz_wh_answer a = {0, 0};
	webhook_handle(wh, header, body, len, fuzz_wh_on_done, &a);
	/* Never answered before webhook_handle returns. */
	ASSERT(a.calls == 0);
	fake_env_run(fe);
	ASSERT(a.calls == 1);
	ASSERT(a.status == 200 || a.status == 400 || a.status == 500);
	ASSERT(fake_env_pending(fe) == 0);
	ASSERT(fake_env_conns_in_use(fe) == 0);
	ASSERT(fake_env_sql_misuse(fe) == 0);
	return a.status;
}

int fuzz_webhook_one(const uint8_t *data, size_t size)
{
	struct fuzz_reader in = {data, size};
	uint8_t mode = fuzz_take_u8(&in);
	uint8_t fault = fuzz_take_u8(&in);
	int16_t stale_s = (int16_t)fuzz_take_u16(&in);
	uint16_t pad_extra = fuzz_take_u16(&in);
	size_t hlen, blen;
	const uint8_t *hraw = fuzz_take_line(&in, &hlen);
	const uint8_t *braw = fuzz_take_bytes(&in, in.left, &blen);
	enum variant v = (enum variant)((mode & 0x03) % VARIANT_COUNT);

	/* The body, padded with JSON white space to just under, at, or over
	 * WEBHOOK_PAYLOAD_MAX: a signed, well-formed event may still be too
	 * big. */
	static char body[FUZZ_WH_BODY_SIZE];
	size_t len = blen < sizeof body ? blen : sizeof body;
	memcpy(body, braw, len);
	size_t want = len;
	if ((mode & FUZZ_WH_PAD) == FUZZ_WH_PAD) {
		switch (pad_extra % 3) {
		case 0: want = WEBHOOK_PAYLOAD_MAX - pad_extra % 64; break;
		case 1: want = WEBHOOK_PAYLOAD_MAX; break;
		default: want = WEBHOOK_PAYLOAD_MAX + 1 + pad_extra % 512; break;
		}
	}
	if (want > len && want <= sizeof body) {
		memset(body + len, ' ', want - len);
		len = want;
	}

	/* The header: a C string, cut at a NUL as any HTTP layer would. */
	static char junk[FUZZ_WH_HEADER_SIZE];
	size_t jl = strnlen((const char *)hraw, hlen < sizeof junk - 1 ? hlen : sizeof junk - 1);
	memcpy(junk, hraw, jl);
	junk[jl] = '\0';
	static char header[2 * FUZZ_WH_HEADER_SIZE];
	bool signed_here = (mode & FUZZ_WH_SIGN) != 0;
	if (signed_here) {
		char sig[STRIPE_SIG_HEX_LEN + 64];
		int64_t t = FUZZ_NOW_S + ((mode & FUZZ_WH_STALE) ? stale_s : 0);
		ASSERT(stripe_sig_sign(FUZZ_SECRET, t, len > 0 ? body : NULL, len, sig, sizeof sig) > 0);
		snprintf(header, sizeof header, "%s%s%s", sig, jl > 0 ? "," : "", junk);
	} else {
		snprintf(header, sizeof header, "%s", junk);
	}

	struct fake_env *fe = fake_env_create(1);
	fake_env_add_order(fe, FUZZ_WH_ORDER, FUZZ_WH_INTENT);
	if (fault != 0) {
		static const enum outcome kinds[] = {OUTCOME_TIMEOUT, OUTCOME_CONN_LOST, OUTCOME_ERROR};
		fake_env_fail(fe, "sql", (fault & 0x07) + 1, (fault & 0x80) ? FAKE_FOREVER : 1,
		              kinds[((fault >> 3) & 0x0f) % 3]);
	}
	struct webhook_config cfg = {.variant = v, .secret = FUZZ_SECRET, .tolerance_s = STRIPE_SIG_TOLERANCE_S};
	struct webhook *wh = webhook_create(fake_env_core(fe), &cfg);
	ASSERT(wh != NULL);

	const char *pl = len > 0 ? body : NULL;
	enum stripe_sig_status sig = stripe_sig_verify(FUZZ_SECRET, header, pl, len, FUZZ_NOW_S,
	                                               STRIPE_SIG_TOLERANCE_S);
	bool ours = false;
	enum fuzz_wh_event ev = FUZZ_WH_BAD;
	if (len <= WEBHOOK_PAYLOAD_MAX && sig == STRIPE_SIG_OK)
		ev = fuzz_wh_classify(body, len, &ours);

	int rounds = (mode & FUZZ_WH_TWICE) ? 2 : 1;
	for (int r = 0; r < rounds; r++) {
		int calls_before = fake_env_count(fe, "sql");
		int status = fuzz_wh_deliver(fe, wh, header, pl, len);
		int sql_calls = fake_env_count(fe, "sql") - calls_before;
		if (len > WEBHOOK_PAYLOAD_MAX || sig != STRIPE_SIG_OK || ev == FUZZ_WH_BAD) {
			/* Bad signatures and bodies never reach the database. */
			ASSERT(status == 400);
			ASSERT(sql_calls == 0);
		} else if (ev == FUZZ_WH_OTHER_TYPE) {
			ASSERT(status == 200);
			ASSERT(sql_calls == 0);
		} else {
			ASSERT(status == 200 || status == 500);
			ASSERT(sql_calls > 0);
			if (fault == 0)
				ASSERT(status == 200);
		}
		/* A forged header is never honoured. */
		if (!signed_here && status != 400)
			ASSERT(sig == STRIPE_SIG_OK);
	}
	/* exactly-once in sequence: seed and hardened never pay twice; a
	 * payment for another intent touches no order. */
	int paid = fake_env_order_paid_count(fe, FUZZ_WH_INTENT);
	ASSERT(paid >= 0);
	if (v != VARIANT_LEGACY)
		ASSERT(paid <= 1);
	if (!ours)
		ASSERT(paid == 0);
	if (ours && fault == 0)
		ASSERT(paid >= 1);

	webhook_destroy(wh);
	fake_env_destroy(fe);
	return 0;
}

#ifdef FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_webhook_one(data, size);
}
#endif
