/* live/world_live.c - the live backend: per seed, clean servers, fault proxies
 * before Redis and PostgreSQL, a fresh fake Stripe and SMTP sink, the live
 * adapters, and wrappers around their ports that apply the Stripe, mail and
 * pool faults, count what the proxies fired and fail everything at the end.
 * Blocking reads only at set-up and after the run; direct lines during it. */
#include "live/world_live.h"

#include "live/world_live_int.h"

/* ---- addresses --------------------------------------------------------------- */

enum result world_live_redis_addr(const char *url, char *host, size_t hostsize, int *port,
                                  char *err, size_t errsize)
{
	const char *p = url;
	if (strncmp(p, "redis://", 8) != 0) {
		snprintf(err, errsize, "redis URL '%s' does not start with redis://", url);
		return RESULT_REJECT;
	}
	p += 8;
	size_t n = strcspn(p, ":/@");
	if (p[n] == '@') {
		snprintf(err, errsize, "redis URL '%s': user names and passwords are not supported",
		         url);
		return RESULT_REJECT;
	}
	if (n == 0 || n >= hostsize) {
		snprintf(err, errsize, "redis URL '%s' names no host", url);
		return RESULT_REJECT;
	}
	memcpy(host, p, n);
	host[n] = '\0';
	p += n;
	long v = 6379;
	if (*p == ':') {
		char *end;
		errno = 0;
		v = strtol(p + 1, &end, 10);
		if (errno != 0 || end == p + 1 || v < 1 || v > 65535 || (*end != '\0' && *end != '/')) {
			snprintf(err, errsize, "redis URL '%s' has a bad port", url);
			return RESULT_REJECT;
		}
		p = end;
	}
	if (*p != '\0' && *p != '/') {
		snprintf(err, errsize, "redis URL '%s' is malformed", url);
		return RESULT_REJECT;
	}
	*port = (int)v;
	return RESULT_OK;
}

/* Appends key='value' with libpq's quoting. */
static bool conninfo_append(char *out, size_t size, size_t *used, const char *key,
                            const char *val)
{
	int n = snprintf(out + *used, size - *used, "%s%s='", *used ? " " : "", key);
	if (n < 0 || (size_t)n >= size - *used)
		return false;
	*used += (size_t)n;
	for (const char *c = val; *c != '\0'; c++) {
		if (*used + 3 >= size)
			return false;
		if (*c == '\'' || *c == '\\')
			out[(*used)++] = '\\';
		out[(*used)++] = *c;
	}
	if (*used + 2 >= size)
		return false;
	out[(*used)++] = '\'';
	out[*used] = '\0';
	return true;
}

enum result world_live_pg_addr(const char *conninfo, int port, char *host, size_t hostsize,
                               int *pg_port, char *rewritten, size_t rewritten_size, char *err,
                               size_t errsize)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
	if (opts == NULL) {
		snprintf(err, errsize, "postgres connection string does not parse: %s",
		         perr != NULL ? perr : "out of memory");
		PQfreemem(perr);
		return RESULT_REJECT;
	}
	const char *h = NULL, *ha = NULL, *pt = NULL;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "host") == 0)
			h = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			ha = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			pt = o->val;
	}
	const char *addr = ha != NULL ? ha : h;
	enum result rc = RESULT_REJECT;
	if (addr == NULL || addr[0] == '/' || strchr(addr, ',') != NULL ||
	    (pt != NULL && strchr(pt, ',') != NULL)) {
		snprintf(err, errsize, "postgres: the fault proxy needs one TCP server: give "
		                       "host=127.0.0.1 (or hostaddr=) and port= in the connection string");
		goto out_opts;
	}
	long v = 5432;
	if (pt != NULL) {
		char *end;
		v = strtol(pt, &end, 10);
		if (*end != '\0' || v < 1 || v > 65535) {
			snprintf(err, errsize, "postgres: bad port '%s'", pt);
			goto out_opts;
		}
	}
	if (strlen(addr) >= hostsize) {
		snprintf(err, errsize, "postgres: host name too long");
		goto out_opts;
	}
	snprintf(host, hostsize, "%s", addr);
	*pg_port = (int)v;
	if (port > 0) {
		size_t used = 0;
		rewritten[0] = '\0';
		bool ok = true;
		for (PQconninfoOption *o = opts; ok && o->keyword != NULL; o++) {
			if (o->val == NULL || strcmp(o->keyword, "host") == 0 ||
			    strcmp(o->keyword, "hostaddr") == 0 || strcmp(o->keyword, "port") == 0)
				continue;
			ok = conninfo_append(rewritten, rewritten_size, &used, o->keyword, o->val);
		}
		char portbuf[16];
		snprintf(portbuf, sizeof portbuf, "%d", port);
		ok = ok && conninfo_append(rewritten, rewritten_size, &used, "host", "127.0.0.1") &&
		     conninfo_append(rewritten, rewritten_size, &used, "port", portbuf);
		if (!ok) {
			snprintf(err, errsize, "postgres: connection string too long");
			goto out_opts;
		}
	}
	rc = RESULT_OK;
