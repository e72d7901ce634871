/* live/world_live_state.c - reading the real servers' state: reads during the
 * run, the snapshot after it, and the mail headers as the sink received them. */
#include "live/world_live.h"

#include "live/world_live_int.h"

/* ---- reads during the run --------------------------------------------------------- */

static void pttl_on_reply(void *arg, enum outcome oc, const struct kv_reply *reply)
{
	struct lop *op = arg;
	op->inner_pending = false;
	if (!op->answered) {
		op->answered = true;
		bool known = oc == OUTCOME_OK && reply->type == KV_REPLY_INTEGER;
		op->done.pttl(op->arg, known, known ? reply->integer : 0);
	}
	wl_lop_maybe_free(op);
}

void live_read_pttl(void *ctx, const char *key, world_pttl_fn *fn, void *arg)
{
	struct world_live *wl = ctx;
	struct lop *op = wl_lop_new(wl, LOP_PTTL, arg);
	op->done.pttl = fn;
	if (wl->shutdown) {
		wl_lop_answer_later(op, 0);
		return;
	}
	struct kv_cmd c = {.argc = 2, .argv = {"PTTL", key}};
	op->inner_pending = true;
	wl->kv_direct.command(wl->kv_direct.ctx, &c, pttl_on_reply, op);
}

static void reader_next(struct world_live *wl);

void wl_reader_break(struct world_live *wl)
{
	struct pg_reader *rd = &wl->reader;
	rd->broken = true;
	if (rd->ev != NULL) {
		event_free(rd->ev);
		rd->ev = NULL;
	}
	if (rd->deadline_pending) {
		sched_cancel(wl->s, rd->deadline);
		rd->deadline_pending = false;
	}
	PQfinish(rd->pg);
	rd->pg = NULL;
}

/* Ends the read at the head of the queue. */
static void reader_finish(struct world_live *wl, bool known, bool paid)
{
	struct pg_reader *rd = &wl->reader;
	struct lop *op = rd->head;
	ASSERT(op != NULL);
	rd->head = op->qnext;
	if (rd->head == NULL)
		rd->tail = NULL;
	rd->in_flight = false;
	if (rd->deadline_pending) {
		sched_cancel(wl->s, rd->deadline);
		rd->deadline_pending = false;
	}
	op->inner_pending = false;
	if (!op->answered) {
		op->answered = true;
		op->done.order(op->arg, known, paid);
	}
	wl_lop_maybe_free(op);
}

static void reader_on_deadline(void *arg)
{
	struct world_live *wl = arg;
	wl->reader.deadline_pending = false;
	wl_reader_break(wl);
	reader_finish(wl, false, false);
	reader_next(wl);
}

static void reader_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct world_live *wl = arg;
	struct pg_reader *rd = &wl->reader;
	(void)fd;
	(void)what;
	if (!rd->in_flight || rd->pg == NULL)
		return;
	if (!PQconsumeInput(rd->pg)) {
		wl_reader_break(wl);
		reader_finish(wl, false, false);
		reader_next(wl);
		return;
	}
	if (PQisBusy(rd->pg))
		return;
	bool known = false, paid = false;
	PGresult *res;
	/* A query gives one result then NULL; bounded all the same. */
	for (int i = 0; i < 8 && (res = PQgetResult(rd->pg)) != NULL; i++) {
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			known = true;
			paid = PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "paid") == 0;
		}
		PQclear(res);
	}
	reader_finish(wl, known, paid);
	reader_next(wl);
}

/* Sends the read at the head of the queue, or answers every queued read
 * "unknown" once the reader is broken. */
