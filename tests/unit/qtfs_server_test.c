/* Unit tests for qtfsd's operations, driven directly with hostile requests: forged and
 * foreign nodes, names that are not one component, escapes through symlinks and links,
 * read-only exports, whitelist denials and attach paths leaving the export. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "qtfs-user/server.h"

static char base[64], exp_dir[128], ro_dir[128];
static struct qtfsd_conf conf;
static struct qtfsd srv;

static void path(char *buf, size_t n, const char *rel)
{
	snprintf(buf, n, "%s/%s", base, rel);
}

static int setup(void **state)
{
	struct errmsg e = {{0}};
	char p[256], spec[300];
	int fd;

	strcpy(base, "/tmp/qtfs_server_XXXXXX");
	if (!mkdtemp(base))
		return -1;
	snprintf(exp_dir, sizeof(exp_dir), "%s/export", base);
	snprintf(ro_dir, sizeof(ro_dir), "%s/ro", base);
	mkdir(exp_dir, 0755);
	mkdir(ro_dir, 0755);
	path(p, sizeof(p), "secret");
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || write(fd, "TOPSECRET", 9) != 9)
		return -1;
	close(fd);
	path(p, sizeof(p), "export/file");
	close(open(p, O_CREAT | O_WRONLY, 0644));
	path(p, sizeof(p), "export/denied");
	mkdir(p, 0755);
	path(p, sizeof(p), "export/abs");
	if (symlink("/etc", p))
		return -1;
	path(p, sizeof(p), "ro/file");
	close(open(p, O_CREAT | O_WRONLY, 0644));
	path(p, sizeof(p), "whitelist");
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	snprintf(spec, sizeof(spec), "[Mkdir]\nPath=%s/file\n[Unlink]\n", exp_dir);
	if (fd < 0 || write(fd, spec, strlen(spec)) != (ssize_t)strlen(spec))
		return -1;
	close(fd);

	memset(&conf, 0, sizeof(conf));
	if (qtfsd_conf_add_export(&conf, exp_dir, &e))
		return -1;
	snprintf(spec, sizeof(spec), "%s:ro", ro_dir);
	if (qtfsd_conf_add_export(&conf, spec, &e))
		return -1;
	conf.listen[conf.nlisten++] = strdup("unix:/nonexistent");
	conf.whitelist = strdup(p);
	path(p, sizeof(p), "handle.key");
	conf.handle_key = strdup(p);
	if (qtfsd_start(&srv, &conf, &e)) {
		fprintf(stderr, "%s\n", errmsg_str(&e));
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	qtfs_wl_free(srv.wl);
	qtfsd_conf_free(&conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	return system(cmd) == 0 ? 0 : -1;
}

static struct qtfsd_conn *conn_new(void)
{
	struct qtfsd_conn *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->srv = &srv;
	pthread_mutex_init(&c->lock, NULL);
	strcpy(c->peer, "test");
	return c;
}

static void conn_free(struct qtfsd_conn *c)
{
	qtfsd_conn_close_files(c);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int run(struct qtfsd_conn *c, struct qtfs_req *rq, struct qtfs_rep *rp)
{
	void *to_free = NULL;

	memset(rp, 0, sizeof(*rp));
	qtfsd_execute(c, NULL, rq, rp, &to_free);
	free(to_free);
	return rp->status;
}

static struct qtfs_req *req(uint16_t op)
{
	struct qtfs_req *rq = calloc(1, sizeof(*rq));

	assert_non_null(rq);
	rq->op = op;
	return rq;
}

/* Attaches c to path; returns the root blob. */
static struct qtfs_blob attach(struct qtfsd_conn *c, const char *p)
{
	struct qtfs_req *rq = req(QTFS_OP_ATTACH);
	struct qtfs_rep rp;

	strcpy(rq->path, p);
	assert_int_equal(run(c, rq, &rp), 0);
	free(rq);
	return rp.node;
}

static int lookup(struct qtfsd_conn *c, const struct qtfs_blob *dir, const char *name,
		  struct qtfs_blob *out)
{
	struct qtfs_req *rq = req(QTFS_OP_LOOKUP);
	struct qtfs_rep rp;
	int ret;