out_opts:
	PQconninfoFree(opts);
	return rc;
}

/* ---- start-up checks ------------------------------------------------------------ */

enum result world_live_check_servers(struct world_live *wl, char *err, size_t errsize)
{
	ASSERT(wl != NULL);
	return world_live_check(wl->redis_url, wl->pg_conninfo, err, errsize);
}

enum result world_live_check(const char *redis_url, const char *pg_conninfo, char *err,
                             size_t errsize)
{
	struct world_live probe;
	struct world_live *wl = &probe;
	memset(wl, 0, sizeof *wl);
	snprintf(wl->redis_url, sizeof wl->redis_url, "%s", redis_url);
	snprintf(wl->pg_conninfo, sizeof wl->pg_conninfo, "%s", pg_conninfo);
	if (world_live_redis_addr(wl->redis_url, wl->redis_host, sizeof wl->redis_host,
	                          &wl->redis_port, err, errsize) != RESULT_OK ||
	    world_live_pg_addr(wl->pg_conninfo, 0, wl->pg_host, sizeof wl->pg_host, &wl->pg_port,
	                       NULL, 0, err, errsize) != RESULT_OK)
		return RESULT_REJECT;
	struct timeval tv = {.tv_sec = WORLD_LIVE_CONNECT_TIMEOUT_MS / 1000,
	                     .tv_usec = (WORLD_LIVE_CONNECT_TIMEOUT_MS % 1000) * 1000};
	redisContext *rc = redisConnectWithTimeout(wl->redis_host, wl->redis_port, tv);
	if (rc == NULL || rc->err) {
		int e = rc != NULL ? errno : ENOMEM;
		const char *why = rc == NULL ? "out of memory" : rc->errstr;
		if (rc != NULL && strstr(rc->errstr, "refused") != NULL)
			snprintf(err, errsize, "redis at %s:%d refused the connection", wl->redis_host,
			         wl->redis_port);
		else if (rc != NULL && (e == ETIMEDOUT || e == EINPROGRESS ||
		                        strstr(rc->errstr, "timed out") != NULL))
			snprintf(err, errsize, "redis at %s:%d did not answer within %d ms",
			         wl->redis_host, wl->redis_port, WORLD_LIVE_CONNECT_TIMEOUT_MS);
		else
			snprintf(err, errsize, "redis at %s:%d: %s", wl->redis_host, wl->redis_port, why);
		redisFree(rc);
		return RESULT_ERROR;
	}
	redisSetTimeout(rc, tv);
	redisReply *r = redisCommand(rc, "PING");
	bool ok = r != NULL && r->type == REDIS_REPLY_STATUS;
	if (!ok)
		snprintf(err, errsize, "redis at %s:%d did not answer PING: %s", wl->redis_host,
		         wl->redis_port, r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
	if (r != NULL)
		freeReplyObject(r);
	redisFree(rc);
	if (!ok)
		return RESULT_ERROR;

	PGconn *pg = pg_connect_bounded(wl->pg_conninfo);
	if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
		const char *msg = pg != NULL ? PQerrorMessage(pg) : "out of memory";
		if (strstr(msg, "refused") != NULL) {
			snprintf(err, errsize, "postgres at %s:%d refused the connection", wl->pg_host,
			         wl->pg_port);
		} else {
			size_t n = strcspn(msg, "\n");
			snprintf(err, errsize, "postgres at %s:%d: %.*s", wl->pg_host, wl->pg_port,
			         (int)(n < 200 ? n : 200), msg);
		}
		PQfinish(pg);
		return RESULT_ERROR;
	}
	PQfinish(pg);
	char perr[256];
	if (pg_live_setup_schema(wl->pg_conninfo, perr, sizeof perr) != RESULT_OK) {
		snprintf(err, errsize, "postgres at %s:%d: could not create the schema: %s",
		         wl->pg_host, wl->pg_port, perr);
		return RESULT_ERROR;
	}
	return RESULT_OK;
}