static void reader_next(struct world_live *wl)
{
	struct pg_reader *rd = &wl->reader;
	for (size_t guard = 0; rd->head != NULL && !rd->in_flight; guard++) {
		ASSERT(guard <= WORLD_LIVE_READS_MAX);
		if (rd->broken || wl->shutdown) {
			reader_finish(wl, false, false);
			continue;
		}
		const char *params[1] = {rd->head->order_id};
		if (!PQsendQueryParams(rd->pg, "SELECT status FROM orders WHERE order_id = $1", 1,
		                       NULL, params, NULL, NULL, 0) ||
		    PQflush(rd->pg) != 0) {
			wl_reader_break(wl);
			continue;
		}
		rd->in_flight = true;
		rd->deadline = sched_after(wl->s, LIVE_READ_TIMEOUT_US, reader_on_deadline, wl);
		rd->deadline_pending = true;
	}
}

static void reader_on_kick(void *arg)
{
	struct world_live *wl = arg;
	wl->reader.kick_pending = false;
	reader_next(wl);
}

void live_read_order(void *ctx, const char *order_id, world_order_fn *fn, void *arg)
{
	struct world_live *wl = ctx;
	struct pg_reader *rd = &wl->reader;
	struct lop *op = wl_lop_new(wl, LOP_ORDER, arg);
	op->done.order = fn;
	snprintf(op->order_id, sizeof op->order_id, "%s", order_id);
	if (rd->broken || wl->shutdown) {
		wl_lop_answer_later(op, 0); /* "unknown" */
		return;
	}
	op->inner_pending = true;
	if (rd->tail != NULL)
		rd->tail->qnext = op;
	else
		rd->head = op;
	rd->tail = op;
	/* Sent from a timer, so that even a failure answers after the call. */
	if (!rd->kick_pending && !rd->in_flight) {
		rd->kick_pending = true;
		sched_after(wl->s, 0, reader_on_kick, wl);
	}
}

enum result wl_reader_open(struct world_live *wl, char *err, size_t errsize)
{
	struct pg_reader *rd = &wl->reader;
	memset(rd, 0, sizeof *rd);
	rd->pg = pg_connect_bounded(wl->pg_conninfo);
	if (rd->pg == NULL || PQstatus(rd->pg) != CONNECTION_OK) {
		snprintf(err, errsize, "postgres at %s:%d: %s", wl->pg_host, wl->pg_port,
		         rd->pg != NULL ? PQerrorMessage(rd->pg) : "out of memory");
		PQfinish(rd->pg);
		rd->pg = NULL;
		rd->broken = true;
		return RESULT_ERROR;
	}
	PQsetnonblocking(rd->pg, 1);
	rd->ev = event_new(wl->base, PQsocket(rd->pg), EV_READ | EV_PERSIST, reader_on_readable,
	                   wl);
	if (rd->ev == NULL || event_add(rd->ev, NULL) != 0) {
		wl_reader_break(wl);
		return RESULT_NOMEM;
	}
	return RESULT_OK;
}

/* ---- the snapshot ---------------------------------------------------------------- */

static void list_on_done(void *arg, CURL *easy, const struct curl_loop_response *r)
{
	struct world_live *wl = arg;
	(void)easy;
	wl->list_done = true;
	wl->list_more = false;
	if (r->code != CURLE_OK || r->status != 200) {
		wl->list_failed = true;
		snprintf(wl->list_err, sizeof wl->list_err, "listing customers: %s (HTTP %ld)",
		         r->code != CURLE_OK ? r->error : "refused", r->status);
		return;
	}
	json_error_t je;
	json_t *root = json_loadb(r->body, r->body_len, 0, &je);
	json_t *data = json_object_get(root, "data");
	if (!json_is_array(data)) {
		wl->list_failed = true;
		snprintf(wl->list_err, sizeof wl->list_err, "listing customers: no data array");
		json_decref(root);
		return;
	}
	size_t i;
	json_t *c;
	json_array_foreach(data, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		if (id == NULL)
			continue;
		if (wl->newest_before[0] != '\0' && strcmp(id, wl->newest_before) == 0) {
			json_decref(root);
			return; /* older customers are not this seed's */
		}
		if (wl->ncusts >= WORLD_LIVE_CUSTOMERS_MAX)
			break;
		struct customer_row *row = &wl->custs[wl->ncusts++];
		snprintf(row->id, sizeof row->id, "%s", id);
		const char *user = json_string_value(json_object_get(json_object_get(c, "metadata"),
		                                                     "user_id"));
		snprintf(row->user, sizeof row->user, "%s", user != NULL ? user : "");
		json_int_t created = json_integer_value(json_object_get(c, "created"));
		int64_t rel = wl->fake != NULL ? (int64_t)created : (int64_t)created - wl->wall0_s;
		int64_t rel_us = rel * 1000000 - (wl->fake != NULL ? (int64_t)wl->t0_us : 0);
		row->created_us = rel_us > 0 ? (uint64_t)rel_us : 0;
	}
	wl->list_more = json_is_true(json_object_get(root, "has_more")) && json_array_size(data) > 0;
	json_decref(root);
}

