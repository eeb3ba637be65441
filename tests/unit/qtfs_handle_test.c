/* Unit tests for qtfs-user/handle: blobs survive a restart and cannot be forged. */
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

#include "qtfs-user/handle.h"
#include "qtfs-user/resolve.h"

static char base[64], root[96];
static uint8_t key[QTFS_KEY_LEN];

static int setup(void **state)
{
	char p[256];
	int i;

	strcpy(base, "/tmp/qtfs_handle_XXXXXX");
	if (!mkdtemp(base))
		return -1;
	snprintf(root, sizeof(root), "%s/export", base);
	mkdir(root, 0755);
	snprintf(p, sizeof(p), "%s/f", root);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/outside", base);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	for (i = 0; i < QTFS_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	return system(cmd) == 0 ? 0 : -1;
}

static void store(struct qh_store *s, bool by_path)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(qh_init(s, fd, root, by_path, QTFS_RESOLVE_NO_MAGIC, key, 4), 0);
}

static void make_root_and_child(struct qh_store *s, struct qtfs_blob *rb, struct qtfs_blob *cb)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), cfd;

	assert_int_equal(qh_make(s, NULL, NULL, fd, rb), 0);
	cfd = openat(fd, "f", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	assert_true(cfd >= 0);
	assert_int_equal(qh_make(s, rb, "f", cfd, cb), 0);
	close(cfd);
	close(fd);
}

static void same_file(int fd, const char *path)
{
	struct stat a, b;

	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
}

static void check_survives_restart(bool by_path)
{
	struct qh_store s1, s2;
	struct qtfs_blob rb, cb;
	struct qh_ref ref;
	char p[256];

	store(&s1, by_path);
	make_root_and_child(&s1, &rb, &cb);
	qh_fini(&s1);
	store(&s2, by_path); /* a new server process with the same key */
	{
		/* as ATTACH does: naming the root registers its mount */
		struct qtfs_blob rb2;
		int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

		assert_int_equal(qh_make(&s2, NULL, NULL, fd, &rb2), 0);
		close(fd);
		assert_int_equal(rb2.len, rb.len);
		assert_memory_equal(rb2.data, rb.data, rb.len);
	}
	assert_int_equal(qh_get(&s2, &cb, &ref), 0);
	snprintf(p, sizeof(p), "%s/f", root);
	same_file(ref.fd, p);
	qh_put(&s2, &ref);
	qh_fini(&s2);
}

static void test_qtfs_handle_blobs_survive_a_restart(void **state)
{
	check_survives_restart(false);
}

static void test_qtfs_path_blobs_survive_a_restart(void **state)
{
	check_survives_restart(true);
}

static void test_qtfs_handle_forged_blob_is_stale(void **state)
{
	struct qh_store s;
	struct qtfs_blob rb, cb;
	struct qh_ref ref;
	unsigned i;

	store(&s, false);
	make_root_and_child(&s, &rb, &cb);
	for (i = 0; i < cb.len; i++) {
		struct qtfs_blob bad = cb;

		bad.data[i] ^= 0x40;
		assert_int_equal(qh_get(&s, &bad, &ref), -ESTALE);
	}
	cb.len--;
	assert_int_equal(qh_get(&s, &cb, &ref), -ESTALE);
	cb.len = 0;
	assert_int_equal(qh_get(&s, &cb, &ref), -ESTALE);
	qh_fini(&s);
}

static void test_qtfs_handle_other_key_makes_blobs_stale(void **state)
{
	struct qh_store s;
	struct qtfs_blob rb, cb;
	struct qh_ref ref;

	store(&s, false);
	make_root_and_child(&s, &rb, &cb);
	qh_fini(&s);
	key[0] ^= 1;
	store(&s, false);
	assert_int_equal(qh_get(&s, &cb, &ref), -ESTALE);
	qh_fini(&s);
	key[0] ^= 1;
}

static void test_qtfs_handle_cache_evicts_beyond_its_limit(void **state)
{
	struct qh_store s;
	struct qtfs_blob rb, cb;
	struct qh_ref ref;
	int i;

	store(&s, true);
	make_root_and_child(&s, &rb, &cb);
	for (i = 0; i < 50; i++) {
		assert_int_equal(qh_get(&s, (i & 1) ? &rb : &cb, &ref), 0);
		qh_put(&s, &ref);
	}
	assert_true(s.count <= s.max);
	qh_fini(&s);
}

static void test_qtfs_handle_key_file_is_created_once(void **state)
{
	uint8_t k1[QTFS_KEY_LEN], k2[QTFS_KEY_LEN];
	struct errmsg e = {{0}};
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/state/handle.key", base);
	assert_int_equal(qh_load_key(p, k1, &e), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(qh_load_key(p, k2, &e), 0);
	assert_memory_equal(k1, k2, QTFS_KEY_LEN);
	truncate(p, 3);
	assert_int_equal(qh_load_key(p, k2, &e), -EINVAL);
	assert_non_null(strstr(errmsg_str(&e), "32 bytes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qtfs_handle_blobs_survive_a_restart),
		cmocka_unit_test(test_qtfs_path_blobs_survive_a_restart),
		cmocka_unit_test(test_qtfs_handle_forged_blob_is_stale),
		cmocka_unit_test(test_qtfs_handle_other_key_makes_blobs_stale),
		cmocka_unit_test(test_qtfs_handle_cache_evicts_beyond_its_limit),
		cmocka_unit_test(test_qtfs_handle_key_file_is_created_once),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
