/* live/curl_loop.c - curl_multi_socket_action driven by libevent: one
 * persistent event per socket curl asks about, one timer for curl's
 * timeout, and a sweep of curl_multi_info_read after every action. */
#include "live/curl_loop.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/assert.h"

struct transfer {
	struct curl_loop *cl;
	struct transfer *prev, *next;  /* cl->transfers */
	CURL *easy;
	curl_loop_done_fn *done;
	void *arg;
	char *body;                    /* grows up to CURL_LOOP_BODY_MAX + 1 */
	size_t body_len, body_cap;
	bool body_too_big;
	char errbuf[CURL_ERROR_SIZE];
};

struct sock {
	struct curl_loop *cl;
	struct sock *prev, *next;      /* cl->socks */
	curl_socket_t fd;
	struct event *ev;
};

struct curl_loop {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	int transfers_max;
	int running;                   /* transfers not yet called back */
	int in_callback;
	struct transfer *transfers;
	struct sock *socks;
};

static void transfer_unlink(struct transfer *t)
{
	struct curl_loop *cl = t->cl;
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		cl->transfers = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	cl->running--;
}

static void sock_free(struct sock *sk)
{
	struct curl_loop *cl = sk->cl;
	if (sk->prev != NULL)
		sk->prev->next = sk->next;
	else
		cl->socks = sk->next;
	if (sk->next != NULL)
		sk->next->prev = sk->prev;
	if (sk->ev != NULL)
		event_free(sk->ev);
	free(sk);
}

static struct transfer *transfer_of(CURL *easy)
{
	char *p = NULL;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);
	ASSERT(p != NULL);
	return (struct transfer *)(void *)p;
}

/* Calls back every finished transfer. Each done message comes once. */
static void curl_loop_sweep(struct curl_loop *cl)
{
	CURLMsg *msg;
	int left;
	for (int n = 0; n <= CURL_LOOP_TRANSFERS_MAX; n++) {
		msg = curl_multi_info_read(cl->multi, &left);
		if (msg == NULL)
			return;
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode code = msg->data.result;
		struct transfer *t = transfer_of(easy);
		ASSERT(t->easy == easy);
		curl_multi_remove_handle(cl->multi, easy);
		transfer_unlink(t);

		struct curl_loop_response r = {
			.code = code,
			.body = t->body != NULL ? t->body : "",
			.body_len = t->body_len,
			.body_too_big = t->body_too_big,
			.error = code == CURLE_OK ? "" :
			         t->errbuf[0] != '\0' ? t->errbuf :
			                                curl_easy_strerror(code),
		};
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
		cl->in_callback++;
		t->done(t->arg, easy, &r);
		cl->in_callback--;
		curl_easy_cleanup(easy);
		free(t->body);
		free(t);
	}
}

static void curl_loop_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct curl_loop *cl = arg;
	int still;
	(void)fd;
	(void)what;
	curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &still);
	curl_loop_sweep(cl);
}

static void curl_loop_on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct sock *sk = arg;
	struct curl_loop *cl = sk->cl; /* sk may be gone after the action */
	int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
	             ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int still;
	curl_multi_socket_action(cl->multi, fd, action, &still);
	curl_loop_sweep(cl);
}

/* CURLMOPT_TIMERFUNCTION: curl wants an action after timeout_ms (-1: no
 * timer). Never acts from inside: the event runs on the next pass. */
static int curl_loop_on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_loop *cl = userp;
	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(cl->timer);
		return 0;
	}
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};
	return evtimer_add(cl->timer, &tv) == 0 ? 0 : -1;
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl asks, or stop. */
static int curl_loop_on_socket_change(CURL *easy, curl_socket_t s, int what,
                                      void *userp, void *socketp)
{
	struct curl_loop *cl = userp;
	struct sock *sk = socketp;
	(void)easy;

	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL) {
			curl_multi_assign(cl->multi, s, NULL);
			sock_free(sk);
		}
		return 0;
	}
	if (sk == NULL) {
		sk = calloc(1, sizeof *sk);
		if (sk == NULL)
			return -1;
		sk->cl = cl;
		sk->fd = s;
		sk->next = cl->socks;
		if (cl->socks != NULL)
			cl->socks->prev = sk;
		cl->socks = sk;
		curl_multi_assign(cl->multi, s, sk);
	}
	if (sk->ev != NULL)
		event_free(sk->ev);
	short flags = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	              ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	sk->ev = event_new(cl->base, s, flags, curl_loop_on_socket, sk);
	if (sk->ev == NULL || event_add(sk->ev, NULL) != 0)
		return -1;
	return 0;
}

