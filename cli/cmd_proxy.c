/* cli/cmd_proxy.c - `faultline proxy`: the fault proxy on its own, with its
 * Toxiproxy-compatible HTTP control API, until SIGINT or SIGTERM. Prints
 * each listening address on stdout so scripts can ask for port 0.
 * Not the proxy itself (proxy/proxy.c) nor the API (control_api.c). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "proxy/control_api.h"
#include "proxy/http_guard.h"
#include "proxy/proxy.h"
#include "sim/sched.h"

#define CMD_PROXY_CONFIG_MAX (1u << 20) /* bytes of a --config file */

static void cmd_proxy_usage(FILE *out)
{
	fprintf(out,
	        "usage: faultline proxy --listen HOST:PORT --upstream HOST:PORT [--name NAME]\n"
	        "                       [--control HOST:PORT] [--config FILE] [--seed N]\n"
	        "                       [--conns-max N] [--idle-timeout MS]\n"
	        "                       [--allow-remote] [--head-timeout S]\n"
	        "       faultline proxy --control HOST:PORT [--config FILE] [--seed N]\n"
	        "\n"
	        "A TCP fault proxy between clients and a real server (redis-server,\n"
	        "PostgreSQL), with a Toxiproxy-compatible HTTP control API. Toxics: latency,\n"
	        "bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, and the\n"
	        "protocol-aware redis_command and pg_command (see docs/proxy.md).\n"
	        "\n"
	        "Options:\n"
	        "  --listen HOST:PORT    where the proxy listens (default 127.0.0.1:0; port 0:\n"
	        "                        the kernel picks one)\n"
	        "  --upstream HOST:PORT  the server to forward to\n"
	        "  --name NAME           the proxy's name in the API (default \"proxy\")\n"
	        "  --control HOST:PORT   serve the HTTP control API there (Toxiproxy uses\n"
	        "                        127.0.0.1:8474)\n"
	        "  --config FILE         proxies and toxics to create at start-up: a JSON\n"
	        "                        array in Toxiproxy's populate format, each proxy\n"
	        "                        with an optional \"toxics\" array\n"
	        "  --seed N              seed of toxicity draws, jitter and slice sizes\n"
	        "                        (default 1)\n"
	        "  --conns-max N         client connections per proxy (default %d)\n"
	        "  --idle-timeout MS     close connections idle this long (default: never)\n"
	        "  --allow-remote        let proxies (from any source: --listen, --config,\n"
	        "                        the API) and --control listen on non-loopback\n"
	        "                        addresses; without it they are refused (API: 400)\n"
	        "  --head-timeout S      an API request's head and body must arrive within\n"
	        "                        S seconds (default 10)\n"
	        "  -h, --help            this help\n"
	        "\n"
	        "Addresses without a host, and every default, bind 127.0.0.1 only.\n"
	        "Limits of the control API: request body %u KiB, headers %u KiB, %d\n"
	        "connections at once (past it the oldest that sent no request is closed,\n"
	        "else 503 and close), %d s idle; an upstream that does not resolve: 400.\n"
	        "\n"
	        "Prints one line per listening address, then runs until SIGINT or SIGTERM:\n"
	        "  proxy NAME 127.0.0.1:PORT -> HOST:PORT\n"
	        "  control 127.0.0.1:PORT\n"
	        "\n"
	        "Exit status: 0 stopped by a signal, 2 bad usage or configuration,\n"
	        "3 an address could not be resolved or bound.\n",
	        PROXY_CONNS_DEFAULT, CONTROL_BODY_MAX / 1024, CONTROL_HEADERS_MAX / 1024,
	        CONTROL_CONNS_MAX, CONTROL_IDLE_S);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "faultline proxy: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (try 'faultline proxy --help')\n");
	va_end(ap);
	return EXIT_USAGE;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (s == NULL || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	char *end = NULL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool is_valid_address(const char *addr)
{
	char host[PROXY_ADDR_MAX];
	uint16_t port;
	return proxy_addr_split(addr, host, sizeof host, &port, NULL, 0) == RESULT_OK;
}

/* Reads a whole file of at most CMD_PROXY_CONFIG_MAX bytes; NULL on error. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *buf = malloc(CMD_PROXY_CONFIG_MAX + 1);
	size_t n = buf != NULL ? fread(buf, 1, CMD_PROXY_CONFIG_MAX + 1, f) : 0;
	bool bad = buf == NULL || ferror(f) || n > CMD_PROXY_CONFIG_MAX;
	fclose(f);
	if (bad) {
		free(buf);
		errno = n > CMD_PROXY_CONFIG_MAX ? EFBIG : errno;
		return NULL;
	}
	*len = n;
	return buf;
}

static void cmd_proxy_on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

struct cmd_proxy_opts {
	const char *listen;
	const char *upstream;
	const char *name;
	const char *control;
	const char *config;
	uint64_t seed;
	uint64_t conns_max;
	uint64_t idle_ms;
	bool allow_remote;
	uint64_t head_us;
};

static int cmd_proxy_parse(int argc, char **argv, struct cmd_proxy_opts *o, bool *help)
{
	enum { OPT_LISTEN = 256, OPT_UPSTREAM, OPT_NAME, OPT_CONTROL, OPT_CONFIG, OPT_SEED,
	       OPT_CONNS, OPT_IDLE, OPT_ALLOW_REMOTE, OPT_HEAD_TIMEOUT };
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"upstream", required_argument, NULL, OPT_UPSTREAM},
		{"name", required_argument, NULL, OPT_NAME},
		{"control", required_argument, NULL, OPT_CONTROL},
		{"config", required_argument, NULL, OPT_CONFIG},
		{"seed", required_argument, NULL, OPT_SEED},
		{"conns-max", required_argument, NULL, OPT_CONNS},
		{"idle-timeout", required_argument, NULL, OPT_IDLE},
		{"allow-remote", no_argument, NULL, OPT_ALLOW_REMOTE},
		{"head-timeout", required_argument, NULL, OPT_HEAD_TIMEOUT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof *o);
	o->seed = 1;
	*help = false;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN: o->listen = optarg; break;
		case OPT_UPSTREAM: o->upstream = optarg; break;
		case OPT_NAME: o->name = optarg; break;
		case OPT_CONTROL: o->control = optarg; break;
		case OPT_CONFIG: o->config = optarg; break;
		case OPT_SEED:
			if (!parse_u64(optarg, UINT64_MAX, &o->seed))
				return usage_error("bad --seed '%s': want a number", optarg);
			break;
		case OPT_CONNS:
			if (!parse_u64(optarg, 1u << 20, &o->conns_max) || o->conns_max == 0)
				return usage_error("bad --conns-max '%s': want 1 to 1048576", optarg);
			break;
		case OPT_IDLE:
			if (!parse_u64(optarg, UINT32_MAX, &o->idle_ms))
				return usage_error("bad --idle-timeout '%s': want milliseconds", optarg);
			break;
		case OPT_ALLOW_REMOTE: o->allow_remote = true; break;
		case OPT_HEAD_TIMEOUT:
			if (!http_guard_parse_deadline(optarg, &o->head_us))
				return usage_error("bad --head-timeout '%s': want seconds, 0.01 to 3600",
				                   optarg);
			break;
		case 'h':
			*help = true;
			return EXIT_HELD;
		case ':':
			return usage_error("option %s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->upstream == NULL && o->control == NULL && o->config == NULL)
		return usage_error("nothing to do: give --upstream, --control or --config");
	if (o->upstream == NULL && (o->listen != NULL || o->name != NULL))
		return usage_error("--listen and --name need --upstream");
	const char *addrs[] = {o->listen, o->upstream, o->control};
	for (size_t i = 0; i < 3; i++) {
		if (addrs[i] != NULL && !is_valid_address(addrs[i]))
			return usage_error("bad address '%s': want HOST:PORT", addrs[i]);
	}
	char err[512];
	/* Remote addresses are bad usage; unresolvable ones are found later (3). */
	if (o->control != NULL &&
	    http_guard_check_listen(o->control, o->allow_remote, err, sizeof err) == RESULT_REJECT)
		return usage_error("--control: %s", err);
	if (o->listen != NULL &&
	    http_guard_check_listen(o->listen, o->allow_remote, err, sizeof err) == RESULT_REJECT)
		return usage_error("--listen: %s", err);
	return EXIT_HELD;
}

