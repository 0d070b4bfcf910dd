/* The C ABI of shared-object pipes: a pipe written in C (or anything that
 * exports C symbols), built as a .so and loaded from a directory by
 * canopy::LoadPipePlugins (canopy/pipe.h). Plain C: include it from C or C++.
 *
 * A plug-in exports three functions:
 *
 *   int  canopy_pipe_init(const struct canopy_pipe_config* config,
 *                         void** state);
 *       Called once. Return 0 on success (and set *state to anything the
 *       plug-in likes, handed back to the other two), non-zero to refuse:
 *       the pipe is then not loaded. config->abi_version is
 *       CANOPY_PIPE_ABI_VERSION; refuse a version you do not know.
 *
 *   void canopy_pipe_process(void* state, const struct canopy_log_record* r,
 *                            canopy_emit_fn emit, void* emit_ctx);
 *       Called once per parsed log line, on one thread at a time. Call
 *       emit(emit_ctx, key, key_len, action, value, member, member_len) for
 *       each update: key is a comma key (each segment is sanitized by canopy:
 *       commas inside a segment cannot be expressed, so split yourself),
 *       action a CANOPY_ACTION_*, member the set member (NULL otherwise).
 *       Every pointer in `r` is valid during the call only.
 *
 *   void canopy_pipe_cleanup(void* state);
 *       Called once, after the last process.
 *
 * Example (tests/pipes/plugin_example.c):
 *
 *   void canopy_pipe_process(void* s, const struct canopy_log_record* r,
 *                            canopy_emit_fn emit, void* ctx) {
 *     if (r->method.size == 4 && memcmp(r->method.data, "POST", 4) == 0)
 *       emit(ctx, "web,posts", 9, CANOPY_ACTION_ADD, 1, NULL, 0);
 *   }
 */
#ifndef CANOPY_PIPE_PLUGIN_H_
#define CANOPY_PIPE_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CANOPY_PIPE_ABI_VERSION 1

/* Actions, as in canopy/action.h. */
#define CANOPY_ACTION_LAST 1
#define CANOPY_ACTION_ADD 2
#define CANOPY_ACTION_AVG 3
#define CANOPY_ACTION_MAX 4
#define CANOPY_ACTION_MIN 5
#define CANOPY_ACTION_TIMER 6
#define CANOPY_ACTION_SET 7

/* Bytes, not NUL-terminated. An absent field has size 0. */
struct canopy_str {
  const char* data;
  size_t size;
};

struct canopy_log_record {
  struct canopy_str remote_addr;
  struct canopy_str remote_user;
  int64_t time; /* epoch seconds; 0 = not in the line */
  struct canopy_str method;
  struct canopy_str target;
  struct canopy_str path;
  struct canopy_str protocol;
  int status;
  int64_t bytes;
  struct canopy_str referer;
  struct canopy_str user_agent;
  struct canopy_str host;
  int has_request_time;
  double request_time; /* seconds */
  int has_upstream_time;
  double upstream_time; /* seconds */
};

struct canopy_pipe_config {
  int abi_version;    /* CANOPY_PIPE_ABI_VERSION */
  const char* name;   /* the pipe's name: the file stem */
  const char* prefix; /* the <p> of the built-in keys, e.g. "web" */
};

typedef void (*canopy_emit_fn)(void* emit_ctx, const char* key, size_t key_len,
                               int action, double value, const char* member,
                               size_t member_len);

typedef int (*canopy_pipe_init_fn)(const struct canopy_pipe_config* config,
                                   void** state);
typedef void (*canopy_pipe_process_fn)(void* state,
                                       const struct canopy_log_record* r,
                                       canopy_emit_fn emit, void* emit_ctx);
typedef void (*canopy_pipe_cleanup_fn)(void* state);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CANOPY_PIPE_PLUGIN_H_ */
