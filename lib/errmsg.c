/* errmsg: formatting of the one-line failure message; long messages end in "...". */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errmsg.h"

/* Marks a message that did not fit so a reader knows something was cut. */
static void errmsg_mark_truncated(struct errmsg *e)
{
	size_t n = sizeof(e->text);

	memcpy(e->text + n - 4, "...", 4);
}

__attribute__((format(printf, 2, 0))) static void errmsg_vset(struct errmsg *e, const char *fmt,
							      va_list ap)
{
	int n;

	n = vsnprintf(e->text, sizeof(e->text), fmt, ap);
	if (n < 0) {
		snprintf(e->text, sizeof(e->text), "(unformattable message)");
		return;
	}
	if ((size_t)n >= sizeof(e->text))
		errmsg_mark_truncated(e);
}

void errmsg_set(struct errmsg *e, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	errmsg_vset(e, fmt, ap);
	va_end(ap);
}

void errmsg_prefix(struct errmsg *e, const char *fmt, ...)
{
	struct errmsg old;
	struct errmsg pre;
	va_list ap;
	int n;

	if (!e)
		return;
	memcpy(&old, e, sizeof(old));
	old.text[sizeof(old.text) - 1] = '\0';
	va_start(ap, fmt);
	errmsg_vset(&pre, fmt, ap);
	va_end(ap);
	if (old.text[0] == '\0') {
		memcpy(e, &pre, sizeof(pre));
		return;
	}
	n = snprintf(e->text, sizeof(e->text), "%s: %s", pre.text, old.text);
	if (n < 0 || (size_t)n >= sizeof(e->text))
		errmsg_mark_truncated(e);
}

const char *errmsg_str(const struct errmsg *e)
{
	if (!e)
		return "";
	/* The buffer may come from a caller that never initialised it fully. */
	if (memchr(e->text, '\0', sizeof(e->text)) == NULL)
		return "";
	return e->text;
}