int cmd_proxy(int argc, char **argv)
{
	struct cmd_proxy_opts o;
	bool help;
	int rc = cmd_proxy_parse(argc, argv, &o, &help);
	if (rc != EXIT_HELD)
		return rc;
	if (help) {
		cmd_proxy_usage(stdout);
		return EXIT_HELD;
	}
	/* A client that goes away mid-write must not kill the proxy. */
	signal(SIGPIPE, SIG_IGN);

	struct event_base *base = sched_base_new(SCHED_REAL);
	if (base == NULL) {
		fprintf(stderr, "faultline proxy: out of memory\n");
		return EXIT_UNREACHABLE;
	}
	char err[512] = "";
	struct control_api_config acfg = {.listen = o.control, .seed = o.seed,
	                                  .allow_remote = o.allow_remote,
	                                  .head_timeout_us = o.head_us};
	struct control_api *api = control_api_create(base, &acfg, err, sizeof err);
	struct event *sigint = NULL;
	struct event *sigterm = NULL;
	if (api == NULL) {
		fprintf(stderr, "faultline proxy: control API: %s\n", err);
		rc = EXIT_UNREACHABLE;
		goto out;
	}
	if (o.upstream != NULL) {
		struct proxy_config pcfg = {.name = o.name, .listen = o.listen, .upstream = o.upstream,
		                            .conns_max = (uint32_t)o.conns_max,
		                            .idle_timeout_ms = (uint32_t)o.idle_ms};
		enum result r = control_api_add_proxy(api, &pcfg, err, sizeof err);
		if (r != RESULT_OK) {
			fprintf(stderr, "faultline proxy: %s\n", err);
			rc = r == RESULT_ERROR ? EXIT_UNREACHABLE : EXIT_USAGE;
			goto out;
		}
	}
	if (o.config != NULL) {
		size_t len = 0;
		char *text = read_file(o.config, &len);
		if (text == NULL) {
			fprintf(stderr, "faultline proxy: cannot read %s: %s\n", o.config,
			        strerror(errno));
			rc = EXIT_USAGE;
			goto out;
		}
		enum result r = control_api_populate(api, text, len, err, sizeof err);
		free(text);
		if (r != RESULT_OK) {
			fprintf(stderr, "faultline proxy: %s: %s\n", o.config, err);
			rc = r == RESULT_ERROR ? EXIT_UNREACHABLE : EXIT_USAGE;
			goto out;
		}
	}
	for (size_t i = 0; i < control_api_proxy_count(api); i++) {
		const struct proxy *p = control_api_proxy_at(api, i);
		printf("proxy %s %s -> %s\n", proxy_name(p), proxy_listen(p), proxy_upstream(p));
	}
	if (control_api_port(api) != 0)
		printf("control %s\n", control_api_listen(api));
	fflush(stdout);

	sigint = evsignal_new(base, SIGINT, cmd_proxy_on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, cmd_proxy_on_signal, base);
	if (sigint == NULL || sigterm == NULL || evsignal_add(sigint, NULL) != 0 ||
	    evsignal_add(sigterm, NULL) != 0) {
		fprintf(stderr, "faultline proxy: cannot watch signals\n");
		rc = EXIT_UNREACHABLE;
		goto out;
	}
	event_base_dispatch(base);
	rc = EXIT_HELD;
out:
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	control_api_destroy(api);
	event_base_free(base);
	return rc;
}