/* One page of GET /v1/customers (newest first), appended to custs. */
enum result live_list_page(struct world_live *wl, const char *base_url,
                                  const char *key, const char *after, size_t limit)
{
	if (wl->custs == NULL) {
		wl->custs = calloc(WORLD_LIVE_CUSTOMERS_MAX, sizeof *wl->custs);
		if (wl->custs == NULL)
			return RESULT_NOMEM;
	}
	char url[STRIPE_LIVE_URL_MAX + 128];
	snprintf(url, sizeof url, "%s/v1/customers?limit=%zu%s%s", base_url, limit,
	         after != NULL ? "&starting_after=" : "", after != NULL ? after : "");
	CURL *easy = curl_easy_init();
	if (easy == NULL)
		return RESULT_NOMEM;
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
	curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, key);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)(LIVE_LIST_TIMEOUT_US / 2000));
	wl->list_done = wl->list_failed = false;
	if (curl_loop_start(wl->cl, easy, list_on_done, wl) != RESULT_OK) {
		snprintf(wl->list_err, sizeof wl->list_err, "listing customers: no transfer slot");
		return RESULT_ERROR;
	}
	wl_spin_until(wl, &wl->list_done, LIVE_LIST_TIMEOUT_US);
	if (!wl->list_done) {
		curl_loop_cancel(wl->cl, easy);
		snprintf(wl->list_err, sizeof wl->list_err, "listing customers: no answer in %d s",
		         (int)(LIVE_LIST_TIMEOUT_US / 1000000));
		return RESULT_ERROR;
	}
	return wl->list_failed ? RESULT_ERROR : RESULT_OK;
}

static enum result read_rows(struct world_live *wl, PGconn *pg, const char *sql,
                             struct row2 **out, size_t *n, char *err, size_t errsize)
{
	PGresult *res = PQexec(pg, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errsize, "postgres at %s:%d: %s", wl->pg_host, wl->pg_port,
		         PQresultErrorMessage(res));
		PQclear(res);
		return RESULT_ERROR;
	}
	size_t rows = (size_t)PQntuples(res);
	if (rows > WORLD_LIVE_ROWS_MAX)
		rows = WORLD_LIVE_ROWS_MAX;
	*out = calloc(rows ? rows : 1, sizeof **out);
	ASSERT(*out != NULL);
	for (size_t i = 0; i < rows; i++) {
		(*out)[i].a = wl_xstrdup(PQgetvalue(res, (int)i, 0));
		(*out)[i].b = wl_xstrdup(PQgetvalue(res, (int)i, 1));
		(*out)[i].n = PQnfields(res) > 2 ? strtoll(PQgetvalue(res, (int)i, 2), NULL, 10) : 0;
	}
	*n = rows;
	PQclear(res);
	return RESULT_OK;
}

static bool claims_pending(const struct world_live *wl)
{
	for (const struct lop *op = wl->ops; op != NULL; op = op->next) {
		if (op->type == LOP_CLAIM && op->inner_pending)
			return true;
	}
	return false;
}

