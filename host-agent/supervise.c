/* supervise: child daemons started, reaped by pid (never waitpid(-1)), restarted with backoff. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "supervise.h"
#include "util.h"

void sup_init(struct sup *s)
{
	memset(s, 0, sizeof(*s));
	s->backoff_min_ms = 200;
	s->backoff_max_ms = 30000;
	s->stable_ms = 10000;
}

void sup_free(struct sup *s)
{
	for (size_t i = 0; i < s->n; i++)
		for (size_t k = 0; s->c[i].argv[k]; k++)
			free(s->c[i].argv[k]);
	s->n = 0;
}

int sup_split(const char *cmd, char **argv, size_t max, struct errmsg *e)
{
	size_t n = 0, len = strlen(cmd);
	char *word = malloc(len + 1);
	const char *p = cmd;

	if (!word)
		return -ENOMEM;
	for (;;) {
		size_t w = 0;
		char q = 0;
		bool have = false;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		for (; *p && (q || (*p != ' ' && *p != '\t')); p++) {
			if (!q && (*p == '\'' || *p == '"')) {
				q = *p;
				have = true;
			} else if (q && *p == q) {
				q = 0;
			} else {
				word[w++] = *p;
				have = true;
			}
		}
		if (q) {
			errmsg_set(e, "'%s': unterminated quote", cmd);
			goto fail;
		}
		if (!have)
			continue;
		if (n >= max) {
			errmsg_set(e, "'%.40s...': more than %zu words", cmd, max);
			goto fail;
		}
		word[w] = '\0';
		argv[n] = str_dup(word);
		if (!argv[n])
			goto fail;
		n++;
	}
	argv[n] = NULL;
	free(word);
	if (n == 0) {
		errmsg_set(e, "empty command line");
		return -EINVAL;
	}
	return 0;
fail:
	while (n)
		free(argv[--n]);
	argv[0] = NULL;
	free(word);
	return -EINVAL;
}

int sup_add(struct sup *s, const char *name, const char *cmdline, const char *ready_path,
	    struct errmsg *e)
{
	struct sup_child *c;
	int r;

	if (s->n >= SUP_MAX_CHILDREN) {
		errmsg_set(e, "%s: more than %d children", name, SUP_MAX_CHILDREN);
		return -EINVAL;
	}
	c = &s->c[s->n];
	memset(c, 0, sizeof(*c));
	if (str_copy(c->name, sizeof(c->name), name) ||
	    str_copy(c->ready_path, sizeof(c->ready_path), ready_path ? ready_path : "")) {
		errmsg_set(e, "%s: name or ready path too long", name);
		return -EINVAL;
	}
	r = sup_split(cmdline, c->argv, SUP_MAX_ARGS, e);
	if (r) {
		errmsg_prefix(e, "%s", name);
		return r;
	}
	if (c->argv[0][0] != '/') {
		errmsg_set(e, "%s: program '%s' is not an absolute path", name, c->argv[0]);
		for (size_t k = 0; c->argv[k]; k++)
			free(c->argv[k]);
		return -EINVAL;
	}
	c->backoff_ms = s->backoff_min_ms;
	s->n++;
	return 0;
}

int sup_add_args(struct sup *s, size_t i, const char *cmdline, struct errmsg *e)
{
	char *words[SUP_MAX_ARGS + 1];
	size_t n = 0, k;
	int r;

	if (i >= s->n)
		return -EINVAL;
	while (s->c[i].argv[n])
		n++;
	r = sup_split(cmdline, words, SUP_MAX_ARGS - n, e);
	if (r) {
		errmsg_prefix(e, "%s", s->c[i].name);
		return r;
	}
	for (k = 0; words[k]; k++)
		s->c[i].argv[n + k] = words[k];
	s->c[i].argv[n + k] = NULL;
	return 0;
}

static void start_child(struct sup *s, struct sup_child *c)
{
	pid_t pid;

	if (access(c->argv[0], X_OK) < 0) {
		log_error("%s: cannot run %s: %s; retrying in %llu ms", c->name, c->argv[0],
			  strerror(errno), (unsigned long long)c->backoff_ms);
		c->next_start_ms = now_ms() + c->backoff_ms;
		c->backoff_ms = c->backoff_ms * 2 > s->backoff_max_ms ? s->backoff_max_ms
								      : c->backoff_ms * 2;
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_error("%s: fork: %s", c->name, strerror(errno));
		c->next_start_ms = now_ms() + c->backoff_ms;
		return;
	}
	if (pid == 0) {
		sigset_t all;

		/*
		 * Children go with their supervisor (a restarted one starts them
		 * afresh) instead of lingering as orphans holding ports and mounts.
		 */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(127);
		/* The parent may block signals for a signalfd; the child starts clean. */
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		int fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			if (fd > 0)
				close(fd);
		}
		execv(c->argv[0], c->argv);
		fprintf(stderr, "%s: exec %s: %s\n", c->name, c->argv[0], strerror(errno));
		_exit(127);
	}
	c->pid = pid;
	c->started_ms = now_ms();
	log_info("%s: started %s (pid %d)%s", c->name, c->argv[0], (int)pid,
		 c->restarts ? " (restart)" : "");
}

