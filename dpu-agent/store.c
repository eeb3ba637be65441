/* store: domain definitions and state files, written atomically (temp, fsync, rename, fsync dir). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

#define STORE_FILE_MAX DOM_XML_MAX

static const struct {
	enum dom_state st;
	const char *name;
} state_names[] = {
	{DOM_ST_NOSTATE, "no state"},	  {DOM_ST_RUNNING, "running"},	{DOM_ST_PAUSED, "paused"},
	{DOM_ST_SHUTDOWN, "in shutdown"}, {DOM_ST_SHUTOFF, "shut off"}, {DOM_ST_CRASHED, "crashed"},
};

const char *dom_state_name(enum dom_state s)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_names); i++)
		if (state_names[i].st == s)
			return state_names[i].name;
	return "no state";
}

int dom_state_parse(const char *s, enum dom_state *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_names); i++) {
		if (strcmp(state_names[i].name, s) == 0) {
			*out = state_names[i].st;
			return 0;
		}
	}
	return -EINVAL;
}

int store_open(struct store *s, const char *dir, struct errmsg *e)
{
	int ret;

	s->dirfd = -1;
	ret = str_copy(s->dir, sizeof(s->dir), dir);
	if (ret) {
		errmsg_set(e, "%s: path too long", dir);
		return ret;
	}
	ret = mkdir_p(dir, 0700);
	if (ret) {
		errmsg_set(e, "%s: cannot create: %s", dir, strerror(-ret));
		return ret;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		ret = -errno;
		errmsg_set(e, "%s: %s", dir, strerror(errno));
		return ret;
	}
	return 0;
}

void store_close(struct store *s)
{
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->dirfd = -1;
}

int store_write_file(struct store *s, const char *file, const void *data, size_t len)
{
	char tmp[128];
	int fd, ret;
	unsigned tries;

	if (strlen(file) + 16 >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* O_EXCL with a unique name; a leftover from a crash is removed by store_list. */
	for (tries = 0;; tries++) {
		snprintf(tmp, sizeof(tmp), ".%s.tmp%u.%u", file, (unsigned)getpid(), tries);
		fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || tries > 100)
			return -errno;
	}
	ret = write_full(fd, data, len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && renameat(s->dirfd, tmp, s->dirfd, file) < 0)
		ret = -errno;
	if (ret) {
		unlinkat(s->dirfd, tmp, 0);
		return ret;
	}
	/* The rename itself is durable only once the directory is synced. */
	if (fsync(s->dirfd) < 0)
		return -errno;
	return 0;
}

