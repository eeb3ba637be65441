/* cli_fmt: the splitvirt CLI's virsh-shaped text output from dpud's JSON results. */
#ifndef SV_DPUD_CLI_FMT_H
#define SV_DPUD_CLI_FMT_H

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

/* `virsh list` table: " Id    Name                           State", dashes, rows, blank line. */
void cli_fmt_list(FILE *f, json_object *result, bool name_only);
/* `virsh dominfo`: "%-15s %s" lines. */
void cli_fmt_dominfo(FILE *f, json_object *info);
/* `virsh domstate [--reason]`: "running" or "running (booted)", then a blank line. */
void cli_fmt_domstate(FILE *f, json_object *info, bool reason);

#endif