enum result live_snapshot(void *ctx, char *err, size_t errsize)
{
	struct world_live *wl = ctx;
	wl_px_poll(wl);
	/* A lost SET's claim being looked up belongs to the history: wait for
	 * it (the direct line answers in well under its deadline). */
	bool none = !claims_pending(wl);
	for (uint64_t start = wl_now_us(wl); !none && wl_now_us(wl) - start < LIVE_READ_TIMEOUT_US;) {
		wl_spin_until(wl, &none, LIVE_SPIN_SLICE_US);
		none = !claims_pending(wl);
	}
	if (wl->setup_err[0] != '\0') {
		snprintf(err, errsize, "%s", wl->setup_err);
		return RESULT_ERROR;
	}
	PGconn *pg = pg_connect_bounded(wl->pg_conninfo);
	if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
		snprintf(err, errsize, "postgres at %s:%d: %s", wl->pg_host, wl->pg_port,
		         pg != NULL ? PQerrorMessage(pg) : "out of memory");
		PQfinish(pg);
		return RESULT_ERROR;
	}
	enum result rc = read_rows(wl, pg, "SELECT order_id, status, paid_count FROM orders",
	                           &wl->orders, &wl->norders, err, errsize);
	if (rc == RESULT_OK)
		rc = read_rows(wl, pg, "SELECT event_id, order_id FROM order_payments",
		               &wl->payments, &wl->npayments, err, errsize);
	if (rc == RESULT_OK)
		rc = read_rows(wl, pg, "SELECT event_id, CASE WHEN processed_at IS NULL THEN 'f' "
		               "ELSE 't' END FROM stripe_events",
		               &wl->events, &wl->nevent_rows, err, errsize);
	if (rc == RESULT_OK)
		rc = read_rows(wl, pg, "SELECT user_id, customer_id FROM stripe_customers",
		               &wl->maps, &wl->nmaps, err, errsize);
	PQfinish(pg);
	if (rc != RESULT_OK)
		return rc;
	const char *base = wl->fake != NULL ? fake_stripe_url(wl->fake) : wl->stripe_url;
	const char *key = wl->fake != NULL ? FAKE_STRIPE_KEY : wl->stripe_key;
	wl->ncusts = 0;
	const char *after = NULL;
	for (size_t page = 0; page < WORLD_LIVE_CUSTOMERS_MAX / LIVE_LIST_PAGE; page++) {
		if (live_list_page(wl, base, key, after, LIVE_LIST_PAGE) != RESULT_OK) {
			snprintf(err, errsize, "stripe at %s: %s", base, wl->list_err);
			return RESULT_ERROR;
		}
		if (!wl->list_more || wl->ncusts == 0)
			break;
		after = wl->custs[wl->ncusts - 1].id;
	}
	return RESULT_OK;
}

void live_foreach_order(void *ctx, world_order_row_fn *fn, void *arg)
{
	struct world_live *wl = ctx;
	for (size_t i = 0; i < wl->norders; i++)
		fn(arg, wl->orders[i].a, strcmp(wl->orders[i].b, "paid") == 0, wl->orders[i].n);
}

void live_foreach_payment(void *ctx, world_payment_fn *fn, void *arg)
{
	struct world_live *wl = ctx;
	for (size_t i = 0; i < wl->npayments; i++)
		fn(arg, wl->payments[i].a, wl->payments[i].b);
}

void live_foreach_event(void *ctx, world_event_row_fn *fn, void *arg)
{
	struct world_live *wl = ctx;
	for (size_t i = 0; i < wl->nevent_rows; i++)
		fn(arg, wl->events[i].a, strcmp(wl->events[i].b, "t") == 0);
}

void live_foreach_mapping(void *ctx, world_mapping_fn *fn, void *arg)
{
	struct world_live *wl = ctx;
	for (size_t i = 0; i < wl->nmaps; i++)
		fn(arg, wl->maps[i].a, wl->maps[i].b);
}

