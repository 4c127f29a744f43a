/*
 * system.h - what the daemon asks of the operating system: systemd
 * notification, privilege drop, the local Postfix version.
 */
#ifndef STS_DAEMON_SYSTEM_H
#define STS_DAEMON_SYSTEM_H

#include <stdbool.h>

#include "mtasts/err.h"

/* sd_notify(3) without libsystemd: a datagram to $NOTIFY_SOCKET. */
void system_notify(const char *state);

/* Look up user and group names (NULL: leave alone); -1 when unset. */
int system_lookup_ids(const char *user, const char *group, long *ret_uid,
    long *ret_gid, struct sts_diag *reterr_diag);

/*
 * Drop to uid/gid for good (setgroups, setresgid, setresuid), unlike the
 * peer's seteuid; -1 leaves that id.  Refuses to go on if root remains.
 */
int system_drop_privileges(long uid, long gid, struct sts_diag *reterr_diag);

/* `postconf -h mail_version` as 3.10.2 -> 31002; 0 when unknown. */
unsigned system_postfix_version(void);

#endif