/* ---- timed faults -------------------------------------------------------------- */

static enum proxy_id rule_proxy(const struct live_rule *lr)
{
	return lr->target == FAULT_TARGET_REDIS ? PX_REDIS : PX_PG;
}

static void flush_on_reply(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct lop *op = arg;
	(void)oc;
	(void)reply;
	op->inner_pending = false;
	op->answered = true;
	wl_lop_maybe_free(op);
}

static void fault_timer_fire(void *arg)
{
	struct fault_timer *ft = arg;
	struct world_live *wl = ft->wl;
	const struct live_rule *lr = &wl->lp->rules[ft->rule];
	if (wl->shutdown)
		return;
	enum proxy_id px = rule_proxy(lr);
	char err[256];
	switch (lr->how) {
	case LIVE_RULE_PROXY:
		if (ft->start) {
			if (proxy_add_toxic(wl->px[px], &lr->toxic, err, sizeof err) != RESULT_OK)
				return; /* checked by live_plan: only a bug gets here */
			wl->installed[ft->rule] = true;
			wl->px_has_rule[px] = true;
			wl->px_last_rule[px] = ft->rule;
			if (lr->stalls)
				wl->redis_may_stall = true;
		} else {
			wl_px_poll(wl); /* its fires so far go to it */
			proxy_remove_toxic(wl->px[px], lr->toxic.name);
			wl->installed[ft->rule] = false;
			/* A connection it stalled stays stalled: reset it. */
			if (lr->stalls)
				wl_px_bounce(wl, px);
		}
		return;
	case LIVE_RULE_RESTART:
		if (ft->start) {
			wl->px_down[px] = true;
			proxy_set_enabled(wl->px[px], false);
			wl_note_fault(wl, lr->target, FAULT_RESTART, "*");
			if (lr->flush_keys) {
				/* Redis without persistence comes back empty. */
				struct lop *op = wl_lop_new(wl, LOP_CLAIM, NULL);
				struct kv_cmd c = {.argc = 1, .argv = {"FLUSHDB"}};
				op->inner_pending = true;
				wl->kv_direct.command(wl->kv_direct.ctx, &c, flush_on_reply, op);
			}
		} else {
			wl->px_down[px] = false;
			proxy_set_enabled(wl->px[px], true);
		}
		return;
	case LIVE_RULE_WRAPPER:
		/* A Stripe or mail restart: the wrappers see it through the plan;
		 * it is counted once, as the models count it. */
		wl_note_fault(wl, lr->target, FAULT_RESTART, "*");
		return;
	case LIVE_RULE_NOT_APPLIED:
		return;
	}
}

static void fault_timer_arm(struct world_live *wl, size_t rule, bool start, uint64_t at_us,
                            size_t *k)
{
	ASSERT(*k < 2 * FAULT_RULES_MAX);
	struct fault_timer *ft = &wl->timers[(*k)++];
	*ft = (struct fault_timer){.wl = wl, .rule = rule, .start = start};
	uint64_t now = wl_run_us(wl);
	if (start && at_us <= now) {
		fault_timer_fire(ft); /* before any request: at once */
		return;
	}
	sched_after(wl->s, at_us > now ? at_us - now : 0, fault_timer_fire, ft);
}

