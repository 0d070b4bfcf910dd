/* The C ABI of canopy-agent's shared-object modules: a module written in C
 * (or anything that exports C symbols), built as a .so and named by a
 * module file in the agent's --conf_dir:
 *
 *   # /etc/canopy-agent/conf.d/example.conf
 *   type = so
 *   path = /usr/lib/canopy-agent/example.so
 *   options = greeting=hello
 *   interval = 10s
 *
 * A module exports three functions:
 *
 *   int canopy_module_init(const char* options, void** state);
 *       Called once, when the module is loaded, with the module file's
 *       `options` value ("" when there is none). Return 0 on success (and
 *       set *state to anything the module likes, handed back to the other
 *       two), non-zero to refuse: the module is then logged and skipped.
 *
 *   int canopy_module_collect(void* state, char* json_out, size_t cap);
 *       Called every `interval` (default: the agent's interval) on the
 *       module's own thread, one call at a time. Write a JSON object of at
 *       most `cap` bytes (NUL-terminated) into json_out and return its
 *       length. The object is merged into the agent's tree under
 *       host,<host>,... (or under the module file's `prefix`):
 *       {"mymodule": {"queue": 12, "defaultaction": "last"}}. Return 0 for
 *       nothing this time, a negative number for an error (logged, the
 *       output ignored), or a number >= cap when the object does not fit:
 *       the agent calls again at once with a buffer of that many bytes plus
 *       one (up to CANOPY_MODULE_MAX_OUTPUT).
 *
 *   void canopy_module_cleanup(void* state);
 *       Called once when the module is unloaded (its file removed, renamed
 *       to .off or changed, or the agent stops), after the last collect.
 *
 * The module runs inside the agent: a collect that never returns holds its
 * own thread (never the agent's interval) and keeps the module from being
 * unloaded. Example: agent/examples/example_module.c.
 */
#ifndef CANOPY_AGENT_MODULE_H_
#define CANOPY_AGENT_MODULE_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CANOPY_MODULE_MAX_OUTPUT (1024 * 1024)

int canopy_module_init(const char* options, void** state);
int canopy_module_collect(void* state, char* json_out, size_t cap);
void canopy_module_cleanup(void* state);

typedef int (*canopy_module_init_fn)(const char*, void**);
typedef int (*canopy_module_collect_fn)(void*, char*, size_t);
typedef void (*canopy_module_cleanup_fn)(void*);

#ifdef __cplusplus
}
#endif

#endif /* CANOPY_AGENT_MODULE_H_ */