	rq->node = *dir;
	strcpy(rq->name, name);
	ret = run(c, rq, &rp);
	if (out)
		*out = rp.node;
	free(rq);
	return ret;
}

static void test_qtfsd_attach_refuses_paths_leaving_the_export(void **state)
{
	struct qtfsd_conn *c = conn_new();
	struct qtfs_req *rq = req(QTFS_OP_ATTACH);
	struct qtfs_rep rp;
	char p[300];

	snprintf(p, sizeof(p), "%s/../secret", exp_dir);
	strcpy(rq->path, p);
	assert_int_equal(run(c, rq, &rp), -EXDEV);
	snprintf(p, sizeof(p), "%s/abs", exp_dir);
	strcpy(rq->path, p);
	assert_int_equal(run(c, rq, &rp), -EXDEV);
	strcpy(rq->path, base);
	assert_int_equal(run(c, rq, &rp), -ENOENT);
	free(rq);
	conn_free(c);
}

static void test_qtfsd_requests_before_attach_are_refused(void **state)
{
	struct qtfsd_conn *c = conn_new();
	struct qtfs_req *rq = req(QTFS_OP_GETATTR);
	struct qtfs_rep rp;

	assert_int_equal(run(c, rq, &rp), -ENOTCONN);
	free(rq);
	conn_free(c);
}

static void test_qtfsd_lookup_returns_symlinks_unfollowed(void **state)
{
	struct qtfsd_conn *c = conn_new();
	struct qtfs_blob root = attach(c, exp_dir), link;
	struct qtfs_req *rq = req(QTFS_OP_GETATTR);
	struct qtfs_rep rp;

	assert_int_equal(lookup(c, &root, "abs", &link), 0);
	rq->node = link;
	assert_int_equal(run(c, rq, &rp), 0);
	assert_true(S_ISLNK(rp.attr.mode));
	/* opening the link node never opens what it points to */
	rq->op = QTFS_OP_OPEN;
	rq->fh.id = 1;
	rq->fh.flags = O_RDONLY | O_DIRECTORY;
	rq->fh.node = link;
	assert_int_not_equal(run(c, rq, &rp), 0);
	free(rq);
	conn_free(c);
}

static void test_qtfsd_forged_and_foreign_nodes_are_stale(void **state)
{
	struct qtfsd_conn *c = conn_new(), *c2 = conn_new();
	struct qtfs_blob root = attach(c, exp_dir), file, other_root;
	struct qtfs_req *rq = req(QTFS_OP_GETATTR);
	struct qtfs_rep rp;

	assert_int_equal(lookup(c, &root, "file", &file), 0);
	file.data[file.len / 2] ^= 1;
	rq->node = file;
	assert_int_equal(run(c, rq, &rp), -ESTALE);
	/* a node of the read-only export on a connection attached to the other one */
	other_root = attach(c2, ro_dir);
	rq->node = other_root;
	assert_int_equal(run(c, rq, &rp), -ESTALE);
	free(rq);
	conn_free(c);
	conn_free(c2);
}

static void test_qtfsd_rename_and_link_stay_in_the_export(void **state)
{
	struct qtfsd_conn *c = conn_new(), *c2 = conn_new();
	struct qtfs_blob root = attach(c, exp_dir), file, ro_root = attach(c2, ro_dir);
	struct qtfs_req *rq = req(QTFS_OP_RENAME);
	struct qtfs_rep rp;

	assert_int_equal(lookup(c, &root, "file", &file), 0);
	/* the target directory is another export's node: refused */
	rq->node = root;
	strcpy(rq->name, "file");
	rq->node2 = ro_root;
	strcpy(rq->name2, "moved");
	assert_int_equal(run(c, rq, &rp), -ESTALE);
	rq->op = QTFS_OP_LINK;
	rq->node = file;
	assert_int_equal(run(c, rq, &rp), -ESTALE);
	/* unknown rename flags are refused */
	rq->op = QTFS_OP_RENAME;
	rq->node = root;
	rq->node2 = root;
	rq->flags = 1u << 5;
	assert_int_equal(run(c, rq, &rp), -EINVAL);
	free(rq);
	conn_free(c);
	conn_free(c2);
}

