/* cli_fmt: virsh-shaped text for list, dominfo and domstate. */
#include <string.h>

#include "cli_fmt.h"

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

static int64_t num(json_object *o, const char *key, int64_t def)
{
	json_object *v;

	if (o && json_object_object_get_ex(o, key, &v) &&
	    (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return json_object_get_int64(v);
	return def;
}

static bool flag(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

void cli_fmt_list(FILE *f, json_object *result, bool name_only)
{
	json_object *arr = NULL;
	size_t n = 0;

	if (json_object_object_get_ex(result, "domains", &arr) &&
	    json_object_is_type(arr, json_type_array))
		n = json_object_array_length(arr);
	if (name_only) {
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s\n", str(json_object_array_get_idx(arr, i), "name"));
		fprintf(f, "\n");
		return;
	}
	fprintf(f, " %-5s %-30s %s\n", "Id", "Name", "State");
	fprintf(f, "----------------------------------------------------\n");
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(arr, i);
		int64_t id = num(d, "id", -1);
		char ids[24];

		if (id >= 0)
			snprintf(ids, sizeof(ids), "%lld", (long long)id);
		else
			strcpy(ids, "-");
		fprintf(f, " %-5s %-30s %s\n", ids, str(d, "name"), str(d, "state"));
	}
	fprintf(f, "\n");
}

void cli_fmt_dominfo(FILE *f, json_object *i)
{
	int64_t id = num(i, "id", -1);

	if (id >= 0)
		fprintf(f, "%-15s %lld\n", "Id:", (long long)id);
	else
		fprintf(f, "%-15s %s\n", "Id:", "-");
	fprintf(f, "%-15s %s\n", "Name:", str(i, "name"));
	fprintf(f, "%-15s %s\n", "UUID:", str(i, "uuid"));
	fprintf(f, "%-15s %s\n", "OS Type:", str(i, "os_type"));
	fprintf(f, "%-15s %s\n", "State:", str(i, "state"));
	fprintf(f, "%-15s %lld\n", "CPU(s):", (long long)num(i, "vcpus", 0));
	fprintf(f, "%-15s %lld KiB\n", "Max memory:", (long long)num(i, "max_memory_kib", 0));
	fprintf(f, "%-15s %lld KiB\n", "Used memory:", (long long)num(i, "used_memory_kib", 0));
	fprintf(f, "%-15s %s\n", "Persistent:", flag(i, "persistent") ? "yes" : "no");
	fprintf(f, "%-15s %s\n", "Autostart:", flag(i, "autostart") ? "enable" : "disable");
	fprintf(f, "%-15s %s\n", "Managed save:", "no");
	fprintf(f, "%-15s %s\n", "Security model:", "none");
	fprintf(f, "%-15s %s\n", "Security DOI:", "0");
	fprintf(f, "\n");
}

void cli_fmt_domstate(FILE *f, json_object *i, bool reason)
{
	if (reason && str(i, "reason")[0])
		fprintf(f, "%s (%s)\n\n", str(i, "state"), str(i, "reason"));
	else
		fprintf(f, "%s\n\n", str(i, "state"));
}