static int file_name(char *buf, size_t len, const char *name, const char *ext)
{
	int n = snprintf(buf, len, "%s%s", name, ext);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int store_save_def(struct store *s, const struct domain_def *d, struct errmsg *e)
{
	char file[96];
	char *xml;
	int ret;

	ret = file_name(file, sizeof(file), d->name, ".xml");
	if (ret)
		return ret;
	xml = domain_format(d);
	if (!xml) {
		errmsg_set(e, "%s: cannot format the definition", d->name);
		return -ENOMEM;
	}
	ret = store_write_file(s, file, xml, strlen(xml));
	free(xml);
	if (ret)
		errmsg_set(e, "%s/%s: %s", s->dir, file, strerror(-ret));
	return ret;
}

static int read_at(struct store *s, const char *file, char **out, size_t *len)
{
	char path[512];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", s->dir, file);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return read_file(path, STORE_FILE_MAX, out, len);
}

int store_load_def(struct store *s, const char *name, struct domain_def **out, struct errmsg *e)
{
	char file[96];
	char *buf = NULL;
	size_t len;
	int ret;

	ret = file_name(file, sizeof(file), name, ".xml");
	if (ret)
		return ret;
	ret = read_at(s, file, &buf, &len);
	if (ret) {
		errmsg_set(e, "%s/%s: %s", s->dir, file, strerror(-ret));
		return ret;
	}
	ret = domain_parse(buf, len, out, NULL, e);
	free(buf);
	if (ret) {
		errmsg_prefix(e, "%s/%s", s->dir, file);
		return ret;
	}
	if (strcmp((*out)->name, name) != 0) {
		errmsg_set(e, "%s/%s: holds domain '%s'", s->dir, file, (*out)->name);
		domain_free(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

static int unlink_if(struct store *s, const char *file)
{
	if (unlinkat(s->dirfd, file, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int store_remove(struct store *s, const char *name)
{
	static const char *const exts[] = {".state", ".autostart", ".xml"};
	char file[96];
	int ret = 0, r;

	/* The definition goes last: a crash in between leaves a defined domain. */
	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		r = file_name(file, sizeof(file), name, exts[i]);
		if (!r)
			r = unlink_if(s, file);
		if (r && !ret)
			ret = r;
	}
	if (!ret && fsync(s->dirfd) < 0)
		ret = -errno;
	return ret;
}

int store_save_state(struct store *s, const char *name, const struct store_state *st)
{
	char file[96], buf[256];
	int n, ret;

	ret = file_name(file, sizeof(file), name, ".state");
	if (ret)
		return ret;
	n = snprintf(buf, sizeof(buf),
		     "state=%d\nreason=%s\nid=%d\npid=%d\nstarted_ms=%" PRIu64 "\n", (int)st->state,
		     st->reason, (int)st->id, (int)st->pid, st->started_ms);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EOVERFLOW;
	return store_write_file(s, file, buf, (size_t)n);
}

void store_load_state(struct store *s, const char *name, struct store_state *st)
{
	char file[96];
	char *buf = NULL, *line, *save = NULL;
	size_t len;
	int64_t v;
	uint64_t u;

	memset(st, 0, sizeof(*st));
	st->state = DOM_ST_SHUTOFF;
	st->id = -1;
	if (file_name(file, sizeof(file), name, ".state") || read_at(s, file, &buf, &len))
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq++ = '\0';
		if (strcmp(line, "state") == 0 && !parse_i64(eq, 10, &v) &&
		    strcmp(dom_state_name((enum dom_state)v), "no state") != 0)
			st->state = (enum dom_state)v;
		else if (strcmp(line, "reason") == 0)
			str_copy(st->reason, sizeof(st->reason), eq);
		else if (strcmp(line, "id") == 0 && !parse_i64(eq, 10, &v) && v >= -1 &&
			 v <= INT32_MAX)
			st->id = (int32_t)v;
		else if (strcmp(line, "pid") == 0 && !parse_i64(eq, 10, &v) && v >= 0 &&
			 v <= INT32_MAX)
			st->pid = (pid_t)v;
		else if (strcmp(line, "started_ms") == 0 && !parse_u64(eq, 10, &u))
			st->started_ms = u;
	}
	free(buf);
}

int store_set_autostart(struct store *s, const char *name, bool on)
{
	char file[96];
	int ret;

	ret = file_name(file, sizeof(file), name, ".autostart");
	if (ret)
		return ret;
	if (on)
		return store_write_file(s, file, "1\n", 2);
	ret = unlink_if(s, file);
	if (!ret && fsync(s->dirfd) < 0)
		ret = -errno;
	return ret;
}

bool store_get_autostart(struct store *s, const char *name)
{
	char file[96];

	if (file_name(file, sizeof(file), name, ".autostart"))
		return false;
	return faccessat(s->dirfd, file, F_OK, 0) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_list(struct store *s, store_each_cb cb, store_bad_cb bad, void *arg)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	DIR *dir;
	int fd, ret = 0;

	fd = dup(s->dirfd);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		ret = -errno;
		close(fd);
		return ret;
	}
	rewinddir(dir);
	while ((errno = 0, de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		struct errmsg e;
		char *name;

		if (de->d_name[0] == '.') {
			if (strstr(de->d_name, ".tmp"))
				unlinkat(s->dirfd, de->d_name, 0);
			continue;
		}
		if (len <= 4 || strcmp(de->d_name + len - 4, ".xml") != 0)
			continue;
		name = strndup(de->d_name, len - 4);
		if (!name) {
			ret = -ENOMEM;
			break;
		}
		if (domain_name_check(name, &e)) {
			if (bad)
				bad(de->d_name, errmsg_str(&e), arg);
			free(name);
			continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			char **nn = realloc(names, nc * sizeof(*nn));

			if (!nn) {
				free(name);
				ret = -ENOMEM;
				break;
			}
			names = nn;
			cap = nc;
		}
		names[n++] = name;
	}
	if (!ret && errno)
		ret = -errno;
	closedir(dir);
	if (!ret) {
		if (n)
			qsort(names, n, sizeof(*names), cmp_str);
		for (i = 0; i < n; i++)
			cb(names[i], arg);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}
