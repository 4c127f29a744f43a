/*
 * system.c - systemd notification, privileges, Postfix version.
 */
#include <grp.h>
#include <stddef.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"
#include "system.h"

void
system_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, path, len);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract socket */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

int
system_lookup_ids(const char *user, const char *group, long *ret_uid,
    long *ret_gid, struct sts_diag *reterr_diag)
{
	long uid = -1, gid = -1;

	if (user != NULL) {
		struct passwd *pw = getpwnam(user);

		if (pw == NULL) {
			sts_diag_set(reterr_diag, 0, "no such user '%s'", user);
			return STS_EINVAL;
		}
		uid = (long)pw->pw_uid;
		gid = (long)pw->pw_gid;
	}
	if (group != NULL) {
		struct group *gr = getgrnam(group);

		if (gr == NULL) {
			sts_diag_set(reterr_diag, 0, "no such group '%s'",
			    group);
			return STS_EINVAL;
		}
		gid = (long)gr->gr_gid;
	}
	*ret_uid = uid;
	*ret_gid = gid;
	return STS_OK;
}

int
system_drop_privileges(long uid, long gid, struct sts_diag *reterr_diag)
{
	if (gid >= 0) {
		gid_t g = (gid_t)gid;

		if (setgroups(1, &g) != 0 || setresgid(g, g, g) != 0) {
			sts_diag_set(reterr_diag, 0, "cannot switch to gid %ld",
			    gid);
			return STS_EIO;
		}
	}
	if (uid >= 0) {
		uid_t u = (uid_t)uid;

		if (setresuid(u, u, u) != 0) {
			sts_diag_set(reterr_diag, 0, "cannot switch to uid %ld",
			    uid);
			return STS_EIO;
		}
		if (u != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
			sts_diag_set(reterr_diag, 0,
			    "privileges could be regained after the drop");
			return STS_EINTERNAL;
		}
	}
	return STS_OK;
}

unsigned
system_postfix_version(void)
{
	/*
	 * -d: mail_version is compiled in and read-only, and without -d
	 * postconf insists on reading main.cf, which a Postfix installed
	 * but not yet configured (Debian's "No configuration") lacks.
	 */
	FILE *p = popen("postconf -dh mail_version 2>/dev/null", "r");
	unsigned major = 0, minor = 0, patch = 0;
	char line[64];

	if (p == NULL)
		return 0;
	if (fgets(line, sizeof(line), p) == NULL ||
	    sscanf(line, "%u.%u.%u", &major, &minor, &patch) < 2)
		major = 0;
	pclose(p);
	return major ? STS_CONFIG_POSTFIX_VERSION(major, minor, patch) : 0;
}
