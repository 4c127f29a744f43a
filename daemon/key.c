/*
 * key.c - Postfix lookup key to Policy Domain (see key.h).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "key.h"

static bool
all_digits(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* An address in any form Postfix may pass: 192.0.2.1, ipv6:..., ::1. */
static bool
is_address(const char *s, size_t len)
{
	char buf[64];
	unsigned char addr[16];

	if (len >= 5 && strncasecmp(s, "ipv6:", 5) == 0)
		return true;
	if (len >= sizeof(buf))
		return false;
	/* Without a ':' only digits and dots can be an address (IPv4):
	 * ordinary names are told apart without inet_pton. */
	if (memchr(s, ':', len) == NULL) {
		for (size_t i = 0; i < len; i++)
			if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
				return false;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1 ||
	       inet_pton(AF_INET6, buf, addr) == 1;
}

int
key_to_domain(const char *key, size_t len,
    char ret_domain[STS_DOMAIN_MAX + 1], const char **ret_why)
{
	const char *host = key;
	size_t host_len = len;

	/* pmsr trims surrounding whitespace; so do we. */
	while (host_len > 0 && (host[0] == ' ' || host[0] == '\t')) {
		host++;
		host_len--;
	}
	while (host_len > 0 &&
	       (host[host_len - 1] == ' ' || host[host_len - 1] == '\t'))
		host_len--;
	if (host_len == 0) {
		*ret_why = "empty key";
		return STS_ENOTFOUND;
	}
	if (host[0] == '[') {
		const char *close = memchr(host, ']', host_len);
		size_t rest;

		if (close == NULL) {
			*ret_why = "unbalanced '['";
			return STS_ENOTFOUND;
		}
		rest = host_len - (size_t)(close + 1 - host);
		/* "[host]" or "[host]:port" */
		if (rest > 0 && (close[1] != ':' || rest < 2)) {
			*ret_why = "junk after ']'";
			return STS_ENOTFOUND;
		}
		host_len = (size_t)(close - host) - 1;
		host++;
	} else {
		const char *colon = memchr(host, ':', host_len);

		if (colon != NULL) {
			if (memchr(colon + 1, ':',
				host_len - (size_t)(colon + 1 - host)) != NULL) {
				*ret_why = "IPv6 address literal";
				return STS_ENOTFOUND;
			}
			host_len = (size_t)(colon - host); /* host:port */
		}
	}
	if (host_len > 0 && host[0] == '.') {
		*ret_why = "parent-domain probe (RFC 8461 §3.4)";
		return STS_ENOTFOUND;
	}
	if (is_address(host, host_len)) {
		*ret_why = "address literal (RFC 8461 §3.4)";
		return STS_ENOTFOUND;
	}
	/* A bare number cannot be a host name Postfix would route to. */
	if (all_digits(host, host_len)) {
		*ret_why = "numeric key";
		return STS_ENOTFOUND;
	}
	if (sts_domain_to_alabel(host, host_len, ret_domain, NULL) != STS_OK) {
		*ret_why = "not a valid domain name";
		return STS_ENOTFOUND;
	}
	return STS_OK;
}