static void live_start_faults(void *ctx)
{
	struct world_live *wl = ctx;
	size_t k = 0;
	for (size_t i = 0; i < wl->lp->nrules; i++) {
		const struct live_rule *lr = &wl->lp->rules[i];
		bool timed = lr->how == LIVE_RULE_PROXY || lr->how == LIVE_RULE_RESTART ||
		             (lr->how == LIVE_RULE_WRAPPER && lr->kind == FAULT_RESTART);
		if (!timed)
			continue;
		fault_timer_arm(wl, i, true, lr->from_us, &k);
		if (lr->until_us != UINT64_MAX && lr->how != LIVE_RULE_WRAPPER)
			fault_timer_arm(wl, i, false, lr->until_us, &k);
	}
}

static uint64_t live_fault_count(void *ctx, enum fault_target target)
{
	struct world_live *wl = ctx;
	ASSERT((unsigned)target < FAULT_TARGET_COUNT);
	return wl->faults[target];
}

/* ---- set-up ----------------------------------------------------------------------- */

static enum result redis_flush_sync(struct world_live *wl, char *err, size_t errsize)
{
	struct timeval tv = {.tv_sec = WORLD_LIVE_CONNECT_TIMEOUT_MS / 1000,
	                     .tv_usec = (WORLD_LIVE_CONNECT_TIMEOUT_MS % 1000) * 1000};
	redisContext *rc = redisConnectWithTimeout(wl->redis_host, wl->redis_port, tv);
	if (rc == NULL || rc->err) {
		snprintf(err, errsize, "redis at %s:%d: %s", wl->redis_host, wl->redis_port,
		         rc != NULL ? rc->errstr : "out of memory");
		redisFree(rc);
		return RESULT_ERROR;
	}
	redisSetTimeout(rc, tv);
	redisReply *r = redisCommand(rc, "FLUSHDB");
	bool ok = r != NULL && r->type == REDIS_REPLY_STATUS;
	if (!ok)
		snprintf(err, errsize, "redis at %s:%d: FLUSHDB failed: %s", wl->redis_host,
		         wl->redis_port, r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
	if (r != NULL)
		freeReplyObject(r);
	redisFree(rc);
	return ok ? RESULT_OK : RESULT_ERROR;
}

enum result live_list_page(struct world_live *wl, const char *base_url,
                                  const char *key, const char *after, size_t limit);

static void seed_state_reset(struct world_live *wl)
{
	memset(wl->px, 0, sizeof wl->px);
	memset(wl->px_down, 0, sizeof wl->px_down);
	memset(wl->px_fired, 0, sizeof wl->px_fired);
	memset(wl->px_has_rule, 0, sizeof wl->px_has_rule);
	memset(wl->installed, 0, sizeof wl->installed);
	memset(wl->faults, 0, sizeof wl->faults);
	wl->redis_may_stall = false;
	wl->shutdown = false;
	wl->setup_err[0] = '\0';
	wl->newest_before[0] = '\0';
}

static enum result live_open(void *ctx, const struct world_seed *seed, struct sched **s,
                             struct core_env *env, char *err, size_t errsize)
{
	struct world_live *wl = ctx;
	ASSERT(wl->lp != NULL);
	ASSERT(wl->s == NULL);
	seed_state_reset(wl);
	wl->seed = *seed;
	wl->sc = seed->sc;
	if ((wl->s = sched_create(wl->base, SCHED_REAL, NULL)) == NULL)
		return RESULT_NOMEM;
	/* Every seed starts from clean servers. */
	if (redis_flush_sync(wl, err, errsize) != RESULT_OK)
		return RESULT_ERROR;
	char perr[256];
	if (pg_live_truncate(wl->pg_conninfo, perr, sizeof perr) != RESULT_OK) {
		snprintf(err, errsize, "postgres at %s:%d: could not empty the tables: %s",
		         wl->pg_host, wl->pg_port, perr);
		return RESULT_ERROR;
	}
	/* The proxies; their toxics draw from the run's seed. */
	const char *names[PX_COUNT] = {"redis", "postgres"};
	for (int i = 0; i < PX_COUNT; i++) {
		char up[300];
		snprintf(up, sizeof up, "%s:%d", i == PX_REDIS ? wl->redis_host : wl->pg_host,
		         i == PX_REDIS ? wl->redis_port : wl->pg_port);
		struct proxy_config pc = {.name = names[i], .listen = "127.0.0.1:0", .upstream = up,
		                          .seed = seed->seed};
		char perr2[256];
		if ((wl->px[i] = proxy_create(wl->base, &pc, perr2, sizeof perr2)) == NULL) {
			snprintf(err, errsize, "fault proxy for %s: %s", names[i], perr2);
			return RESULT_ERROR;
		}
	}
	char url[WORLD_LIVE_URL_MAX + 64];
	snprintf(url, sizeof url, "redis://127.0.0.1:%u", proxy_listen_port(wl->px[PX_REDIS]));
	wl->redis = redis_live_create(wl->base, wl->s, url, wl->sc->redis.timeout_us, err, errsize);
	if (wl->redis == NULL)
		return RESULT_ERROR;
	wl->redis_direct = redis_live_create(wl->base, wl->s, wl->redis_url, LIVE_READ_TIMEOUT_US,
	                                     err, errsize);
	if (wl->redis_direct == NULL)
		return RESULT_ERROR;
	redis_live_port(wl->redis, &wl->kv);
	redis_live_port(wl->redis_direct, &wl->kv_direct);

