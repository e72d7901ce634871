/* core/env.c - small helpers around the ports: names, parsing, core_log. */
#include "core/env.h"

#include <stdio.h>
#include <string.h>

#include "core/assert.h"

const char *outcome_name(enum outcome oc)
{
	switch (oc) {
	case OUTCOME_OK: return "ok";
	case OUTCOME_ERROR: return "error";
	case OUTCOME_TIMEOUT: return "timeout";
	case OUTCOME_CONN_LOST: return "conn_lost";
	}
	return "?";
}

static const char *const variant_names[VARIANT_COUNT] = {
	[VARIANT_LEGACY] = "legacy",
	[VARIANT_SEED] = "seed",
	[VARIANT_HARDENED] = "hardened",
};

const char *variant_name(enum variant v)
{
	ASSERT((unsigned)v < VARIANT_COUNT);
	return variant_names[v];
}

bool variant_parse(const char *name, enum variant *out)
{
	for (int v = 0; v < VARIANT_COUNT; v++) {
		if (strcmp(name, variant_names[v]) == 0) {
			*out = (enum variant)v;
			return true;
		}
	}
	return false;
}

void core_log(const struct core_env *env, enum log_level level, const char *tag,
              const char *fmt, ...)
{
	char msg[CORE_LOG_MAX];
	va_list ap;

	ASSERT(env != NULL);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	env->log.write(env->log.ctx, level, tag, msg);
}
