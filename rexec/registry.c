/* rexec process registry: pid + start time files under /var/run/rexec/procs. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"
#include "util.h"

int rexec_proc_start_time(pid_t pid, uint64_t *out)
{
	char path[64], *buf = NULL, *p;
	size_t len;
	int ret, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ret = read_file(path, 4096, &buf, &len);
	if (ret)
		return ret;
	/* comm (field 2) may hold spaces and parentheses: fields resume after the last ')'. */
	p = strrchr(buf, ')');
	if (!p) {
		ret = -EINVAL;
		goto out;
	}
	p++;
	/* p is now before field 3; field 22 is 19 fields further. */
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p + 1, ' ');
	}
	if (!p) {
		ret = -EINVAL;
		goto out;
	}
	{
		char num[32];
		size_t n = strcspn(p + 1, " ");

		if (n == 0 || n >= sizeof(num)) {
			ret = -EINVAL;
			goto out;
		}
		memcpy(num, p + 1, n);
		num[n] = '\0';
		ret = parse_u64(num, 10, out) ? -EINVAL : 0;
	}
out:
	free(buf);
	return ret;
}

static int write_atomic(const char *dir, const char *name, const char *text)
{
	char tmp[PATH_MAX], final[PATH_MAX];
	int fd, ret;

	if (snprintf(final, sizeof(final), "%s/%s", dir, name) >= (int)sizeof(final) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dir, name, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	ret = mkdir_p(dir, 0700);
	if (ret)
		return ret;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	ret = write_full(fd, text, strlen(text));
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, final) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

static int read_small(const char *dir, const char *name, char **out)
{
	char path[PATH_MAX];
	size_t len;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return read_file(path, 256, out, &len);
}

int rexec_reg_add(const char *dir, const struct rexec_reg_entry *ent)
{
	char name[32], text[96];

	snprintf(name, sizeof(name), "%d", (int)ent->pid);
	snprintf(text, sizeof(text), "%d %" PRIu64 " %d\n", (int)ent->pid, ent->start_time,
		 ent->detached ? 1 : 0);
	return write_atomic(dir, name, text);
}

/* Splits text into exactly n space-separated decimal fields (a trailing newline allowed). */
static int fields(const char *text, uint64_t *v, int n)
{
	char buf[128], *rest = buf, *tok;
	size_t len = strlen(text);
	int i = 0;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, len + 1);
	if (buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	/* Exactly one space between fields: anything else is not a file we wrote. */
	while ((tok = strsep(&rest, " "))) {
		if (i >= n || parse_u64(tok, 10, &v[i]))
			return -EINVAL;
		i++;
	}
	return i == n ? 0 : -EINVAL;
}

int rexec_reg_parse_entry(const char *text, struct rexec_reg_entry *out)
{
	uint64_t v[3];

	if (fields(text, v, 3) || v[0] == 0 || v[0] > INT32_MAX || v[2] > 1)
		return -EINVAL;
	out->pid = (pid_t)v[0];
	out->start_time = v[1];
	out->detached = v[2] == 1;
	return 0;
}

int rexec_reg_parse_exit(const char *text, uint64_t *start, struct rexec_exit *x)
{
	uint64_t v[4];

	if (fields(text, v, 4) || v[1] > 1 || v[3] > 1)
		return -EINVAL;
	if (v[1] == REXEC_EXITED ? v[2] > 255 : (v[2] < 1 || v[2] > 64))
		return -EINVAL;
	*start = v[0];
	x->how = (uint8_t)v[1];
	x->value = (uint32_t)v[2];
	x->core = v[3] == 1;
	return 0;
}

int rexec_reg_get(const char *dir, pid_t pid, struct rexec_reg_entry *out)
{
	char name[32], *text = NULL;
	int ret;

	snprintf(name, sizeof(name), "%d", (int)pid);
	ret = read_small(dir, name, &text);
	if (ret)
		return ret;
	ret = rexec_reg_parse_entry(text, out);
	free(text);
	if (!ret && out->pid != pid)
		ret = -EINVAL;
	return ret;
}

int rexec_reg_set_exit(const char *dir, const struct rexec_reg_entry *ent,
		       const struct rexec_exit *x)
{
	char name[40], text[96];

	snprintf(name, sizeof(name), "%d.exit", (int)ent->pid);
	snprintf(text, sizeof(text), "%" PRIu64 " %u %u %d\n", ent->start_time, x->how, x->value,
		 x->core ? 1 : 0);
	return write_atomic(dir, name, text);
}

int rexec_reg_get_exit(const char *dir, const struct rexec_reg_entry *ent, struct rexec_exit *x)
{
	char name[40], *text = NULL;
	uint64_t start;
	int ret;

	snprintf(name, sizeof(name), "%d.exit", (int)ent->pid);
	ret = read_small(dir, name, &text);
	if (ret)
		return ret;
	ret = rexec_reg_parse_exit(text, &start, x);
	free(text);
	if (!ret && start != ent->start_time)
		ret = -ENOENT;
	return ret;
}

void rexec_reg_remove(const char *dir, pid_t pid)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%d", dir, (int)pid);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%d.exit", dir, (int)pid);
	unlink(path);
}

bool rexec_reg_alive(const struct rexec_reg_entry *ent)
{
	uint64_t st;

	return rexec_proc_start_time(ent->pid, &st) == 0 && st == ent->start_time;
}

int rexec_reg_prune(const char *dir, unsigned keep_s, unsigned keep_detached_s)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);
	int removed = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct rexec_reg_entry ent;
		struct rexec_exit x;
		char path[PATH_MAX];
		struct stat st;
		uint64_t pid;
		unsigned keep;

		if (parse_u64(de->d_name, 10, &pid) || pid == 0 || pid > INT32_MAX)
			continue;
		if (rexec_reg_get(dir, (pid_t)pid, &ent) || rexec_reg_alive(&ent))
			continue;
		keep = ent.detached ? keep_detached_s : keep_s;
		snprintf(path, sizeof(path), "%s/%s.exit", dir, de->d_name);
		if (rexec_reg_get_exit(dir, &ent, &x) == 0 && stat(path, &st) == 0 &&
		    now - st.st_mtime < (time_t)keep)
			continue;
		/* Dead without a record: its parent died too; nothing will ever write one
		 * (but give a parent that is reaping right now a moment). */
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && now - st.st_mtime < 5)
			continue;
		rexec_reg_remove(dir, (pid_t)pid);
		removed++;
	}
	closedir(d);
	return removed;
}
