/* help.h: `:help` pages and the man page, from help.def and builtins.def. */
#ifndef CAJAL_HELP_H
#define CAJAL_HELP_H

#include <stdbool.h>
#include <stdio.h>

/* The overview (no topic) or one topic's page; false when the topic is unknown
 * (a "did you mean" line is printed then). */
bool help_show(FILE *out, const char *topic);
/* Whether name (trimmed) is a topic, a kind of built-in or a built-in. */
bool help_has(const char *name);
/* The man page in roff, for `make install`. */
void help_man_page(FILE *out);
/* Topic names, for tab completion; NULL past the end. */
const char *help_topic_at(int i);

#endif