static void test_qtfsd_read_only_export_refuses_changes(void **state)
{
	struct qtfsd_conn *c = conn_new();
	struct qtfs_blob root = attach(c, ro_dir), file;
	struct qtfs_req *rq = req(QTFS_OP_MKDIR);
	struct qtfs_rep rp;

	rq->node = root;
	strcpy(rq->name, "d");
	rq->mode = 0755;
	assert_int_equal(run(c, rq, &rp), -EROFS);
	assert_int_equal(lookup(c, &root, "file", &file), 0);
	rq->op = QTFS_OP_OPEN;
	rq->fh.id = 7;
	rq->fh.flags = O_WRONLY;
	rq->fh.node = file;
	assert_int_equal(run(c, rq, &rp), -EROFS);
	rq->fh.flags = O_RDONLY;
	assert_int_equal(run(c, rq, &rp), 0);
	rq->op = QTFS_OP_SETATTR;
	rq->node = file;
	rq->valid = QTFS_SET_MODE;
	assert_int_equal(run(c, rq, &rp), -EROFS);
	free(rq);
	conn_free(c);
}

static void test_qtfsd_whitelist_denies_outside_paths(void **state)
{
	struct qtfsd_conn *c = conn_new();
	struct qtfs_blob root = attach(c, exp_dir);
	struct qtfs_req *rq = req(QTFS_OP_MKDIR);
	struct qtfs_rep rp;

	rq->node = root;
	strcpy(rq->name, "newdir");
	rq->mode = 0755;
	assert_int_equal(run(c, rq, &rp), -EACCES);
	rq->op = QTFS_OP_UNLINK; /* [Unlink] with no Path=: denied everywhere */
	strcpy(rq->name, "file");
	assert_int_equal(run(c, rq, &rp), -EACCES);
	free(rq);
	conn_free(c);
}

static void test_qtfsd_reads_through_a_reopened_file_id(void **state)
{
	struct qtfsd_conn *c = conn_new();
	struct qtfs_blob root = attach(c, exp_dir), file;
	struct qtfs_req *rq = req(QTFS_OP_WRITE);
	struct qtfs_rep rp;
	void *to_free = NULL;

	assert_int_equal(lookup(c, &root, "file", &file), 0);
	/* an id this connection never opened: the server reopens it from node and flags,
	 * as after a reconnect */
	rq->fh.id = 99;
	rq->fh.flags = O_RDWR;
	rq->fh.node = file;
	rq->data = (const uint8_t *)"abc";
	rq->data_len = 3;
	assert_int_equal(run(c, rq, &rp), 0);
	assert_int_equal(rp.value, 3);
	rq->op = QTFS_OP_READ;
	rq->len = 10;
	memset(&rp, 0, sizeof(rp));
	qtfsd_execute(c, NULL, rq, &rp, &to_free);
	assert_int_equal(rp.status, 0);
	assert_int_equal(rp.data_len, 3);
	assert_memory_equal(rp.data, "abc", 3);
	free(to_free);
	free(rq);
	conn_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qtfsd_attach_refuses_paths_leaving_the_export),
		cmocka_unit_test(test_qtfsd_requests_before_attach_are_refused),
		cmocka_unit_test(test_qtfsd_lookup_returns_symlinks_unfollowed),
		cmocka_unit_test(test_qtfsd_forged_and_foreign_nodes_are_stale),
		cmocka_unit_test(test_qtfsd_rename_and_link_stay_in_the_export),
		cmocka_unit_test(test_qtfsd_read_only_export_refuses_changes),
		cmocka_unit_test(test_qtfsd_whitelist_denies_outside_paths),
		cmocka_unit_test(test_qtfsd_reads_through_a_reopened_file_id),
	};
	if (getuid() != 0) {
		printf("1..0 # SKIP qtfsd needs root (file handles)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