void sup_poll(struct sup *s)
{
	uint64_t now = now_ms();

	for (size_t i = 0; i < s->n; i++) {
		struct sup_child *c = &s->c[i];
		int status;

		if (c->pid > 0) {
			pid_t w = waitpid(c->pid, &status, WNOHANG);

			if (w != c->pid)
				continue;
			if (WIFEXITED(status))
				log_warn("%s: pid %d exited with status %d", c->name, (int)c->pid,
					 WEXITSTATUS(status));
			else if (WIFSIGNALED(status))
				log_warn("%s: pid %d killed by signal %d (%s)", c->name,
					 (int)c->pid, WTERMSIG(status),
					 strsignal(WTERMSIG(status)));
			c->pid = 0;
			c->restarts++;
			if (now - c->started_ms >= s->stable_ms)
				c->backoff_ms = s->backoff_min_ms;
			c->next_start_ms = now + c->backoff_ms;
			log_info("%s: restarting in %llu ms (restart %u)", c->name,
				 (unsigned long long)c->backoff_ms, c->restarts);
			c->backoff_ms = c->backoff_ms * 2 > s->backoff_max_ms ? s->backoff_max_ms
									      : c->backoff_ms * 2;
		}
		if (c->pid == 0 && now >= c->next_start_ms)
			start_child(s, c);
	}
}

int sup_wait_ready(struct sup *s, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		bool all = true;

		sup_poll(s);
		for (size_t i = 0; i < s->n; i++)
			if (s->c[i].ready_path[0] && access(s->c[i].ready_path, F_OK) < 0)
				all = false;
		if (all)
			return 0;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(20000);
	}
}

void sup_stop_all(struct sup *s, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	bool any;

	for (size_t i = 0; i < s->n; i++)
		if (s->c[i].pid > 0)
			kill(s->c[i].pid, SIGTERM);
	do {
		any = false;
		for (size_t i = 0; i < s->n; i++) {
			int status;

			if (s->c[i].pid <= 0)
				continue;
			if (waitpid(s->c[i].pid, &status, WNOHANG) == s->c[i].pid)
				s->c[i].pid = 0;
			else
				any = true;
		}
		if (any)
			usleep(20000);
	} while (any && now_ms() < deadline);
	for (size_t i = 0; i < s->n; i++) {
		if (s->c[i].pid > 0) {
			log_warn("%s: did not stop; killing", s->c[i].name);
			kill(s->c[i].pid, SIGKILL);
			waitpid(s->c[i].pid, NULL, 0);
			s->c[i].pid = 0;
		}
	}
}

int sup_load_config(struct sup *s, const struct config *cfg, struct errmsg *e)
{
	for (size_t i = 0; i < config_count(cfg); i++) {
		const struct config_entry *ent = config_entry_at(cfg, i);
		const struct config_entry *ready;
		int r;

		if (!str_has_prefix(ent->section, "child."))
			continue;
		if (strcmp(ent->key, "exec") && strcmp(ent->key, "ready") &&
		    strcmp(ent->key, "args")) {
			errmsg_set(e, "%s:%u: [%s] %s: unknown key", config_name(cfg), ent->line,
				   ent->section, ent->key);
			return -EINVAL;
		}
		if (strcmp(ent->key, "exec") != 0)
			continue;
		for (size_t k = 0; k < s->n; k++) {
			if (strcmp(s->c[k].name, ent->section + 6) == 0) {
				errmsg_set(e, "%s:%u: [%s] given twice", config_name(cfg),
					   ent->line, ent->section);
				return -EINVAL;
			}
		}
		ready = config_find(cfg, ent->section, "ready");
		r = sup_add(s, ent->section + 6, ent->value, ready ? ready->value : NULL, e);
		if (r) {
			errmsg_prefix(e, "%s:%u", config_name(cfg), ent->line);
			return r;
		}
		for (size_t k = 0; k < config_count(cfg); k++) {
			const struct config_entry *a = config_entry_at(cfg, k);

			if (strcmp(a->section, ent->section) || strcmp(a->key, "args"))
				continue;
			r = sup_add_args(s, s->n - 1, a->value, e);
			if (r) {
				errmsg_prefix(e, "%s:%u", config_name(cfg), a->line);
				return r;
			}
		}
	}
	for (size_t i = 0; i < config_count(cfg); i++) {
		const struct config_entry *ent = config_entry_at(cfg, i);
		bool found = false;

		if (!str_has_prefix(ent->section, "child."))
			continue;
		for (size_t k = 0; k < s->n; k++)
			if (strcmp(s->c[k].name, ent->section + 6) == 0)
				found = true;
		if (!found) {
			errmsg_set(e, "%s:%u: [%s]: exec missing", config_name(cfg), ent->line,
				   ent->section);
			return -EINVAL;
		}
	}
	return 0;
}