static size_t curl_loop_on_body(char *data, size_t size, size_t nmemb,
                                void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;
	if (n > CURL_LOOP_BODY_MAX - t->body_len) {
		t->body_too_big = true;
		return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
	}
	if (t->body_len + n + 1 > t->body_cap) {
		size_t cap = t->body_cap ? t->body_cap : 1024;
		while (cap < t->body_len + n + 1)
			cap *= 2;
		char *nb = realloc(t->body, cap);
		if (nb == NULL)
			return 0;
		t->body = nb;
		t->body_cap = cap;
	}
	memcpy(t->body + t->body_len, data, n);
	t->body_len += n;
	t->body[t->body_len] = '\0';
	return n;
}

struct curl_loop *curl_loop_create(struct event_base *base, int transfers_max)
{
	ASSERT(base != NULL);
	ASSERT(transfers_max >= 1);
	ASSERT(transfers_max <= CURL_LOOP_TRANSFERS_MAX);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	struct curl_loop *cl = calloc(1, sizeof *cl);
	if (cl == NULL)
		goto fail_global;
	cl->base = base;
	cl->transfers_max = transfers_max;
	cl->timer = evtimer_new(base, curl_loop_on_timer, cl);
	if (cl->timer == NULL)
		goto fail_cl;
	cl->multi = curl_multi_init();
	if (cl->multi == NULL)
		goto fail_timer;
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION,
	                  curl_loop_on_socket_change);
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION,
	                  curl_loop_on_timer_change);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
	return cl;

fail_timer:
	event_free(cl->timer);
fail_cl:
	free(cl);
fail_global:
	curl_global_cleanup();
	return NULL;
}

static void transfer_abandon(struct transfer *t)
{
	struct curl_loop *cl = t->cl;
	curl_multi_remove_handle(cl->multi, t->easy);
	transfer_unlink(t);
	curl_easy_cleanup(t->easy);
	free(t->body);
	free(t);
}

void curl_loop_destroy(struct curl_loop *cl)
{
	if (cl == NULL)
		return;
	ASSERT(cl->in_callback == 0);
	while (cl->transfers != NULL)
		transfer_abandon(cl->transfers);
	curl_multi_cleanup(cl->multi);
	while (cl->socks != NULL)
		sock_free(cl->socks);
	event_free(cl->timer);
	free(cl);
	curl_global_cleanup();
}

enum result curl_loop_start(struct curl_loop *cl, CURL *easy,
                            curl_loop_done_fn *done, void *arg)
{
	ASSERT(cl != NULL);
	ASSERT(easy != NULL);
	ASSERT(done != NULL);

	if (cl->running >= cl->transfers_max)
		goto fail_easy;
	struct transfer *t = calloc(1, sizeof *t);
	if (t == NULL)
		goto fail_easy;
	t->cl = cl;
	t->easy = easy;
	t->done = done;
	t->arg = arg;
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, curl_loop_on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	if (curl_multi_add_handle(cl->multi, easy) != CURLM_OK) {
		free(t);
		goto fail_easy;
	}
	t->next = cl->transfers;
	if (cl->transfers != NULL)
		cl->transfers->prev = t;
	cl->transfers = t;
	cl->running++;
	return RESULT_OK;

fail_easy:
	curl_easy_cleanup(easy);
	return RESULT_NOMEM;
}

void curl_loop_cancel(struct curl_loop *cl, CURL *easy)
{
	struct transfer *t = transfer_of(easy);
	ASSERT(t->cl == cl);
	transfer_abandon(t);
}

int curl_loop_running(const struct curl_loop *cl)
{
	return cl->running;
}