	char ci[WORLD_LIVE_URL_MAX + 64], host[256];
	int pgp;
	if (world_live_pg_addr(wl->pg_conninfo, proxy_listen_port(wl->px[PX_PG]), host, sizeof host,
	                       &pgp, ci, sizeof ci, err, errsize) != RESULT_OK)
		return RESULT_ERROR;
	int pool = (int)wl->sc->pg_pool_size;
	struct pg_live_config pcfg = {
		.conninfo = ci,
		.pool_size = pool < 1 ? 1 : pool > PG_LIVE_POOL_MAX ? PG_LIVE_POOL_MAX : pool,
		.wait_queue_max = LIVE_PG_WAITERS,
		.acquire_timeout_us = wl->sc->postgres.timeout_us,
		.statement_timeout_us = wl->sc->postgres.timeout_us,
		.connect_timeout_us = LIVE_PG_CONNECT_TIMEOUT_US,
	};
	if ((wl->pg = pg_live_create(wl->base, wl->s, &pcfg, err, errsize)) == NULL)
		return RESULT_ERROR;
	pg_live_port(wl->pg, &wl->sql);
	enum result rrc = wl_reader_open(wl, err, errsize);
	if (rrc != RESULT_OK)
		return rrc;

	if ((wl->cl = curl_loop_create(wl->base, LIVE_CURL_TRANSFERS)) == NULL)
		return RESULT_NOMEM;
	const char *stripe_base = wl->stripe_url;
	const char *stripe_key = wl->stripe_key;
	if (wl->stripe_url[0] == '\0') {
		struct fake_stripe_config fc = {.port = 0, .api_key = FAKE_STRIPE_KEY,
		                                .id_seed = seed->seed,
		                                .process_us = wl->sc->stripe.latency.min_us};
		if ((wl->fake = fake_stripe_create(wl->base, wl->s, &fc, err, errsize)) == NULL)
			return RESULT_ERROR;
		stripe_base = fake_stripe_url(wl->fake);
		stripe_key = FAKE_STRIPE_KEY;
	}
	struct stripe_live_config scfg = {.base_url = stripe_base, .api_key = stripe_key,
	                                  .timeout_us = wl->sc->stripe.timeout_us};
	if ((wl->stripe = stripe_live_create(wl->cl, wl->s, &scfg, err, errsize)) == NULL)
		return RESULT_ERROR;
	stripe_live_port(wl->stripe, &wl->stripe_port);

