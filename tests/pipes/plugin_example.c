/* A tiny shared-object pipe for tests/pipes/plugin_test.cc: counts POST
 * requests under <prefix>,posts and their paths' visitors as a set. */
#include <stdlib.h>
#include <string.h>

#include "canopy/pipe_plugin.h"

struct state {
  char key[256];
  size_t key_len;
  int processed;
};

int canopy_pipe_init(const struct canopy_pipe_config* config, void** state) {
  if (config->abi_version != CANOPY_PIPE_ABI_VERSION) return 1;
  struct state* s = calloc(1, sizeof(struct state));
  if (s == NULL) return 2;
  s->key_len = strlen(config->prefix);
  if (s->key_len > 200) s->key_len = 200;
  memcpy(s->key, config->prefix, s->key_len);
  memcpy(s->key + s->key_len, ",posts", 6);
  s->key_len += 6;
  *state = s;
  return 0;
}

void canopy_pipe_process(void* state, const struct canopy_log_record* r,
                         canopy_emit_fn emit, void* ctx) {
  struct state* s = state;
  s->processed++;
  if (r->method.size == 4 && memcmp(r->method.data, "POST", 4) == 0) {
    emit(ctx, s->key, s->key_len, CANOPY_ACTION_ADD, 1, NULL, 0);
    /* A comma inside a segment cannot be expressed: "a,b" is two. */
    emit(ctx, "plugin,posters", 14, CANOPY_ACTION_SET, 0, r->remote_addr.data,
         r->remote_addr.size);
  }
}

void canopy_pipe_cleanup(void* state) { free(state); }
