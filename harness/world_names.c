/* harness/world_names.c - the names of request outcomes and log tags, as
 * reports and coverage keys spell them. Apart from the run so that the
 * scenario loader (and its fuzz target) can check names without it. */
#include "harness/world.h"

#include "core/assert.h"

static const char *const outcome_names[WO_COUNT] = {
	[WO_RL_ALLOWED] = "ratelimit.allowed",
	[WO_RL_ALLOWED_IN_FAILURE] = "ratelimit.allowed_in_failure",
	[WO_RL_REJECTED] = "ratelimit.rejected",
	[WO_RL_ERROR] = "ratelimit.error", [WO_DD_NEW] = "dedup.new",
	[WO_DD_DUPLICATE] = "dedup.duplicate", [WO_DD_FAILED_OPEN] = "dedup.failed_open",
	[WO_DD_REFUSED] = "dedup.refused",
	[WO_DD_NEW_AFTER_LOST_REPLY] = "dedup.new_after_lost_reply",
	[WO_DD_DUPLICATE_AFTER_LOST_REPLY] = "dedup.duplicate_after_lost_reply",
	[WO_QE_SENT] = "quote.sent", [WO_QE_INVALID] = "quote.invalid",
	[WO_QE_ALREADY_SENT] = "quote.already_sent", [WO_QE_FAILED] = "quote.failed",
	[WO_QE_UNHANDLED] = "quote.unhandled", [WO_WH_2XX] = "webhook.2xx",
	[WO_WH_4XX] = "webhook.4xx", [WO_WH_5XX] = "webhook.5xx",
	[WO_WH_TIMEOUT] = "webhook.timeout", [WO_WH_CONN_ERROR] = "webhook.conn_error",
	[WO_WH_GAVE_UP] = "webhook.gave_up", [WO_CU_OK] = "customer.ok",
	[WO_CU_ERROR] = "customer.error",
};

const char *world_outcome_name(enum world_outcome o)
{
	ASSERT((unsigned)o < WO_COUNT);
	return outcome_names[o];
}

static const char *const tag_names[WT_COUNT] = {
	[WT_RATELIMIT] = "[RateLimit]", [WT_EMAIL] = "[Email]", [WT_WEBHOOK] = "[Webhook]",
	[WT_DEDUP] = "[Dedup]", [WT_STRIPE] = "[Stripe]", [WT_OTHER] = "[other]",
};

const char *world_tag_name(enum world_tag t)
{
	ASSERT((unsigned)t < WT_COUNT);
	return tag_names[t];
}

