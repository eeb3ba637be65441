/* Fuzz target: config_parse (INI through inih) on arbitrary bytes. A parsed config must
 * hold the invariants the getters rely on; a refused one must say why. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *const known[] = {
	"udsproxy.port", "udsproxy.addr", "rexec.*", "top", NULL,
};

static const uint8_t *input;
static size_t input_len;

/* Each field must be text of the input itself: nothing cut, joined or invented. */
static void check_in_input(const char *open, const char *field, const char *close)
{
	size_t lo = strlen(open), lf = strlen(field), lc = strlen(close);
	char *needle = malloc(lo + lf + lc + 1);

	if (!needle)
		return;
	memcpy(needle, open, lo);
	memcpy(needle + lo, field, lf);
	memcpy(needle + lo + lf, close, lc + 1);
	if (!memmem(input, input_len, needle, lo + lf + lc))
		abort();
	free(needle);
}

static void check_entry(const struct config *cfg, const struct config_entry *ent,
			unsigned prev_line)
{
	const struct config_entry *found;
	struct errmsg e = {{0}};
	const char *s;
	int64_t v;
	bool b;
	int ret;

	if (!ent || !ent->section || !ent->key || !ent->value)
		abort();
	if (!ent->key[0] || ent->line < 1 || ent->line < prev_line)
		abort();
	/* one line each: no line break survives into a field */
	if (strchr(ent->section, '\n') || strchr(ent->key, '\n') || strchr(ent->value, '\n'))
		abort();
	if (strlen(ent->section) > 49 || strlen(ent->key) > CONFIG_MAX_LINE ||
	    strlen(ent->value) > CONFIG_MAX_LINE)
		abort();
	if (ent->section[0])
		check_in_input("[", ent->section, "]");
	check_in_input("", ent->key, "");
	check_in_input("", ent->value, "");
	found = config_find(cfg, ent->section, ent->key);
	if (!found || found->line < ent->line)
		abort(); /* the last occurrence is at or after this one */

	ret = config_get_int(cfg, ent->section, ent->key, -1000, 1000, 7, &v, &e);
	if (ret == 0 && (v < -1000 || v > 1000))
		abort();
	if (ret != 0 && (ret != -EINVAL || !errmsg_str(&e)[0]))
		abort();
	ret = config_get_bool(cfg, ent->section, ent->key, false, &b, &e);
	if (ret != 0 && (ret != -EINVAL || !errmsg_str(&e)[0]))
		abort();
	if (config_get_str(cfg, ent->section, ent->key, NULL, &s, &e) || s != found->value)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errmsg e = {{0}};
	struct config *cfg;
	unsigned prev = 0;
	size_t i;

	input = data;
	input_len = size;
	errno = 0;
	cfg = config_parse((const char *)data, size, "fuzz.conf", &e);
	if (!cfg) {
		if (errno == 0 || strncmp(errmsg_str(&e), "fuzz.conf:", 10))
			abort();
		return 0;
	}
	for (i = 0; i < config_count(cfg); i++) {
		const struct config_entry *ent = config_entry_at(cfg, i);

		check_entry(cfg, ent, prev);
		prev = ent->line;
	}
	if (config_entry_at(cfg, config_count(cfg)))
		abort();
	if (config_check_known(cfg, known, &e) && !errmsg_str(&e)[0])
		abort();
	config_free(cfg);
	return 0;
}