	const char *smtp = wl->smtp_url;
	char sink_url[64];
	if (wl->smtp_url[0] == '\0') {
		struct smtp_sink_config kc = {.port = 0, .message_max = LIVE_SINK_MESSAGE_MAX,
		                              .sessions_max = LIVE_SINK_SESSIONS,
		                              .idle_timeout_us = LIVE_SINK_IDLE_US};
		if ((wl->sink = smtp_sink_create(&kc, err, errsize)) == NULL)
			return RESULT_ERROR;
		snprintf(sink_url, sizeof sink_url, "smtp://127.0.0.1:%d", smtp_sink_port(wl->sink));
		smtp = sink_url;
	}
	struct mail_live_config mcfg = {.url = smtp, .timeout_us = wl->sc->mail.timeout_us};
	if ((wl->mail = mail_live_create(wl->cl, wl->s, &mcfg, err, errsize)) == NULL)
		return RESULT_ERROR;
	mail_live_port(wl->mail, &wl->mail_port);

	wl->t0_us = wl_now_us(wl);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	wl->wall0_s = (int64_t)ts.tv_sec;
	if (wl->stripe_url[0] != '\0') {
		/* A real account keeps its customers: only those created from now
		 * on belong to this seed. */
		if (live_list_page(wl, wl->stripe_url, wl->stripe_key, NULL, 1) != RESULT_OK) {
			snprintf(err, errsize, "stripe at %s: %s", wl->stripe_url, wl->list_err);
			return RESULT_ERROR;
		}
		if (wl->ncusts > 0)
			snprintf(wl->newest_before, sizeof wl->newest_before, "%s", wl->custs[0].id);
		wl->ncusts = 0;
	}
	env->kv = (struct kv_port){.ctx = wl, .command = wl_kv_command,
	                           .transaction = wl_kv_transaction};
	env->sql = (struct sql_port){.ctx = wl, .acquire = wl_sql_acquire, .exec = wl_sql_exec,
	                             .release = wl_sql_release};
	env->stripe = (struct stripe_port){.ctx = wl, .customer_create = wl_stripe_customer_create,
	                                   .customer_find = wl_stripe_customer_find};
	env->mail = (struct mail_port){.ctx = wl, .send = wl_mail_send};
	*s = wl->s;
	return RESULT_OK;
}

static void live_seed_order(void *ctx, const char *order_id, const char *payment_intent_id)
{
	struct world_live *wl = ctx;
	/* Set-up, before the run: a blocking insert on the reader's line. */
	const char *params[2] = {order_id, payment_intent_id};
	struct pg_reader *rd = &wl->reader;
	if (rd->pg == NULL) {
		if (wl->setup_err[0] == '\0')
			snprintf(wl->setup_err, sizeof wl->setup_err, "postgres at %s:%d: no connection "
			         "to insert order %s", wl->pg_host, wl->pg_port, order_id);
		return;
	}
	PQsetnonblocking(rd->pg, 0);
	PGresult *res = PQexecParams(rd->pg,
	                             "INSERT INTO orders (order_id, payment_intent_id, status, "
	                             "paid_count) VALUES ($1, $2, 'pending', 0)",
	                             2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && wl->setup_err[0] == '\0')
		snprintf(wl->setup_err, sizeof wl->setup_err, "postgres at %s:%d: inserting order %s: %s",
		         wl->pg_host, wl->pg_port, order_id, PQresultErrorMessage(res));
	PQclear(res);
	PQsetnonblocking(rd->pg, 1);
}

/* ---- the end ---------------------------------------------------------------------- */

static void live_shutdown(void *ctx)
{
	struct world_live *wl = ctx;
	wl->shutdown = true;
	/* Callbacks may start operations (they fail from a timer) or free
	 * others: work on a snapshot of those waiting now. */
	size_t count = 0;
	for (struct lop *op = wl->ops; op != NULL; op = op->next)
		count += !op->answered;
	if (count == 0)
		return;
	struct lop **snap = calloc(count, sizeof *snap);
	ASSERT(snap != NULL);
	size_t k = 0;
	for (struct lop *op = wl->ops; op != NULL && k < count; op = op->next) {
		if (!op->answered) {
			op->held = true; /* until this walk is done with it */
			snap[k++] = op;
		}
	}
	for (size_t i = 0; i < k; i++) {
		struct lop *op = snap[i];
		if (!op->answered) {
			op->oc = OUTCOME_CONN_LOST;
			op->sqlstate[0] = '\0';
			op->sr = (struct stripe_reply){.error_type = "", .customer_id = ""};
			op->code = 0;
			wl_lop_answer(op);
		}
	}
	for (size_t i = 0; i < k; i++) {
		snap[i]->held = false;
		wl_lop_maybe_free(snap[i]);
	}
	free(snap);
}

static void free_rows(struct row2 *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].a);
		free(rows[i].b);
	}
	free(rows);
}