void live_foreach_customer(void *ctx, world_customer_fn *fn, void *arg)
{
	struct world_live *wl = ctx;
	/* Oldest first, as the models walk them. */
	for (size_t i = wl->ncusts; i-- > 0;)
		fn(arg, wl->custs[i].id, wl->custs[i].user, wl->custs[i].created_us);
}

size_t live_mail_count(void *ctx)
{
	struct world_live *wl = ctx;
	return wl->sink != NULL ? smtp_sink_count(wl->sink) : wl->nmails;
}

const char *live_mail_data(void *ctx, size_t i, size_t *len)
{
	struct world_live *wl = ctx;
	if (wl->sink != NULL) {
		const struct smtp_sink_message *m = smtp_sink_message(wl->sink, i);
		*len = m->len;
		return m->data;
	}
	ASSERT(i < wl->nmails);
	*len = wl->mails[i].len;
	return wl->mails[i].data;
}

bool live_mail_headers(void *ctx, size_t i, world_header_fn *fn, void *arg)
{
	size_t len;
	const char *data = live_mail_data(ctx, i, &len);
	return world_live_mail_headers(data, len, fn, arg);
}

uint64_t live_late_replies(void *ctx)
{
	struct world_live *wl = ctx;
	return wl->redis != NULL ? redis_live_late_replies(wl->redis) : 0;
}

/* ---- mail headers as received ------------------------------------------------------ */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A header field name: printable ASCII other than ':' (RFC 5322 ftext). */
static bool is_name_char(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static void header_emit(char *scratch, size_t name_len, size_t vlen, world_header_fn *fn,
                        void *arg)
{
	char *v = scratch + name_len + 1;
	size_t a = 0, b = vlen;
	while (a < b && is_blank(v[a]))
		a++;
	while (b > a && is_blank(v[b - 1]))
		b--;
	v[b] = '\0';
	fn(arg, scratch, v + a);
}

/* One pass; with fn NULL it only validates. scratch holds the name, a NUL,
 * then the unfolded value: never more than len + 2 bytes. */
static bool header_walk(const char *d, size_t len, char *scratch, world_header_fn *fn,
                        void *arg)
{
	size_t pos = 0, name_len = 0, vlen = 0;
	bool open = false;
	for (size_t lines = 0; pos < len && lines <= len; lines++) {
		const char *crlf = memmem(d + pos, len - pos, "\r\n", 2);
		size_t eol = crlf != NULL ? (size_t)(crlf - d) : len;
		const char *line = d + pos;
		size_t llen = eol - pos;
		pos = crlf != NULL ? eol + 2 : len;
		if (llen == 0)
			break;
		if (is_blank(line[0])) {
			if (!open)
				return false;
			if (fn != NULL)
				memcpy(scratch + name_len + 1 + vlen, line, llen);
			vlen += llen;
			continue;
		}
		if (open && fn != NULL)
			header_emit(scratch, name_len, vlen, fn, arg);
		size_t n = 0;
		while (n < llen && is_name_char((unsigned char)line[n]))
			n++;
		if (n == 0 || n == llen || line[n] != ':')
			return false;
		name_len = n;
		vlen = llen - n - 1;
		if (fn != NULL) {
			memcpy(scratch, line, n);
			scratch[n] = '\0';
			memcpy(scratch + n + 1, line + n + 1, vlen);
		}
		open = true;
	}
	if (open && fn != NULL)
		header_emit(scratch, name_len, vlen, fn, arg);
	return true;
}

bool world_live_mail_headers(const char *data, size_t len, world_header_fn *fn, void *arg)
{
	ASSERT(fn != NULL);
	if (!header_walk(data, len, NULL, NULL, NULL))
		return false;
	char *scratch = malloc(len + 2);
	ASSERT(scratch != NULL);
	bool ok = header_walk(data, len, scratch, fn, arg);
	free(scratch);
	return ok;
}
