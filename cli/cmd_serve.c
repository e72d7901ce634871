/* cli/cmd_serve.c - `faultline serve`: options, secrets from the
 * environment or files (never argv), signals, and the loop around
 * live/serve.c. Stops cleanly on SIGINT and SIGTERM: no new connections,
 * requests in flight answered (bounded), then exit 0. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/webhook.h"
#include "cli/cli.h"
#include "live/stripe_live.h"
#include "cli/live_run.h"
#include "harness/runner.h"
#include "sim/sched.h"
#include "live/serve.h"
#include "proxy/http_guard.h"

#define SERVE_SECRET_ENV "FAULTLINE_WEBHOOK_SECRET"
#define SERVE_DRAIN_US 10000000     /* longest wait for requests at stop */
#define SERVE_DRAIN_TICK_MS 20
#define SERVE_RATE_WINDOW_S_MAX 86400
#define SERVE_DEDUP_TTL_S_MAX 86400

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: faultline serve [--listen HOST:PORT] [OPTIONS]\n"
	        "\n"
	        "Serves the core's endpoints over HTTP against real servers, as the\n"
	        "original backend named them:\n"
	        "  POST %-36s Stripe-Signature checked; 200, 400, 500\n"
	        "  POST %-36s {\"user_id\",\"email\",\"request_id\"}:\n"
	        "       rate limit, de-duplication, customer: 201 {\"customer_id\"}, 429, 409,\n"
	        "       400, 503 (retry), 500\n"
	        "  POST %-36s {\"quote_ref\",\"customer_name\",\"customer_email\"}:\n"
	        "       202 sent, 200 already sent, 422 invalid, 502 failed, 400\n"
	        "Other paths 404, other methods 405. JSON in, JSON out.\n"
	        "\n"
	        "  -l, --listen HOST:PORT    where to listen (default 127.0.0.1:8080; port 0\n"
	        "                            picks one). Only loopback unless told otherwise:\n"
	        "      --allow-remote        lets --listen name a non-loopback address\n"
	        "      --head-timeout S      a request's head and body must arrive within S\n"
	        "                            seconds of the connection being ready (10)\n"
	        "  -v, --variant V           legacy | seed | hardened (default) or FIX=V,...\n"
	        "      --redis-url URL       redis://HOST:PORT (default $FAULTLINE_REDIS_URL)\n"
	        "      --pg-url CONN         libpq string (default $FAULTLINE_PG_URL)\n"
	        "      --smtp-url URL        mail server (default: a built-in SMTP sink)\n"
	        "      --stripe-key-file F   key for $FAULTLINE_STRIPE_URL when\n"
	        "                            $FAULTLINE_STRIPE_KEY is unset (default: a\n"
	        "                            built-in fake Stripe)\n"
	        "      --webhook-secret-file F  the signing secret, first line of F, when\n"
	        "                            $%s is unset; never on the command line\n"
	        "      --rate-limit N        payment intents per user and window (default 5)\n"
	        "      --rate-window S       the window in seconds (default 60)\n"
	        "      --dedup-ttl S         request de-duplication window in seconds (10)\n"
	        "      --seed N              the core's randomness (default 1)\n"
	        "  -h, --help                this help\n"
	        "\n"
	        "Limits: body %u KiB (413), headers %u KiB, %d connections (past it a\n"
	        "newcomer closes the oldest connection that has sent no request yet, or\n"
	        "else is answered 503 and closed), %d requests in flight (503), idle\n"
	        "connections closed after %d s, slow requests at the --head-timeout.\n"
	        "SIGINT or SIGTERM: stop accepting, answer what is in flight, exit 0.\n"
	        "Exit status: 0 stopped cleanly, 2 bad usage, 3 a server could not be reached.\n",
	        "/api/stripe/webhook", "/api/stripe/create-payment-intent", "/api/quotes/email",
	        SERVE_SECRET_ENV, SERVE_BODY_MAX >> 10, SERVE_HEADERS_MAX >> 10, SERVE_CONNS_MAX,
	        SERVE_INFLIGHT_MAX, SERVE_IDLE_S);
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* The secret from the environment, else the first line of file. */
static bool load_secret(const char *file, char *out, size_t size, char *err, size_t errsize)
{
	const char *env = getenv(SERVE_SECRET_ENV);
	if (env != NULL && env[0] != '\0') {
		if (strlen(env) >= size) {
			snprintf(err, errsize, "$%s is too long", SERVE_SECRET_ENV);
			return false;
		}
		snprintf(out, size, "%s", env);
		return true;
	}
	if (file == NULL) {
		snprintf(err, errsize, "no webhook secret: set $%s or give --webhook-secret-file",
		         SERVE_SECRET_ENV);
		return false;
	}
	FILE *f = fopen(file, "r");
	if (f == NULL) {
		snprintf(err, errsize, "cannot read %s: %s", file, strerror(errno));
		return false;
	}
	bool ok = fgets(out, (int)size, f) != NULL;
	fclose(f);
	if (ok)
		out[strcspn(out, "\r\n")] = '\0';
	if (!ok || out[0] == '\0') {
		snprintf(err, errsize, "%s holds no secret on its first line", file);
		explicit_bzero(out, size);
		return false;
	}
	return true;
}

