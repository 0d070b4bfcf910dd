/* An example shared-object module for canopy-agent (the C ABI of
 * include/canopy/agent_module.h). Built by CMake as canopy-example-module
 * (build/lib/canopy-example-module.so); load it with a module file:
 *
 *   type = so
 *   path = /path/to/canopy-example-module.so
 *   options = greeting=hello
 *
 * Each collect writes host,<h>,example,{calls,greeting_len} and the
 * greeting itself as a text leaf. options "fail" makes init refuse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canopy/agent_module.h"

struct example_state {
  long calls;
  char greeting[64];
};

int canopy_module_init(const char* options, void** state) {
  struct example_state* s;
  if (options != NULL && strcmp(options, "fail") == 0) return 1;
  s = calloc(1, sizeof *s);
  if (s == NULL) return 1;
  snprintf(s->greeting, sizeof s->greeting, "%s", "hello");
  if (options != NULL && strncmp(options, "greeting=", 9) == 0) {
    /* Letters, digits, '-' and '_' only: no JSON escaping needed. */
    size_t n = 0;
    const char* g = options + 9;
    while (g[n] != 0 && n + 1 < sizeof s->greeting &&
           ((g[n] >= 'a' && g[n] <= 'z') || (g[n] >= 'A' && g[n] <= 'Z') ||
            (g[n] >= '0' && g[n] <= '9') || g[n] == '-' || g[n] == '_')) {
      s->greeting[n] = g[n];
      ++n;
    }
    s->greeting[n] = 0;
  }
  *state = s;
  return 0;
}

int canopy_module_collect(void* state, char* json_out, size_t cap) {
  struct example_state* s = state;
  ++s->calls;
  /* snprintf returns the length it needed: >= cap asks for a larger
   * buffer, as the ABI says. */
  return snprintf(json_out, cap,
                  "{\"example\": {\"defaultaction\": \"last\", \"calls\": %ld, "
                  "\"greeting\": \"%s\", \"greeting_len\": %zu}}",
                  s->calls, s->greeting, strlen(s->greeting));
}

void canopy_module_cleanup(void* state) { free(state); }
