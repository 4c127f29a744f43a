/*
 * cmd_query.c - mta-sts query: ask a running mta-stsd, as Postfix does.
 *
 * A socketmap client (socketmap_table(5)), like `postmap -q KEY
 * socketmap:inet:127.0.0.1:8461:postfix`: one connection, one netstring
 * request "<map> <key>" per domain, the reply printed as received.
 */
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "mtasts/limits.h"
#include "netstring.h"

#define DEFAULT_SOCKET "inet:127.0.0.1:8461"

static int
connect_socket(const char *spec)
{
	const char *rest = spec;
	int fd;

	if (strncmp(spec, "unix:", 5) == 0 || spec[0] == '/') {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		if (spec[0] != '/')
			rest = spec + 5;
		if (strlen(rest) >= sizeof(sun.sun_path))
			return -1;
		memcpy(sun.sun_path, rest, strlen(rest) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
			close(fd);
			fd = -1;
		}
		return fd;
	}
	{
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
		struct addrinfo *res, *ai;
		char host[256];
		const char *colon;

		if (strncmp(spec, "inet:", 5) == 0)
			rest = spec + 5;
		colon = strrchr(rest, ':');
		if (colon == NULL || (size_t)(colon - rest) >= sizeof(host))
			return -1;
		memcpy(host, rest, (size_t)(colon - rest));
		host[colon - rest] = '\0';
		/* "[::1]:8461" */
		if (host[0] == '[' && host[strlen(host) - 1] == ']') {
			memmove(host, host + 1, strlen(host));
			host[strlen(host) - 1] = '\0';
		}
		if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
			return -1;
		fd = -1;
		for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
			fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC,
			    0);
			if (fd >= 0 &&
			    connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
				close(fd);
				fd = -1;
			}
		}
		freeaddrinfo(res);
		return fd;
	}
}

static bool
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Send one request, read one reply into reply (NUL-terminated). */
static int
ask(int fd, struct sts_netstring_decoder *dec, const char *map,
    const char *key, char *reply, size_t cap)
{
	char req[STS_SOCKMAP_MAX_QUERY], frame[STS_SOCKMAP_MAX_QUERY + 32];
	static char in[4096];
	static size_t in_off, in_len;
	size_t n, flen;
	int r;

	n = (size_t)snprintf(req, sizeof(req), "%s %s", map, key);
	if (n >= sizeof(req) ||
	    sts_netstring_encode(req, n, frame, sizeof(frame), &flen) != STS_OK)
		return -1;
	if (!write_all(fd, frame, flen))
		return -1;
	for (;;) {
		const char *payload;
		size_t used, plen;

		if (in_off == in_len) {
			ssize_t got = read(fd, in, sizeof(in));

			if (got <= 0)
				return -1;
			in_off = 0;
			in_len = (size_t)got;
		}
		r = sts_netstring_decode(dec, in + in_off, in_len - in_off,
		    &used, &payload, &plen);
		if (r == STS_NETSTRING_MORE) {
			in_off = in_len;
			continue;
		}
		if (r != STS_OK || plen >= cap)
			return -1;
		in_off += used;
		memcpy(reply, payload, plen);
		reply[plen] = '\0';
		return 0;
	}
}

int
cmd_query(int argc, char **argv)
{
	static const struct option options[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"map", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static char reply[STS_SOCKMAP_MAX_REPLY + 1];
	const char *spec = DEFAULT_SOCKET, *map = "postfix";
	struct sts_netstring_decoder dec;
	int c, fd, status = CLI_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c == 's')
			spec = optarg;
		else if (c == 'm')
			map = optarg;
		else
			goto usage;
	}
	if (optind >= argc || strchr(map, ' ') != NULL || map[0] == '\0')
		goto usage;
	if ((fd = connect_socket(spec)) < 0) {
		fprintf(stderr, "%s: cannot connect to %s\n", cli_progname,
		    spec);
		return CLI_USAGE;
	}
	sts_netstring_decoder_init(&dec, STS_SOCKMAP_MAX_REPLY);
	for (int i = optind; i < argc; i++) {
		if (ask(fd, &dec, map, argv[i], reply, sizeof(reply)) != 0) {
			fprintf(stderr, "%s: %s: no valid reply from %s\n",
			    cli_progname, argv[i], spec);
			status = CLI_USAGE;
			break;
		}
		if (argc - optind > 1)
			printf("%s\t%s\n", argv[i], reply);
		else
			printf("%s\n", reply);
		if (strncmp(reply, "OK ", 3) != 0 && status == CLI_OK)
			status = CLI_INVALID;
	}
	sts_netstring_decoder_done(&dec);
	close(fd);
	return status;
usage:
	fprintf(stderr,
	    "usage: %s query [--socket inet:HOST:PORT|unix:PATH] "
	    "[--map NAME] DOMAIN...\n",
	    cli_progname);
	return CLI_USAGE;
}