struct serve_loop {
	struct event_base *base;
	struct serve *sv;
	struct event *tick;
	uint64_t drain_ms;
	bool stopping;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct serve_loop *sl = arg;
	(void)fd;
	(void)what;
	sl->drain_ms += SERVE_DRAIN_TICK_MS;
	if (serve_inflight(sl->sv) == 0 || sl->drain_ms * 1000 >= SERVE_DRAIN_US)
		event_base_loopbreak(sl->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct serve_loop *sl = arg;
	(void)what;
	if (sl->stopping)
		return;
	sl->stopping = true;
	fprintf(stderr, "faultline serve: %s: no new connections; %llu request(s) in flight\n",
	        sig == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)serve_inflight(sl->sv));
	serve_stop(sl->sv);
	struct timeval tv = {.tv_sec = 0, .tv_usec = SERVE_DRAIN_TICK_MS * 1000};
	event_add(sl->tick, &tv);
}

/* "hardened" when every fix agrees, else "ratelimit=legacy,..." */
static void format_variants(const struct variant_set *vs, char *buf, size_t size)
{
	bool same = true;
	for (int f = 1; f < FIX_COUNT; f++)
		same = same && vs->v[f] == vs->v[0];
	if (same) {
		snprintf(buf, size, "%s", variant_name(vs->v[0]));
		return;
	}
	size_t used = 0;
	buf[0] = '\0';
	for (int f = 0; f < FIX_COUNT; f++) {
		int n = snprintf(buf + used, size - used, "%s%s=%s", f ? "," : "",
		                 fix_name((enum fix_id)f), variant_name(vs->v[f]));
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
}

static const char *env_or(const char *given, const char *name)
{
	if (given != NULL)
		return given;
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"variant", required_argument, NULL, 'v'},
		{"redis-url", required_argument, NULL, 'R'},
		{"pg-url", required_argument, NULL, 'P'},
		{"smtp-url", required_argument, NULL, 'M'},
		{"stripe-key-file", required_argument, NULL, 'K'},
		{"webhook-secret-file", required_argument, NULL, 'W'},
		{"rate-limit", required_argument, NULL, 'N'},
		{"rate-window", required_argument, NULL, 'w'},
		{"dedup-ttl", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 's'},
		{"head-timeout", required_argument, NULL, 'T'},
		{"allow-remote", no_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct variant_set vs;
	for (int f = 0; f < FIX_COUNT; f++)
		vs.v[f] = VARIANT_HARDENED;
	const char *listen = "127.0.0.1:8080", *redis = NULL, *pg = NULL, *smtp = NULL;
	const char *key_file = NULL, *secret_file = NULL;
	uint64_t limit = 5, window_s = 60, ttl_s = 10, seed = 1, head_us = 0;
	bool allow_remote = false;
	char err[512];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "l:v:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 'v':
			if (!variant_set_parse(optarg, &vs, err, sizeof err)) {
				fprintf(stderr, "faultline serve: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		case 'R': redis = optarg; break;
		case 'P': pg = optarg; break;
		case 'M': smtp = optarg; break;
		case 'K': key_file = optarg; break;
		case 'W': secret_file = optarg; break;
		case 'A': allow_remote = true; break;
		case 'T':
			if (!http_guard_parse_deadline(optarg, &head_us)) {
				fprintf(stderr, "faultline serve: bad --head-timeout '%s' (seconds, 0.01 to "
				                "3600)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'N':
		case 'w':
		case 'd':
		case 's': {
			uint64_t *dst = c == 'N' ? &limit : c == 'w' ? &window_s : c == 'd' ? &ttl_s : &seed;
			uint64_t max = c == 'N' ? 1000000 : c == 'w' ? SERVE_RATE_WINDOW_S_MAX
			             : c == 'd' ? SERVE_DEDUP_TTL_S_MAX : UINT64_MAX;
			if (!parse_u64(optarg, c == 's' ? 0 : 1, max, dst)) {
				fprintf(stderr, "faultline serve: bad number '%s' (try --help)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "faultline serve: unexpected argument '%s' (try --help)\n", argv[optind]);
		return EXIT_USAGE;
	}
	redis = env_or(redis, LIVE_RUN_REDIS_ENV);
	pg = env_or(pg, LIVE_RUN_PG_ENV);
	if (redis == NULL || pg == NULL) {
		fprintf(stderr, "faultline serve: no %s given (--%s or $%s)\n",
		        redis == NULL ? "Redis server" : "PostgreSQL server",
		        redis == NULL ? "redis-url" : "pg-url",
		        redis == NULL ? LIVE_RUN_REDIS_ENV : LIVE_RUN_PG_ENV);
		return EXIT_USAGE;
	}
	char secret[WEBHOOK_SECRET_MAX + 2];
	if (!load_secret(secret_file, secret, sizeof secret, err, sizeof err)) {
		fprintf(stderr, "faultline serve: %s\n", err);
		return EXIT_USAGE;
	}
	char key[STRIPE_LIVE_KEY_MAX];
	const char *stripe_url = env_or(NULL, LIVE_RUN_STRIPE_ENV);
	if (stripe_url != NULL &&
	    stripe_live_key_load(key_file, key, sizeof key, err, sizeof err) != RESULT_OK) {
		fprintf(stderr, "faultline serve: %s\n", err);
		explicit_bzero(secret, sizeof secret);
		return EXIT_USAGE;
	}
	struct serve_config cfg = {
		.listen = listen, .webhook_secret = secret, .redis_url = redis, .pg_conninfo = pg,
		.stripe_url = stripe_url, .stripe_key = stripe_url != NULL ? key : NULL,
		.smtp_url = smtp, .rate_limit = (uint32_t)limit, .rate_window_ms = window_s * 1000,
		.dedup_ttl_ms = ttl_s * 1000, .seed = seed, .head_timeout_us = head_us,
		.allow_remote = allow_remote,
	};
	memcpy(cfg.variants, vs.v, sizeof cfg.variants);
	signal(SIGPIPE, SIG_IGN);
	struct event_base *base = sched_base_new(SCHED_REAL);
	if (base == NULL) {
		fprintf(stderr, "faultline serve: out of memory\n");
		return EXIT_VIOLATED;
	}
	bool unreachable = false;
	struct serve *sv = serve_create(base, &cfg, &unreachable, err, sizeof err);
	explicit_bzero(secret, sizeof secret);
	explicit_bzero(key, sizeof key);
	if (sv == NULL) {
		fprintf(stderr, "faultline serve: %s\n", err);
		event_base_free(base);
		return unreachable ? EXIT_UNREACHABLE : EXIT_USAGE;
	}
	struct serve_loop sl = {.base = base, .sv = sv};
	sl.tick = event_new(base, -1, EV_PERSIST, on_tick, &sl);
	struct event *sigint = evsignal_new(base, SIGINT, on_signal, &sl);
	struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, &sl);
	int status = 0;
	if (sl.tick == NULL || sigint == NULL || sigterm == NULL || event_add(sigint, NULL) != 0 ||
	    event_add(sigterm, NULL) != 0) {
		fprintf(stderr, "faultline serve: cannot set up signal handling\n");
		status = EXIT_VIOLATED;
	} else {
		char var[160];
		format_variants(&vs, var, sizeof var);
		printf("faultline serve: listening on http://%s (variant %s); %s\n", serve_listen(sv),
		       var, serve_describe(sv));
		fflush(stdout);
		event_base_dispatch(base);
		if (serve_inflight(sv) > 0)
			fprintf(stderr, "faultline serve: %llu request(s) still in flight after %d s; "
			        "abandoned\n", (unsigned long long)serve_inflight(sv),
			        (int)(SERVE_DRAIN_US / 1000000));
		fprintf(stderr, "faultline serve: stopped\n");
	}
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sl.tick != NULL)
		event_free(sl.tick);
	serve_destroy(sv);
	event_base_free(base);
	return status;
}
