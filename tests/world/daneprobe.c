/* daneprobe: what a validating libunbound client of the test world sees.
 *
 *   daneprobe FORWARDER TA-FILE NAME TYPE
 *
 * FORWARDER is WORLD_DNS (addr@port), TA-FILE is WORLD_TA (or "-" for no
 * trust anchor), TYPE a number or one of A AAAA MX TXT TLSA DS DNSKEY NS SOA.
 * Prints one line:
 *
 *   secure|insecure|bogus|error rcode=NAME data=N [why=why_bogus]
 *
 * from libunbound's ub_result: "secure" (secure=1), "bogus" (bogus=1; the
 * data is still filled in), "error" (neither flag, rcode neither NOERROR nor
 * NXDOMAIN: a lookup failure such as SERVFAIL), else "insecure".  Exits 0 (2 on a usage or libunbound error).  Built by selftest.sh:
 *   cc -o daneprobe daneprobe.c -lunbound
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unbound.h>

static int type_of(const char *s)
{
    static const struct { const char *name; int type; } t[] = {
        { "A", 1 }, { "NS", 2 }, { "SOA", 6 }, { "MX", 15 }, { "TXT", 16 },
        { "AAAA", 28 }, { "DS", 43 }, { "DNSKEY", 48 }, { "TLSA", 52 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcasecmp(s, t[i].name) == 0)
            return t[i].type;
    return atoi(s);
}

static const char *rcode_name(int r)
{
    static const char *n[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                               "NOTIMP", "REFUSED" };
    return r >= 0 && r < 6 ? n[r] : "OTHER";
}

int main(int argc, char **argv)
{
    struct ub_ctx *ctx;
    struct ub_result *res;
    int err, type, n = 0;

    if (argc != 5 || (type = type_of(argv[4])) <= 0) {
        fprintf(stderr, "usage: daneprobe FORWARDER TA-FILE|- NAME TYPE\n");
        return 2;
    }
    ctx = ub_ctx_create();
    if (!ctx)
        return 2;
    if ((err = ub_ctx_set_fwd(ctx, argv[1])) != 0 ||
        (strcmp(argv[2], "-") != 0 &&
         (err = ub_ctx_add_ta_file(ctx, argv[2])) != 0) ||
        (err = ub_resolve(ctx, argv[3], type, 1, &res)) != 0) {
        fprintf(stderr, "daneprobe: %s\n", ub_strerror(err));
        ub_ctx_delete(ctx);
        return 2;
    }
    if (res->havedata)
        while (res->data[n])
            n++;
    printf("%s rcode=%s data=%d",
           res->secure ? "secure"
           : res->bogus ? "bogus"
           : res->rcode != 0 && res->rcode != 3 ? "error" : "insecure",
           rcode_name(res->rcode), n);
    if (res->why_bogus)
        printf(" why=%s", res->why_bogus);
    putchar('\n');
    ub_resolve_free(res);
    ub_ctx_delete(ctx);
    return 0;
}
