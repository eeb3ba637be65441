/* qtfs_fsx: an fsx-style random workload checker. Applies random writes, reads, truncates,
 * shared-mmap writes and reads, fallocates, fsyncs and reopens to one file, keeps a model
 * of its bytes in memory and verifies every read (and the whole file at the end).
 *   qtfs_fsx FILE OPS SEED [MODEL_OUT]    exit 0 on success, 1 on the first mismatch */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXLEN (512 * 1024)
#define MAXIO  (64 * 1024)

static uint8_t model[MAXLEN], buf[MAXLEN];
static size_t size;
static uint64_t rng;
static long op;
static const char *path;
static int fd = -1;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *what)
{
	fprintf(stderr, "qtfs_fsx: op %ld: %s: %s\n", op, what, strerror(errno));
	exit(1);
}

static void check(const uint8_t *got, size_t off, size_t len, const char *what)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (got[i] != model[off + i]) {
			fprintf(stderr,
				"qtfs_fsx: op %ld: %s: byte %zu is %#x, expected %#x (size %zu)\n",
				op, what, off + i, got[i], model[off + i], size);
			exit(1);
		}
	}
}

static void fill(uint8_t *p, size_t len)
{
	size_t i;
	uint8_t v = (uint8_t)rnd();

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(v + i * 7 + (op & 0xff));
}

static void do_write(void)
{
	size_t off = rnd() % MAXLEN, len = 1 + rnd() % MAXIO;
	ssize_t n;

	if (off + len > MAXLEN)
		len = MAXLEN - off;
	fill(model + off, len);
	n = pwrite(fd, model + off, len, (off_t)off);
	if (n != (ssize_t)len)
		die("pwrite");
	if (off > size)
		memset(model + size, 0, off - size); /* the hole reads as zeros */
	if (off + len > size)
		size = off + len;
}

static void do_read(void)
{
	size_t off, len;
	ssize_t n;

	if (size == 0)
		return;
	off = rnd() % size;
	len = 1 + rnd() % MAXIO;
	if (off + len > size)
		len = size - off;
	n = pread(fd, buf, len, (off_t)off);
	if (n != (ssize_t)len)
		die("pread short");
	check(buf, off, len, "read");
}

static void do_truncate(void)
{
	size_t ns = rnd() % MAXLEN;

	if (ftruncate(fd, (off_t)ns) < 0)
		die("ftruncate");
	if (ns > size)
		memset(model + size, 0, ns - size);
	else
		memset(model + ns, 0, size - ns);
	size = ns;
}

static void do_mapwrite(void)
{
	size_t pg = 4096, off, len, moff;
	uint8_t *m;

	if (size < 2)
		return;
	off = rnd() % size;
	len = 1 + rnd() % (MAXIO / 4);
	if (off + len > size)
		len = size - off;
	moff = off & ~(pg - 1);
	m = mmap(NULL, off + len - moff, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)moff);
	if (m == MAP_FAILED)
		die("mmap write");
	fill(model + off, len);
	memcpy(m + (off - moff), model + off, len);
	if (rnd() % 2 && msync(m, off + len - moff, MS_SYNC) < 0)
		die("msync");
	if (munmap(m, off + len - moff) < 0)
		die("munmap");
}

static void do_mapread(void)
{
	size_t pg = 4096, off, len, moff;
	uint8_t *m;

	if (size < 2)
		return;
	off = rnd() % size;
	len = 1 + rnd() % (MAXIO / 4);
	if (off + len > size)
		len = size - off;
	moff = off & ~(pg - 1);
	m = mmap(NULL, off + len - moff, PROT_READ, MAP_SHARED, fd, (off_t)moff);
	if (m == MAP_FAILED)
		die("mmap read");
	check(m + (off - moff), off, len, "mapread");
	munmap(m, off + len - moff);
}

static void do_fallocate(void)
{
	size_t off = rnd() % MAXLEN, len = 1 + rnd() % MAXIO;

	if (off + len > MAXLEN)
		len = MAXLEN - off;
	if (fallocate(fd, 0, (off_t)off, (off_t)len) < 0) {
		if (errno == EOPNOTSUPP)
			return;
		die("fallocate");
	}
	if (off + len > size) {
		memset(model + size, 0, off + len - size);
		size = off + len;
	}
}

static void reopen(void)
{
	if (fd >= 0 && close(fd) < 0)
		die("close");
	fd = open(path, O_RDWR);
	if (fd < 0)
		die("open");
}

static void verify_all(const char *what)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		die("fstat");
	if ((size_t)st.st_size != size) {
		fprintf(stderr, "qtfs_fsx: op %ld: %s: size %lld, expected %zu\n", op, what,
			(long long)st.st_size, size);
		exit(1);
	}
	n = pread(fd, buf, size, 0);
	if (n != (ssize_t)size)
		die("pread all");
	check(buf, 0, size, what);
}

int main(int argc, char **argv)
{
	long ops, counts[8] = {0};
	FILE *f;

	if (argc < 4) {
		fprintf(stderr, "usage: qtfs_fsx FILE OPS SEED [MODEL_OUT]\n");
		return 2;
	}
	path = argv[1];
	ops = atol(argv[2]);
	rng = strtoull(argv[3], NULL, 0) | 1;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("create");
	for (op = 0; op < ops; op++) {
		unsigned k = rnd() % 100;

		if (k < 30) {
			do_write();
			counts[0]++;
		} else if (k < 55) {
			do_read();
			counts[1]++;
		} else if (k < 62) {
			do_truncate();
			counts[2]++;
		} else if (k < 74) {
			do_mapwrite();
			counts[3]++;
		} else if (k < 84) {
			do_mapread();
			counts[4]++;
		} else if (k < 91) {
			do_fallocate();
			counts[5]++;
		} else if (k < 92) {
			/* rare: each one is a real flush on the host's disk */
			if ((rnd() & 1 ? fdatasync(fd) : fsync(fd)) < 0)
				die("fsync");
			counts[6]++;
		} else if (k < 96) {
			do_read();
			counts[1]++;
		} else {
			reopen();
			counts[7]++;
		}
	}
	if (fsync(fd) < 0)
		die("final fsync");
	verify_all("final check");
	reopen();
	verify_all("check after reopen");
	close(fd);
	if (argc > 4) {
		f = fopen(argv[4], "wb");
		if (!f || fwrite(model, 1, size, f) != size || fclose(f))
			die("model out");
	}
	printf("qtfs_fsx: %ld ops ok (write %ld read %ld truncate %ld mapwrite %ld mapread %ld "
	       "fallocate %ld fsync %ld reopen %ld), final size %zu\n",
	       ops, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6],
	       counts[7], size);
	return 0;
}