static void live_close(void *ctx)
{
	struct world_live *wl = ctx;
	/* Adapters first (they drop what is pending without callbacks), then
	 * the servers they talk to, then the scheduler. */
	redis_live_destroy(wl->redis);
	redis_live_destroy(wl->redis_direct);
	pg_live_destroy(wl->pg);
	if (wl->reader.ev != NULL || wl->reader.pg != NULL)
		wl_reader_break(wl);
	wl->reader.head = wl->reader.tail = NULL;
	stripe_live_destroy(wl->stripe);
	mail_live_destroy(wl->mail);
	curl_loop_destroy(wl->cl);
	fake_stripe_destroy(wl->fake);
	smtp_sink_destroy(wl->sink);
	for (int i = 0; i < PX_COUNT; i++)
		proxy_destroy(wl->px[i]);
	for (uint64_t guard = 0; wl->ops != NULL; guard++) {
		ASSERT(guard <= WORLD_LIVE_OPS_MAX);
		wl_lop_free(wl->ops);
	}
	sched_destroy(wl->s);
	free_rows(wl->orders, wl->norders);
	free_rows(wl->payments, wl->npayments);
	free_rows(wl->events, wl->nevent_rows);
	free_rows(wl->maps, wl->nmaps);
	for (size_t i = 0; i < wl->nmails; i++)
		free(wl->mails[i].data);
	free(wl->mails);
	free(wl->custs);
	wl->redis = wl->redis_direct = NULL;
	wl->pg = NULL;
	wl->stripe = NULL;
	wl->mail = NULL;
	wl->cl = NULL;
	wl->fake = NULL;
	wl->sink = NULL;
	memset(wl->px, 0, sizeof wl->px);
	wl->s = NULL;
	wl->orders = wl->maps = NULL;
	wl->norders = wl->nmaps = 0;
	wl->payments = NULL;
	wl->npayments = 0;
	wl->events = NULL;
	wl->nevent_rows = 0;
	wl->mails = NULL;
	wl->nmails = 0;
	wl->custs = NULL;
	wl->ncusts = 0;
	memset(&wl->reader, 0, sizeof wl->reader);
}

static const struct world_backend_ops live_ops = {
	.open = live_open,
	.start_faults = live_start_faults,
	.fault_count = live_fault_count,
	.seed_order = live_seed_order,
	.read_pttl = live_read_pttl,
	.read_order = live_read_order,
	.snapshot = live_snapshot,
	.foreach_order = live_foreach_order,
	.foreach_payment = live_foreach_payment,
	.foreach_event = live_foreach_event,
	.foreach_mapping = live_foreach_mapping,
	.foreach_customer = live_foreach_customer,
	.mail_count = live_mail_count,
	.mail_data = live_mail_data,
	.mail_headers = live_mail_headers,
	.late_replies = live_late_replies,
	.shutdown = live_shutdown,
	.close = live_close,
};

