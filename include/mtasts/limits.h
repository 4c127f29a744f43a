/*
 * limits.h - every bound libmtasts enforces, named once.
 *
 * Code never uses a bare number for one of these.  Where the value comes
 * from an RFC, the section is cited.
 */
#ifndef MTASTS_LIMITS_H
#define MTASTS_LIMITS_H

/* RFC 1035 §2.3.4: 63 octets a label, 255 on the wire = 253 in text. */
#define STS_LABEL_MAX  63
#define STS_DOMAIN_MAX 253

/* RFC 8461 §3.1: id = 1*32(ALPHA / DIGIT). */
#define STS_ID_MAX 32

/* RFC 8461 §3.1, §3.2; RFC 8460 §3: extension names are 1 + 31 chars. */
#define STS_EXT_NAME_MAX 32

/* RFC 8461 §3.3 suggests 64 KiB as the policy body limit. */
#define STS_POLICY_MAX_BYTES 65536

/* A policy body within this many bytes of the cap earns a lint warning. */
#define STS_POLICY_NEAR_CAP_BYTES (STS_POLICY_MAX_BYTES * 9 / 10)

/* RFC 8461 §3.2: max_age = 1*10DIGIT, at most 31557600 (about a year). */
#define STS_MAX_AGE_DIGITS 10
#define STS_MAX_AGE_MAX    31557600u

/* RFC 8461 §3.3: a failed fetch is retried at most every 5 minutes. */
#define STS_REFETCH_MIN_S 300

/* RFC 8461 §3.3 suggests one minute as the fetch timeout. */
#define STS_FETCH_TIMEOUT_S 60

/* A TXT record is at most 64 KiB on the wire; we accept no more. */
#define STS_TXT_MAX_BYTES 65535

/* Records in one TXT RRset that the discovery step will look at. */
#define STS_TXT_MAX_RECORDS 64

/* RFC 8460 §3: report URIs kept from one rua field. */
#define STS_TLSRPT_MAX_RUA 16

/* Postfix dict_sockmap limits (src/util/dict_sockmap.c). */
#define STS_SOCKMAP_MAX_QUERY 10000
#define STS_SOCKMAP_MAX_REPLY 100000

/* Lint advice (RFC 8461 §3.2, §10.2): */
#define STS_LINT_ENFORCE_MIN_AGE  86400u   /* enforce below a day is fragile */
#define STS_LINT_TESTING_MIN_AGE  604800u  /* testing: one week ... */
#define STS_LINT_TESTING_MAX_AGE  1209600u /* ... to two weeks */

/* ---- common/ (config, netstring, log); owned by the common/ helper ---- */

/* A config file larger than this is refused (real ones are a few KiB). */
#define STS_CONFIG_MAX_BYTES (1024 * 1024)

/* Entries under zones: in one config file. */
#define STS_CONFIG_MAX_ZONES 1024

/* Items in one list option (resolver, connect_to, sentinels). */
#define STS_CONFIG_MAX_LIST 64

/* Bytes in one string option (a path, URL, DSN, password). */
#define STS_CONFIG_MAX_STRING 4096

/* Bytes in a zone name (the socketmap name Postfix sends). */
#define STS_CONFIG_ZONE_NAME_MAX 255

/* Bytes in one log line, prefix included; longer lines end in "...". */
#define STS_LOG_LINE_MAX 2048

/* Bytes of the program name kept by the logger. */
#define STS_LOG_IDENT_MAX 64

/* Suggested buffer for sts_log_escape() of one untrusted field. */
#define STS_LOG_ESCAPE_MAX 256

/* "<20 digits>:" plus NUL: the longest netstring header of a size_t. */
#define STS_NETSTRING_HEADER_MAX 22

/* ---- end of common/ block ---- */

/* ---- I/O adapters (L3: dns.c, fetch.c) ---------------------------- */

/* Human reason texts carried by DNS answers and fetch results. */
#define STS_DNS_REASON_MAX   256
#define STS_FETCH_REASON_MAX 256

/* An IPv4 or IPv6 address in text, with NUL (INET6_ADDRSTRLEN). */
#define STS_ADDR_STR_MAX 46

/* Default per-query DNS timeout; libunbound has none of its own. */
#define STS_DNS_TIMEOUT_MS 5000

/* UDP ports libunbound may hold open at once (its library default is
 * 16, which queues queries during a burst of lookups). */
#define STS_DNS_OUTGOING_RANGE 256

/* Fixed-size facts copied out of an HTTP response. */
#define STS_FETCH_CONTENT_TYPE_MAX 128
#define STS_FETCH_TLS_VERSION_MAX  16

/* Certificate DNS names quoted in a name-mismatch reason. */
#define STS_FETCH_SAN_SHOWN 3

/* ---- end of I/O adapters block ------------------------------------ */

/* ---- domain checker (smtp_probe.c, check.c) ------------------------ */

/* Default deadline of one SMTP/TLS probe, connect to handshake. */
#define STS_PROBE_TIMEOUT_MS 30000

/* Bytes of one SMTP reply (all its lines) a probe reads at most. */
#define STS_PROBE_REPLY_MAX 4096

/* Human reason of a probe, and the banner text it keeps. */
#define STS_PROBE_REASON_MAX 256
#define STS_PROBE_LINE_MAX   128

/* DNS names kept from a certificate, certificates of a chain digested. */
#define STS_PROBE_NAMES_MAX 8
#define STS_PROBE_CHAIN_MAX 4

/* Negotiated cipher suite name, X.509 subject/issuer text kept. */
#define STS_PROBE_CIPHER_MAX 64
#define STS_PROBE_DN_MAX     128

/* A certificate expiring within this many days earns a warning. */
#define STS_CHECK_EXPIRY_WARN_DAYS 14

/* MX hosts checked per domain (more are reported, not probed). */
#define STS_CHECK_MAX_MX 16

/* Texts of one check item. */
#define STS_CHECK_MESSAGE_MAX 512
#define STS_CHECK_FIX_MAX     256
#define STS_CHECK_SUBJECT_MAX (STS_DOMAIN_MAX + STS_ADDR_STR_MAX + 4)

/* ---- end of domain checker block ------------------------------------ */

#endif