struct world_live *world_live_create(struct event_base *base,
                                     const struct world_live_config *cfg, char *err,
                                     size_t errsize)
{
	ASSERT(base != NULL);
	ASSERT(cfg != NULL);
	if (cfg->redis_url == NULL || cfg->pg_conninfo == NULL) {
		snprintf(err, errsize, "live mode needs a Redis URL and a PostgreSQL connection "
		                       "string (--redis-url/--pg-url or FAULTLINE_REDIS_URL/"
		                       "FAULTLINE_PG_URL)");
		return NULL;
	}
	if (strlen(cfg->redis_url) >= WORLD_LIVE_URL_MAX ||
	    strlen(cfg->pg_conninfo) >= WORLD_LIVE_URL_MAX ||
	    (cfg->stripe_url != NULL && strlen(cfg->stripe_url) >= STRIPE_LIVE_URL_MAX) ||
	    (cfg->stripe_key != NULL && strlen(cfg->stripe_key) >= STRIPE_LIVE_KEY_MAX) ||
	    (cfg->smtp_url != NULL && strlen(cfg->smtp_url) >= MAIL_LIVE_URL_MAX)) {
		snprintf(err, errsize, "a server address or key is too long");
		return NULL;
	}
	if (cfg->stripe_url != NULL && (cfg->stripe_key == NULL || cfg->stripe_key[0] == '\0')) {
		snprintf(err, errsize, "a Stripe URL needs a key (FAULTLINE_STRIPE_KEY or a key file)");
		return NULL;
	}
	struct world_live *wl = calloc(1, sizeof *wl);
	if (wl == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	wl->base = base;
	snprintf(wl->redis_url, sizeof wl->redis_url, "%s", cfg->redis_url);
	snprintf(wl->pg_conninfo, sizeof wl->pg_conninfo, "%s", cfg->pg_conninfo);
	if (cfg->stripe_url != NULL) {
		snprintf(wl->stripe_url, sizeof wl->stripe_url, "%s", cfg->stripe_url);
		snprintf(wl->stripe_key, sizeof wl->stripe_key, "%s", cfg->stripe_key);
	}
	if (cfg->smtp_url != NULL)
		snprintf(wl->smtp_url, sizeof wl->smtp_url, "%s", cfg->smtp_url);
	if (world_live_redis_addr(wl->redis_url, wl->redis_host, sizeof wl->redis_host,
	                          &wl->redis_port, err, errsize) != RESULT_OK ||
	    world_live_pg_addr(wl->pg_conninfo, 0, wl->pg_host, sizeof wl->pg_host, &wl->pg_port,
	                       NULL, 0, err, errsize) != RESULT_OK) {
		world_live_destroy(wl);
		return NULL;
	}
	snprintf(wl->describe, sizeof wl->describe,
	         "redis %s:%d and postgres %s:%d through fault proxies; stripe: %s; mail: %s",
	         wl->redis_host, wl->redis_port, wl->pg_host, wl->pg_port,
	         wl->stripe_url[0] ? wl->stripe_url : "built-in fake",
	         wl->smtp_url[0] ? wl->smtp_url : "built-in SMTP sink");
	return wl;
}

void world_live_destroy(struct world_live *wl)
{
	if (wl == NULL)
		return;
	if (wl->s != NULL)
		live_close(wl);
	/* The key is a secret: it does not outlive its use in memory. */
	explicit_bzero(wl->stripe_key, sizeof wl->stripe_key);
	free(wl);
}

void world_live_set_plan(struct world_live *wl, const struct live_plan *lp)
{
	ASSERT(wl != NULL);
	ASSERT(lp != NULL);
	wl->lp = lp;
}

void world_live_backend(struct world_live *wl, struct world_backend *out)
{
	ASSERT(wl != NULL);
	*out = (struct world_backend){.ops = &live_ops, .ctx = wl, .real_clock = true};
}

const char *world_live_describe(const struct world_live *wl)
{
	return wl->describe;
}
